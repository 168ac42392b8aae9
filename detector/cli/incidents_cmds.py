"""``detector incidents list|show``: read the incident store (``sqlite:PATH`` sink).

The lead registers it with ``app.add_typer(incidents_app, name="incidents")``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import orjson
import typer

from detector.cli import feedback_cmds
from detector.cli.errors import one_line_errors
from detector.config import IncidentSettings, load_settings
from detector.errors import UsageError
from detector.incidents.model import Incident
from detector.kinds import KINDS
from detector.terminal import printable

if TYPE_CHECKING:
    from detector.incidents.feedback import Feedback

DB_ENV = "DETECTOR_INCIDENTS__DB"  # incidents.db of the settings, read with them
_STATUS_STYLE = {"open": "bold red", "update": "yellow", "resolved": "green"}
_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}
WIDE = 140  # columns from which ``list`` draws a table

incidents_app = typer.Typer(
    name="incidents",
    help="Read the incident store written by --sink sqlite:PATH; give feedback on incidents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DbOpt = Annotated[Path | None, typer.Option(
    "--db", help=f"Incident store (default: incidents.db of --config or {DB_ENV}, "
                 f"else {IncidentSettings().db}).")]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="JSON lines even on a terminal (always when piped).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def _db_path(db: Path | None, config: Path | None) -> Path:
    """--db, else the settings' incidents.db (default < --config < DETECTOR_INCIDENTS__DB)."""
    return db if db is not None else Path(load_settings(config).incidents.db)


def _json_line(out: IO[str], incident: Incident) -> None:
    out.write(orjson.dumps(incident.model_dump(mode="json")).decode() + "\n")


@incidents_app.command("list", epilog="""Examples:\n
  detector incidents list --since 2h --status active\n
  detector incidents list --db /var/lib/detector/incidents.db --service payments\n
  detector incidents list --since 2026-03-17T09:00:00Z | jq -r .summary""")
@one_line_errors
def list_incidents(
    db: DbOpt = None,
    service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Active at or after: ISO time or a duration back from now (30m, 2h, 1d).",
    )] = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="open | update | resolved | active (not resolved).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Latest state of each incident, most recently detected first."""
    from detector.incidents.store import IncidentStore, StoreError

    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r} ({', '.join(KINDS)})")
    try:
        with IncidentStore(_db_path(db, config)) as store:
            found = store.list(service=service, kind=kind, since=since, status=status,
                               limit=limit)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    out = sys.stdout
    if as_json or not out.isatty():
        for inc in found:
            _json_line(out, inc)
        return
    render_table(found, out)


@incidents_app.command("show", epilog="""Examples:\n
  detector incidents show inc-7f3a9c2e41d0\n
  detector incidents show inc-7f3a9c2e41d0 | tail -n 1 | jq .evidence""")
