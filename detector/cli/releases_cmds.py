"""``detector releases list|show|verify``: read a directory of release records (CONTRACTS §6).

Records are written by ``detector verdict --record DIR`` at ``DIR/<service>/<version>.json``;
every command here reads ``releases/`` unless told another directory.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from detector.cli.errors import EXIT_FINDINGS, fail, one_line_errors
from detector.cli.releases_render import render_list, render_show, summary_row
from detector.config import load_settings
from detector.errors import UsageError
from detector.terminal import printable
from detector.verdict.record import (
    KEY_ENV,
    KEY_FILE_ENV,
    RecordError,
    check_file,
    dumps,
    iter_records,
    read_record,
    record_path,
    signing_key,
)

DEFAULT_DIR = Path("releases")

releases_app = typer.Typer(
    name="releases",
    help=f"Read, show and verify release records (default directory: {DEFAULT_DIR}/).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="TOML or YAML config file: checked, but no setting applies here.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


@releases_app.command("list", epilog="""Examples:\n
  detector releases list\n
  detector releases list /srv/releases --service payments\n
  detector releases list --json | jq -r 'select(.verdict != "pass") | .version'""")
@one_line_errors
def list_releases(
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", show_default=False,
        help=f"Directory of release records (default: {DEFAULT_DIR}/).")] = DEFAULT_DIR,
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per record (service, version, deployed_at, verdict, "
                       "score, failing, digest, path).")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """One line per release record, oldest deploy first within a service.

    Columns: service, version, deploy time, verdict, score, failing checks, digest.
    """
    load_settings(config)
    rows, unreadable = [], 0
    for path in iter_records(directory):
        try:
            record = read_record(path)
        except RecordError as exc:  # say it, show the others, exit 2 at the end
            sys.stderr.write(f"detector: warning: {printable(str(exc))}\n")
            unreadable += 1
            continue
        if service is None or record.get("service") == service:
            rows.append(summary_row(record, path))
    rows.sort(key=lambda r: (str(r["service"]), str(r["deployed_at"] or ""), str(r["version"])))
    if as_json:
        sys.stdout.writelines(orjson.dumps(row).decode() + "\n" for row in rows)
    else:
        render_list(rows, sys.stdout)
    if unreadable:
        raise fail(f"{unreadable} record file(s) under {directory} could not be read "
                   "(see above)")


@releases_app.command("show", epilog=f"""Examples:\n
  detector releases show payments 2.32.0\n
  detector releases show payments 2.32.0 /srv/releases --json | jq .checks\n
  detector releases show {DEFAULT_DIR}/payments/2.32.0.json""")
@one_line_errors
def show_release(
    service: Annotated[str, typer.Argument(
        metavar="SERVICE|PATH", show_default=False,
        help="A service (with VERSION), or the path of one record file.")],
    version: Annotated[str | None, typer.Argument(
        metavar="VERSION", show_default=False, help="The version of SERVICE.")] = None,
    directory: Annotated[Path | None, typer.Argument(
        metavar="DIR", show_default=False,
        help=f"Directory of release records (default: {DEFAULT_DIR}/).")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="The record itself (canonical JSON).")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """One release record: verdict, windows, traffic and the checks that did not pass.

    Each of those checks, worst first: route, numbers, interval, MDE and incidents.
    """
    load_settings(config)
    path = _record_file(service, version, directory)
    record = read_record(path)
    if as_json:
        try:
            sys.stdout.write(dumps(record).decode() + "\n")
        except ValueError as exc:
            raise UsageError(f"{path}: {exc}") from None
        return
    render_show(record, sys.stdout)


@releases_app.command("verify", epilog=f"""Examples:\n
  detector releases verify\n
  detector releases verify /srv/releases --key-file /run/secrets/record.key\n
  detector releases verify {DEFAULT_DIR}/payments/2.32.0.json""")
@one_line_errors
def verify_releases(
    targets: Annotated[list[Path] | None, typer.Argument(
        metavar="DIR|FILE", show_default=False,
        help=f"Record directories or files (default: {DEFAULT_DIR}/).")] = None,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", metavar="FILE",
        help=f"HMAC key of the signatures (else {KEY_ENV} or {KEY_FILE_ENV}). Without "
             "one, a signed record cannot be verified.")] = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Recompute the digest and signature of every record; exit 1 on any mismatch.

    Each bad record is listed on one line; exit 0 says how many were verified.
    """
    load_settings(config)
    key = signing_key(key_file)
    checked, bad = 0, 0
    for path, root in _record_files(targets or [DEFAULT_DIR]):
        checked += 1
        problems = check_file(path, key, root)
        if problems:
            bad += 1
            sys.stdout.write(printable(f"FAILED {path}: {'; '.join(problems)}") + "\n")
    if not checked:
        raise fail(f"no release records in {', '.join(str(t) for t in targets or [DEFAULT_DIR])}")
    if bad:
        raise fail(f"{bad} of {checked} release records failed verification", EXIT_FINDINGS)
    how = "digests and signatures" if key is not None else "digests only: no key given"
    sys.stdout.write(f"verified {checked} release record{'s' if checked != 1 else ''} "
                     f"({how})\n")


def _record_file(service: str, version: str | None, directory: Path | None) -> Path:
    if version is None:
        if directory is not None:  # cannot happen from the command line: DIR follows VERSION
            raise UsageError("give SERVICE VERSION [DIR], or the PATH of one record file")
        path = Path(service)
        if path.is_dir():
            raise UsageError(f"{path} is a directory: give SERVICE VERSION [DIR] or a record file")
        return path
    root = directory if directory is not None else DEFAULT_DIR
    path = record_path(root, service, version)
    if not path.is_file():
        raise UsageError(f"no record of {service} {version} in {root} (no file {path})")
    return path


def _record_files(targets: list[Path]) -> list[tuple[Path, Path | None]]:
    """(file, directory it was found in or None), each file once, in the order given."""
    seen: dict[Path, Path | None] = {}
    for target in targets:
        if target.is_dir():
            for path in iter_records(target):
                seen.setdefault(path, target)
        elif target.exists():
            seen.setdefault(target, None)
        else:
            raise RecordError(f"cannot read {target}: No such file or directory")
    return list(seen.items())
