"""``detector incidents ack|resolve|false-positive ID``: feedback on an incident.

Registered on the ``incidents`` group by :mod:`detector.cli.incidents_cmds`.
``false-positive --suppress`` also writes the suppression rule that covers the
incident (its service, kind, and route or client) with ``learn = true``: from
then on the windows it covers are learned as normal (CONTRACTS §7), so the
baselines take in what the detector mistook for an anomaly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from detector.cli.errors import one_line_errors
from detector.cli.suppress_cmds import default_author, expiry, suppressions_path
from detector.config import IncidentSettings, load_settings
from detector.errors import UsageError
from detector.incidents.model import Incident

IdArg = Annotated[str, typer.Argument(metavar="ID", help="Incident id (inc-...).")]
StoreOpt = Annotated[Path | None, typer.Option(
    "--store", "--db", help="Incident store: sqlite file, or the incidents .jsonl file "
                            f"(default: incidents.db of --config, else {IncidentSettings().db}).")]
NoteOpt = Annotated[str, typer.Option("--note", help="What you found.")]
AuthorOpt = Annotated[str | None, typer.Option("--author", help="Who (default: $USER).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def give(store: Path | None, config: Path | None, incident_id: str, action: str, note: str,
         author: str | None) -> tuple[Path, Incident]:
    """Record one piece of feedback; returns the store and the incident's latest state."""
    from detector.incidents.feedback import Feedback, latest_incident, record_feedback
    from detector.incidents.store import StoreError
    from detector.incidents.timefmt import iso

    path = store if store is not None else Path(load_settings(config).incidents.db)
    try:
        record_feedback(path, Feedback(incident_id, action, note, author or default_author(),
                                       iso(time.time())))
        inc = latest_incident(path, incident_id)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    return path, inc


def ack_command(incident_id: IdArg, note: NoteOpt = "", author: AuthorOpt = None,
                store: StoreOpt = None, config: ConfigOpt = None,
                debug: DebugOpt = False) -> None:
    """Acknowledge an incident: someone is on it."""
    path, _ = give(store, config, incident_id, "ack", note, author)
    typer.echo(f"{incident_id}: acknowledged in {path}")


def resolve_command(incident_id: IdArg, note: NoteOpt = "", author: AuthorOpt = None,
                    store: StoreOpt = None, config: ConfigOpt = None,
                    debug: DebugOpt = False) -> None:
    """Mark an incident resolved by a person (the detector's own resolution is apart)."""
    path, _ = give(store, config, incident_id, "resolve", note, author)
    typer.echo(f"{incident_id}: resolved in {path}")


def false_positive_command(
    incident_id: IdArg,
    note: NoteOpt = "",
    suppress: Annotated[bool, typer.Option(
        "--suppress", help="Also add a rule covering it (service, kind, route or client) "
                           "whose windows the baselines learn.")] = False,
    expires: Annotated[str, typer.Option(
        "--expires", help="The rule's expiry: 30d, 12h or an ISO time.")] = "30d",
    suppressions: Annotated[Path | None, typer.Option(
        "--suppressions", help="Suppression file (default: \\[service] suppressions of "
                               "--config, else suppressions.toml).")] = None,
    author: AuthorOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Say an incident was no anomaly; with --suppress, never page for it again."""
    until = expiry(expires) if suppress else 0.0  # a bad --expires before anything is written
    path, inc = give(store, config, incident_id, "false_positive", note, author)
    typer.echo(f"{incident_id}: false positive recorded in {path}")
    if not suppress:
        return
    from detector.incidents.suppression_file import add_entry

    target = suppressions_path(suppressions, config)
    after = add_entry(target, "suppress", rule_for(inc, note, author or default_author(),
                                                   until))
    rule = after.rules[-1]
    typer.echo(f"added rule {rule.index} {rule.id} to {target}: {inc.service} {inc.kind} "
               f"{inc.client or inc.route or ''}".rstrip())


def rule_for(inc: Incident, note: str, author: str, until: float) -> dict[str, Any]:
    """The rule covering ``inc``: its service and kind, and its client (client-keyed) or
    its route; its windows learned as normal from now on.

    >>> from detector.incidents.model import Incident
    >>> inc = Incident(id="inc-1", status="open", kind="traffic_spike", severity="low",
    ...     service="orders", route="/v1/reports/export", method="GET", client=None,
    ...     start="2026-03-20T02:00:00Z", end="2026-03-20T02:05:00Z",
    ...     detected_at="2026-03-20T02:01:00Z", score=0.9, summary="s", evidence={},
    ...     deployment=None)
    >>> rule_for(inc, "", "ops", 0.0)["route"]
    '/v1/reports/export'
    """
    from detector.incidents.timefmt import iso

    entry: dict[str, Any] = {"service": inc.service, "kind": [inc.kind]}
    if inc.client:
        entry["client"] = inc.client
    elif inc.route:
        entry["route"] = inc.route
    entry.update(reason=note or f"false positive {inc.id}", author=author,
                 expires=iso(until), learn=True)
    return entry


def register(group: typer.Typer) -> None:
    """Add the feedback commands to the ``incidents`` group."""
    group.command("ack", epilog="""Examples:\n
  detector incidents ack inc-7f3a9c2e41d0 --note "looking at the deploy"\n
  detector incidents ack inc-7f3a9c2e41d0 --store incidents.jsonl""")(
        one_line_errors(ack_command))
    group.command("resolve", epilog="""Examples:\n
  detector incidents resolve inc-7f3a9c2e41d0 --note "rolled back to 2.31.0\"""")(
        one_line_errors(resolve_command))
    group.command("false-positive", epilog="""Examples:\n
  detector incidents false-positive inc-520205477b7e --note "nightly export"\n
  detector incidents false-positive inc-520205477b7e --suppress --expires 90d""")(
        one_line_errors(false_positive_command))
