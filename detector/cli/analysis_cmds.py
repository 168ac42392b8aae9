"""``detector train`` and ``detector scan`` (CONTRACTS §4).

Command functions only; ``detector.cli.app`` registers them, e.g.::

    app.command("train", epilog=TRAIN_EPILOG)(train_command)
    app.command("scan", epilog=SCAN_EPILOG)(scan_command)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer

from detector.cli.errors import fail, one_line_errors
from detector.cli.usage import FORMAT_HELP
from detector.errors import UsageError
from detector.models.registry import DEFAULT_DIR
from detector.terminal import printable

__all__ = ["SCAN_EPILOG", "TRAIN_EPILOG", "open_output", "scan_command", "train_command"]

TRAIN_EPILOG = """Examples:\n
  detector train access-*.log.gz --out models\n
  detector train history.jsonl --out models --format otel\n
  zcat access.log.gz | detector train - --out models --format clf --service shop"""

SCAN_EPILOG = """Examples:\n
  detector scan access.log --models models --output flagged.jsonl\n
  detector scan access.log.gz --all --output jsonl:verdicts.jsonl\n
  zcat access.log.gz | detector scan - --format clf --service shop --output -"""

FilesArg = Annotated[list[str] | None,
                     typer.Argument(help="Log files (plain or .gz); '-' = stdin.")]
FormatOpt = Annotated[str, typer.Option("--format", help=FORMAT_HELP)]
ServiceOpt = Annotated[str, typer.Option("--service", help="Service name for formats without one.")]
# No setting of the config file applies to train or scan (request analysis has no section
# yet); like every command they take --config, check it (a bad one is exit 2) and say so.
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="TOML or YAML config file: checked, but no setting applies here.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


_OTHER_SINKS = frozenset({"sqlite", "kafka", "webhook", "slack", "alertmanager", "pagerduty"})


@contextmanager
def open_output(spec: str) -> Iterator[IO[bytes]]:
    """``-``/``stdout`` -> stdout; ``jsonl:PATH`` or ``PATH`` -> that file (created)."""
    if spec in ("-", "stdout"):
        yield sys.stdout.buffer
        return
    scheme, sep, _ = spec.partition(":")
    if sep and scheme in _OTHER_SINKS:
        raise UsageError(f"--output {spec!r}: scan writes JSON lines: use '-', 'stdout', "
                         "a file path or jsonl:PATH")
    path = spec[len("jsonl:"):] if spec.startswith("jsonl:") else spec
    if not path:
        raise UsageError(f"--output {spec!r}: missing a file path")
    try:
        f = Path(path).open("wb")  # noqa: SIM115 (closed below, after the yield)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield f
    finally:
        f.close()


@one_line_errors
def train_command(
    files: FilesArg = None,
    out: Annotated[Path, typer.Option("--out", help="Model registry directory.")] = DEFAULT_DIR,
    fmt: FormatOpt = "auto",
    service: ServiceOpt = "default",
    name: Annotated[str, typer.Option("--name", help="Model name in the registry.")] = "request",
    contamination: Annotated[str, typer.Option(
        "--contamination",
        help="'auto' or the share of history assumed anomalous (0-0.5).")] = "auto",
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Train request profiles and the batch model from (mostly normal) history.

    Publishes a new version into the model registry and makes it current."""
    from detector.config import load_settings
    from detector.jobs.train import train
    from detector.models.registry import RegistryError

    load_settings(config)
    conta: float | str = contamination
    if contamination != "auto":
        try:
            conta = float(contamination)
        except ValueError:
            raise UsageError("--contamination must be 'auto' or a number, "
                             f"got {contamination!r}") from None
        if not 0.0 < conta < 0.5:
            raise UsageError("--contamination must be between 0 and 0.5")
    try:
        report = train(files or ["-"], out, fmt=fmt, service=service, name=name,
                       contamination=conta)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None
    ev = report.evaluation
    model = (f"model on {report.model_rows:,} payload requests, "
             f"{ev.get('combined_flagged_share', 0.0):.3%} of them flagged"
             if report.model_rows else str(ev.get("model", "no model")))
    lines = [f"train: {report.events:,} events ({report.bad_records:,} bad records), "
             f"{report.routes} route profiles, {model}; "
             f"{report.excluded_signature_hits:,} signature hits left out",
             f"published {report.name}/{report.version} -> {report.out_dir} "
             f"(current) in {report.elapsed_s:.1f} s"]
    lines.extend(f"warning: {p}" for p in report.problems)
    write_summary(lines)


@one_line_errors
def scan_command(
    files: FilesArg = None,
    output: Annotated[str, typer.Option(
        "--output", help="'-' or stdout, a file path, or jsonl:PATH.")] = "-",
    fmt: FormatOpt = "auto",
    service: ServiceOpt = "default",
    models: Annotated[Path | None, typer.Option(
        "--models",
        help="Model registry (default ./models if any; signatures only when it holds no "
             "model).")] = None,
    all_requests: Annotated[bool, typer.Option(
        "--all", help="One line per request (scores of unflagged ones too).")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Per-request verdicts as JSON lines: attack payloads and unusual payloads.

    Each line has file, line, score (higher = more anomalous), flagged, kind, attack
    type and reasons."""
    from detector.config import load_settings
    from detector.jobs.scan import scan, scan_analyzer

    load_settings(config)
    analyzer = scan_analyzer(models)  # before the output is opened: a refused one makes none
    with open_output(output) as out:
        summary = scan(files or ["-"], models_dir=models or DEFAULT_DIR, fmt=fmt, service=service,
                       all_requests=all_requests, output=out, analyzer=analyzer)
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(summary.by_kind.items())) or "none"
    model = summary.model_version or "none (signatures and online profiles)"
    lines = [f"scan: {summary.requests:,} requests in {summary.elapsed_s:.1f} s "
             f"({summary.requests_per_s():,.0f}/s), flagged {summary.flagged:,} ({kinds}); "
             f"model {model}"]
    if summary.bad_records:
        why = ", ".join(f"{r} x{n}" for r, n in sorted(summary.bad_reasons.items(),
                                                          key=lambda kv: -kv[1])[:6])
        lines.append(f"bad records: {summary.bad_records:,} ({why})")
    lines.extend(f"warning: {p}" for p in summary.problems)
    write_summary(lines)
    # CONTRACTS §4: no valid request, or mostly bad records, is an input error.
    if summary.requests == 0 or summary.bad_records > summary.requests:
        what = ("no valid request" if summary.requests == 0
                else f"most records are bad: only {summary.requests:,} valid requests")
        raise fail(f"{what} in {summary.requests + summary.bad_records:,} records: "
                   "is it an access log?")


def write_summary(lines: list[str]) -> None:
    """A human-readable summary on stderr, one line per entry. Its parts (file names,
    bad-record reasons, problems, model names) come from the input: control and bidi
    characters are shown escaped, so none can move the cursor, retitle the terminal
    or forge a line, on a terminal or later when a captured log is viewed on one."""
    sys.stderr.write("".join(printable(line) + "\n" for line in lines))
