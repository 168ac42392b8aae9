"""``detector report``: a self-contained HTML report (CONTRACTS §4)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from detector.cli.errors import fail, one_line_errors
from detector.cli.usage import FORMAT_HELP

REPORT_EPILOG = """The page holds no script and loads nothing: it opens offline (a CI
artifact, an e-mail attachment).\n
Examples:\n
  detector report access-*.log --deployments deploys.jsonl --out report.html\n
  detector report incidents.jsonl access.log.gz --out report.html --open\n
  detector report --store inc.db access.log --records releases/ --out r.html\n
  detector report incidents.jsonl --deployments deploys.jsonl --out r.html"""


def _split_inputs(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Incident files (JSON lines of incidents) apart from access logs."""
    from detector.report.inputs import is_incidents_file

    incident_files: list[Path] = []
    logs: list[str] = []
    for name in inputs:
        path = Path(name)
        if name != "-" and path.is_file() and is_incidents_file(path):
            incident_files.append(path)
        else:
            logs.append(name)
    return incident_files, logs


def open_in_browser(path: Path) -> bool:
    """Open ``path`` in the user's browser; False (and a line on stderr) when none."""
    import webbrowser

    try:
        opened = webbrowser.open(path.resolve().as_uri())
    except webbrowser.Error:
        opened = False
    if not opened:
        sys.stderr.write(f"report: no browser to open it with here; open {path} yourself\n")
    return opened


@one_line_errors
def report_command(
    inputs: Annotated[list[str] | None, typer.Argument(
        metavar="INPUT",
        help="An incidents file (the JSON lines of --sink jsonl:, told apart by its "
             "content) and/or access logs (plain or .gz) to replay for the timelines.")
    ] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="FILE.html", help="Where to write the report.")] = None,
    store: Annotated[Path | None, typer.Option(
        "--store", help="Incident store (sqlite) instead of an incidents file.")] = None,
    deployments: Annotated[Path | None, typer.Option(
        "--deployments", help="Deployment events (JSON lines).")] = None,
    records: Annotated[Path | None, typer.Option(
        "--records", metavar="DIR", help="Release records (detector verdict --record DIR).")
    ] = None,
    open_it: Annotated[bool, typer.Option(
        "--open", help="Open the report in a browser when written.")] = False,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    service: Annotated[str, typer.Option(
        "--service", help="Service name for formats without one.")] = "default",
    models: Annotated[Path | None, typer.Option(
        "--models", help="Model registry from `detector train` (request analysis).")] = None,
    no_analysis: Annotated[bool, typer.Option(
        "--no-analysis", help="Skip per-request analysis in the replay (faster; no "
        "payload incidents from it).")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")
                      ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Write one self-contained HTML report: timelines, deploys, incidents, top routes."""
    from detector.config import load_settings
    from detector.errors import UsageError
    from detector.jobs.replay import build_analyzer
    from detector.jobs.report import build_report
    from detector.report.page import render

    started = time.monotonic()
    settings = load_settings(config)
    if out is None:
        raise UsageError("--out FILE.html is required (where to write the report)")
    incident_files, logs = _split_inputs(inputs or [])
    if store is not None and incident_files:
        raise UsageError("give the incidents either as --store PATH or as an incidents "
                         f"file, not both ({incident_files[0]})")
    if out.is_dir():
        raise UsageError(f"--out {out}: a directory, not a file")
    analyzer = build_analyzer(models, enabled=not no_analysis and bool(logs))
    data = build_report(logs=logs, store=store, incident_files=incident_files,
                        deployments=deployments, records=records, settings=settings,
                        fmt=fmt, service=service, analyzer=analyzer)
    page = render(data).encode()
    try:
        out.write_bytes(page)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    for note in data.notes:
        sys.stderr.write(f"report: {note}\n")
    sys.stderr.write(f"report: {len(data.service_names())} services, {len(data.incidents)} "
                     f"incidents, {len(data.deploys)} deployments -> {out} "
                     f"({len(page) / 1024:,.0f} KiB in {time.monotonic() - started:.1f} s)\n")
    if open_it:
        open_in_browser(out)
