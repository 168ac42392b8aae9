"""``detector suppress add|list|remove``: edit the suppression file (CONTRACTS §7)."""

from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer

from detector.cli.errors import one_line_errors
from detector.errors import UsageError

DEFAULT_FILE = Path("suppressions.toml")

suppress_app = typer.Typer(
    name="suppress",
    help="Edit the suppression rules and maintenance windows (the service re-reads them).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FileOpt = Annotated[Path | None, typer.Option(
    "--file", "-f", help="Suppression file, TOML or YAML (default: \\[service] suppressions "
                         f"of --config, else {DEFAULT_FILE}).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def suppressions_path(file: Path | None, config: Path | None) -> Path:
    """--file, else the service's ``suppressions`` setting (config, env), else the default."""
    if file is not None:
        return file
    from detector.service.config import RunSettings

    configured = RunSettings.load(config).service.suppressions
    return configured if configured is not None else DEFAULT_FILE


def expiry(text: str, now: float | None = None) -> float:
    """Epoch seconds of ``--expires``: a duration from now (``30d``) or an ISO time.

    >>> expiry("1d", now=0.0), expiry("1970-01-02T00:00:00Z")
    (86400.0, 86400.0)
    """
    from detector.durations import parse_duration
    from detector.incidents.suppressions import parse_time

    try:
        return (time.time() if now is None else now) + parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_time(text)
    except ValueError:
        raise UsageError(f"--expires {text!r}: a duration (30d, 12h) or an ISO time "
                         "(2026-12-31T00:00:00Z)") from None


def _when(text: str, flag: str) -> float:
    from detector.incidents.suppressions import parse_time

    try:
        return parse_time(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r}: an ISO time (2026-03-17T02:00:00Z)") from None


def _length(text: str) -> float:
    from detector.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None


def default_author() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@suppress_app.command("add", epilog="""Examples:\n
  detector suppress add -s orders --route /v1/reports/export -r export -e 90d\n
  detector suppress add -s search --client 66.249.64.0/19 -r crawler -e 30d\n
  detector suppress add -s search --user-agent 'Googlebot*' -r bot -e 30d\n
  detector suppress add -s pay -r migration --start 2026-03-17T02:00Z --for 1h""")
@one_line_errors
def add_command(
    service: Annotated[str, typer.Option("--service", "-s", help="Service (required).")],
    reason: Annotated[str, typer.Option("--reason", "-r",
                                        help="Why this is fine (required).")],
    kind: Annotated[list[str] | None, typer.Option(
        "--kind", "-k", help="Kind it covers (repeatable; any kind when absent).")] = None,
    route: Annotated[str | None, typer.Option("--route", help="Route template.")] = None,
    client: Annotated[str | None, typer.Option("--client", help="Address or CIDR.")] = None,
    user_agent: Annotated[str | None, typer.Option(
        "--user-agent", help="User-agent glob (Googlebot*).")] = None,
    expires: Annotated[str | None, typer.Option(
        "--expires", "-e", help="When the rule stops applying: 30d, 12h or an ISO time (required "
                          "for a rule).")] = None,
    author: Annotated[str | None, typer.Option(
        "--author", help="Who says so (default: $USER).")] = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="A maintenance window's start (ISO time), with --end.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="A maintenance window's end.")] = None,
    for_: Annotated[str | None, typer.Option(
        "--for", help="A maintenance window's length from --start (2h), instead of --end.")
    ] = None,
    file: FileOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Add a rule (or, with --start and --end, a maintenance window)."""
    from detector.incidents.suppression_file import add_entry
    from detector.incidents.timefmt import iso

    path = suppressions_path(file, config)
    entry: dict[str, Any]
    if start is not None or end is not None or for_ is not None:
        scoped = [n for n, v in (("--kind", kind), ("--route", route), ("--client", client),
                                 ("--user-agent", user_agent), ("--expires", expires)) if v]
        if scoped or start is None or (end is None) == (for_ is None):
            raise UsageError("a maintenance window takes --service, --start, --end or --for, "
                             "and --reason" + (f", not {scoped[0]}" if scoped else ""))
        begin = _when(start, "--start")
        finish = begin + _length(for_) if for_ is not None else _when(end or "", "--end")
        entry = {"service": service, "start": iso(begin), "end": iso(finish), "reason": reason}
        after = add_entry(path, "maintenance", entry)
        added = after.maintenance[-1]
        typer.echo(f"added maintenance window m{added.index} {added.id} to {path}")
        return
    if expires is None:
        raise UsageError("--expires is required for a rule (30d, 12h or an ISO time)")
    entry = {"service": service}
    if kind:
        entry["kind"] = list(kind)
    for name, value in (("route", route), ("client", client), ("user_agent", user_agent)):
        if value is not None:
            entry[name] = value
    entry.update(reason=reason, author=author or default_author(), expires=iso(expiry(expires)))
    after = add_entry(path, "suppress", entry)
    rule = after.rules[-1]
    typer.echo(f"added rule {rule.index} {rule.id} to {path} (expires {entry['expires']})")


@suppress_app.command("list", epilog="""Examples:\n
  detector suppress list\n
  detector suppress list --file /etc/detector/suppressions.toml --json | jq .id""")
@one_line_errors
def list_command(
    file: FileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The rules (expired ones marked) and maintenance windows, in file order."""
    from detector.incidents.suppressions import Suppressions

    path = suppressions_path(file, config)
    if not path.exists():
        raise UsageError(f"no suppression file at {path} (create one with suppress add)")
    render_list(Suppressions.load(path), sys.stdout, time.time(), as_json=as_json)


@suppress_app.command("remove", epilog="""Examples:\n
  detector suppress remove 2\n
  detector suppress remove sup-1a2b3c4d\n
  detector suppress remove m1   (the first maintenance window)""")
@one_line_errors
def remove_command(
    which: Annotated[str, typer.Argument(
        metavar="INDEX|ID", help="Rule index (as listed), rule id, or m<index> / mnt-... id.")],
    file: FileOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Remove one rule or maintenance window; the others keep their order and comments."""
    from detector.incidents.suppression_file import remove_entry

    path = suppressions_path(file, config)
    if not path.exists():
        raise UsageError(f"no suppression file at {path}")
    _, gone = remove_entry(path, which)
    typer.echo(f"removed {gone.id} ({gone.service}: {gone.reason}) from {path}")


def render_list(s: Any, out: IO[str], now: float, *, as_json: bool = False) -> None:
    """``suppress list``: a table on a terminal, JSON lines when asked or piped."""
    from detector.incidents.timefmt import iso

    rows: list[dict[str, Any]] = []
    for r in s.rules:
        rows.append({"index": str(r.index), "id": r.id, "service": r.service,
                     "kind": sorted(r.kinds) if r.kinds else None, "route": r.route,
                     "client": r.client, "user_agent": r.user_agent, "reason": r.reason,
                     "author": r.author, "expires": iso(r.expires),
                     "expired": r.expired(now)})
    for m in s.maintenance:
        rows.append({"index": f"m{m.index}", "id": m.id, "service": m.service,
                     "maintenance": [iso(m.start), iso(m.end)], "reason": m.reason,
                     "expired": m.end <= now})
    if as_json or not out.isatty():
        for row in rows:
            out.write(orjson.dumps(row).decode() + "\n")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from detector.terminal import printable

    console = Console(file=out, highlight=False, emoji=False)
    if not rows:
        console.print("no rules")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("#", "id", "service", "scope", "until", "author", "reason"):
        table.add_column(col, overflow="fold")
    for row in rows:
        if "maintenance" in row:
            scope, until = f"maintenance from {row['maintenance'][0]}", row["maintenance"][1]
        else:
            parts = [",".join(row["kind"]) if row["kind"] else "any kind"]
            parts += [str(row[k]) for k in ("route", "client", "user_agent") if row[k]]
            scope, until = " ".join(parts), row["expires"]
        if row["expired"]:
            until += " [bold red](expired)[/]"
        table.add_row(*(escape(printable(str(v))) for v in (row["index"], row["id"],
                                                             row["service"], scope)),
                      until, escape(printable(str(row.get("author", "")))),
                      escape(printable(row["reason"])))
    console.print(table)