@one_line_errors
def show_incident(
    incident_id: Annotated[str, typer.Argument(metavar="ID", help="Incident id (inc-...).")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """One incident: its latest state and its history.

    Piped: its changes as JSON lines, oldest first; the last line is the latest state.
    """
    from detector.incidents.feedback import read_feedback
    from detector.incidents.store import IncidentStore, StoreError

    path = _db_path(db, config)
    try:
        with IncidentStore(path) as store:
            latest, history = store.show(incident_id)
        feedback = read_feedback(path, incident_id)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    out = sys.stdout
    if as_json or not out.isatty():
        for inc in history:
            _json_line(out, inc)
        return
    render_show(latest, history, out, feedback=feedback)


feedback_cmds.register(incidents_app)  # ack, resolve, false-positive


def render_table(incidents: list[Incident], out: IO[str], width: int | None = None) -> None:
    """The terminal form of ``incidents list``: a table on a wide terminal, two
    lines per incident (facts, then the summary) on a narrow one."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, highlight=False, emoji=False, width=width)
    if not incidents:
        console.print("no incidents match")
        return
    if console.width < WIDE:
        # Columns padded to the widest value shown (after escaping: what takes the room).
        kind_w = max(len(printable(i.kind)) for i in incidents)
        svc_w = max(len(printable(i.service)) for i in incidents)
        for inc in incidents:
            kind = printable(inc.kind).ljust(kind_w)
            svc = printable(inc.service).ljust(svc_w)
            console.print(f"{_esc(inc.detected_at)}  {_status(inc)}  {_severity(inc)}  "
                          f"{_esc(kind)}  [bold]{_esc(svc)}[/]  [dim]{_esc(inc.id)}[/]",
                          soft_wrap=True)
            console.print(f"    {_esc(inc.summary)}", soft_wrap=True)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("detected", "status", "severity", "kind", "service", "where", "summary", "id"):
        table.add_column(col, overflow="fold", no_wrap=col not in ("where", "summary"),
                         ratio=1 if col == "summary" else None)
    for inc in incidents:
        table.add_row(_esc(inc.detected_at), _status(inc), _severity(inc), _esc(inc.kind),
                      _esc(inc.service), _esc(_where(inc)), _esc(inc.summary), _esc(inc.id))
    console.print(table)


def _status(inc: Incident) -> str:
    return f"[{_STATUS_STYLE.get(inc.status, '')}]{_esc(inc.status):<8}[/]"


def _severity(inc: Incident) -> str:
    return f"[{_SEVERITY_STYLE.get(inc.severity, '')}]{_esc(inc.severity):<8}[/]"


def render_show(latest: Incident, history: list[Incident], out: IO[str],
                width: int | None = None, feedback: Sequence[Feedback] = ()) -> None:
    """The terminal form of ``incidents show`` (with the feedback people gave on it)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, highlight=False, emoji=False, width=width)
    console.print(f"[bold]{_esc(latest.id)}[/]  {_status(latest)}  {_esc(latest.kind)}  "
                  f"{_severity(latest)}", soft_wrap=True)
    facts = [
        ("service", latest.service), ("where", _where(latest)),
        ("anomaly", f"{latest.start} .. {latest.end}"), ("detected", latest.detected_at),
        ("score", f"{latest.score:.3g}"), ("summary", latest.summary),
    ]
    dep = latest.deployment
    if dep is not None:
        facts.append(("deployment", f"{dep.version} (was {dep.previous_version}) at "
                      f"{dep.deployed_at}, {dep.seconds_since_deploy} s before"
                      + (", suspect" if dep.suspect else "")))
    evidence = {k: v for k, v in latest.evidence.items() if k != "samples"}
    if evidence:
        facts.append(("evidence", orjson.dumps(evidence).decode()))
    for sample in latest.evidence.get("samples") or []:
        facts.append(("sample", str(sample)))
    if latest.suppressed:
        facts.append(("suppressed", "yes: stored, not paged (a rule or maintenance window)"))
    for fb in feedback:
        said = f"{fb.action.replace('_', ' ')} by {fb.author} at {fb.at}"
        facts.append(("feedback", said + (f": {fb.note}" if fb.note else "")))
    for name, value in facts:
        console.print(f"  [dim]{name:>10}[/] {_esc(value)}", soft_wrap=True)
    table = Table(title="history", title_justify="left", box=None, header_style="bold")
    for col in ("status", "severity", "end", "score", "summary"):
        table.add_column(col, overflow="fold", no_wrap=col != "summary")
    for inc in history:
        table.add_row(_esc(inc.status), _esc(inc.severity), _esc(inc.end), f"{inc.score:.3g}",
                      _esc(inc.summary))
    console.print(table)


def _where(inc: Incident) -> str:
    parts = [p for p in (inc.method, inc.route) if p]
    if inc.client:
        parts.append(f"client {inc.client}")
    return " ".join(parts) or "-"


def _esc(text: str) -> str:
    """Terminal-safe text in rich markup: incidents carry log content (paths, clients,
    samples), and a store may be crafted, so control and bidi characters are shown
    escaped (``\\x1b``) before rich markup is escaped."""
    from rich.markup import escape

    return escape(printable(text))
