"""``detector explain ID``: the numbers behind one incident's decision, in words (CONTRACTS §4).

Registered by the application: ``app.command("explain", ...)(explain_command)``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from detector.cli.errors import one_line_errors
from detector.config import IncidentSettings
from detector.errors import UsageError
from detector.terminal import printable

if TYPE_CHECKING:
    from detector.incidents.model import Incident

EXPLAIN_EPILOG = """Examples:\n
detector explain inc-7f3a9c2e41d0\n
detector explain inc-7f3a9c2e41d0 --store /var/lib/detector/incidents.db\n
detector explain inc-7f3a9c2e41d0 --json | jq .would_not_have_fired\n
\n
Reads the incident store written by --sink sqlite:PATH, or the file of a
jsonl: sink (default: incidents.db of --config, or DETECTOR_INCIDENTS__DB). The
decision is the one the incident was opened on; thresholds are recomputed with
the detector settings of --config (the defaults without it): explain with the
settings the detector ran with.
"""


@one_line_errors
def explain_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID", help="Incident id (inc-...).")],
    store: Annotated[Path | None, typer.Option(
        "--store", help=f"Incident store (default: incidents.db of --config, else "
                        f"{IncidentSettings().db}).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The explanation as JSON.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", help="TOML or YAML config file (its detector thresholds).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """The numbers one incident's decision was made on, and what would have kept it quiet."""
    from detector.config import load_settings
    from detector.incidents.explain import explain
    from detector.incidents.store import IncidentStore, StoreError

    settings = load_settings(config)
    path = store if store is not None else Path(settings.incidents.db)
    if _is_jsonl(path):  # a jsonl: sink's file serves as well as the sqlite store
        latest, history = _from_jsonl(path, incident_id)
    else:
        try:
            with IncidentStore(path) as db:
                latest, history = db.show(incident_id)
        except StoreError as exc:
            raise UsageError(str(exc)) from None
    opened = next((h for h in history if h.status == "open"), latest)
    x = explain(opened, settings)
    if as_json:
        sys.stdout.write(orjson.dumps(x.as_dict()).decode() + "\n")
        return
    lines = x.lines()
    if latest is not opened:
        lines += ["", f"  Now: {latest.status}, {latest.severity}, {latest.summary}"]
    sys.stdout.write("\n".join(printable(line) for line in lines) + "\n")


def _is_jsonl(path: Path) -> bool:
    """A file that is not SQLite and starts like a JSON object (the ``jsonl:`` sink)."""
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return not head.startswith(b"SQLite format 3") and head.lstrip()[:1] == b"{"


def _from_jsonl(path: Path, incident_id: str) -> tuple[Incident, list[Incident]]:
    """The changes of one incident in a JSON-lines file (latest, every change in order)."""
    from pydantic import ValidationError

    from detector.incidents.model import Incident

    needle = incident_id.encode()
    history: list[Incident] = []
    with path.open("rb") as f:
        for no, line in enumerate(f, 1):
            if needle not in line:
                continue
            try:
                inc = Incident.model_validate(orjson.loads(line))
            except (orjson.JSONDecodeError, ValidationError):
                raise UsageError(f"{path}:{no}: not an incident change") from None
            if inc.id == incident_id:
                history.append(inc)
    if not history:
        raise UsageError(f"no incident {incident_id} in {path}")
    return history[-1], history
