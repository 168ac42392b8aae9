"""A report's inputs besides the logs: incidents, deployments and release records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from detector.deployments.registry import DeploymentRegistry
from detector.errors import UsageError
from detector.incidents.model import Incident
from detector.verdict.record import RecordError, read_record, record_path

SNIFF_BYTES = 1 << 16  # a first line longer than this is no incident line
MAX_INCIDENTS = 1_000_000


class ReportInputError(UsageError):
    """An input a report cannot use (exit 2, one line)."""


def ts(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (``Z`` or an offset).

    >>> ts("2026-03-20T00:01:00Z")
    1773964860.0
    """
    return datetime.fromisoformat(text).timestamp()


def is_incidents_file(path: Path) -> bool:
    """Whether ``path`` holds incidents (JSON lines with ``id``, ``kind`` and ``status``,
    CONTRACTS §3) rather than access logs: its first non-blank line says."""
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return False  # the log reader will say why it cannot read it
    for line in head.splitlines():
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        return isinstance(obj, dict) and {"id", "kind", "status"} <= obj.keys()
    return False


def read_incidents_jsonl(path: Path) -> tuple[list[Incident], list[str]]:
    """The latest state of each incident in a JSON-lines file (the ``jsonl:`` sink's
    output), in order of first appearance, and one line per bad line (at most 5).

    A file of which no line is an incident is refused; an empty one is not (a replay
    that found nothing).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportInputError(f"cannot read incidents {path}: {exc.strerror or exc}") from None
    latest: dict[str, Incident] = {}
    bad: list[str] = []
    nbad = 0
    for no, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            inc = Incident.model_validate_json(raw)
        except ValidationError as exc:
            nbad += 1
            if len(bad) < 5:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "line"
                bad.append(f"{path}:{no}: not an incident ({where}: {first['msg']})")
            continue
        latest[inc.id] = inc
        if len(latest) > MAX_INCIDENTS:
            raise ReportInputError(f"{path}: more than {MAX_INCIDENTS:,} incidents")
    if nbad and not latest:
        raise ReportInputError(f"{path} holds no incident: {bad[0]}")
    if nbad > len(bad):
        bad.append(f"{path}: {nbad - len(bad)} more bad lines")
    return list(latest.values()), bad


def read_incidents_store(path: Path) -> list[Incident]:
    """The latest state of each incident of a ``sqlite:`` store, oldest first."""
    from detector.incidents.store import IncidentStore, StoreError

    try:
        with IncidentStore(path) as store:
            found = store.list(limit=MAX_INCIDENTS)
    except StoreError as exc:
        raise ReportInputError(str(exc)) from None
    return sorted(found, key=lambda i: (i.start, i.id))


class Deploy(NamedTuple):
    """A deployment marker: explicit (an event) or seen first in traffic."""

    service: str
    version: str
    ts: float
    previous: str | None
    explicit: bool


def deploys_of(registry: DeploymentRegistry, incidents: Iterable[Incident]) -> list[Deploy]:
    """Every deployment the registry knows, and those only incidents name (a report
    without logs), by service and time."""
    out: dict[tuple[str, str], Deploy] = {}
    for service in registry.services():
        for d in registry.all(service):
            out[(service, d.version)] = Deploy(service, d.version, d.ts, d.previous_version,
                                               d.explicit)
    for inc in incidents:
        ref = inc.deployment
        if ref is not None and (inc.service, ref.version) not in out:
            out[(inc.service, ref.version)] = Deploy(inc.service, ref.version,
                                                     ts(ref.deployed_at),
                                                     ref.previous_version, True)
    return sorted(out.values(), key=lambda d: (d.service, d.ts, d.version))


class Records:
    """Release records under a directory (``detector verdict --record DIR``), by release.

    >>> Records(None).get("pay", "1.0") is None
    True
    """

    def __init__(self, root: Path | None) -> None:
        if root is not None and not root.is_dir():
            raise ReportInputError(f"--records {root}: not a directory")
        self.root = root
        self._cache: dict[tuple[str, str], dict[str, Any] | str | None] = {}

    def get(self, service: str, version: str) -> dict[str, Any] | str | None:
        """The record of that release, a one-line reason it cannot be read, or None."""
        if self.root is None:
            return None
        key = (service, version)
        if key not in self._cache:
            try:
                path = record_path(self.root, service, version)
                self._cache[key] = read_record(path) if path.is_file() else None
            except RecordError as exc:
                self._cache[key] = str(exc)
        return self._cache[key]
