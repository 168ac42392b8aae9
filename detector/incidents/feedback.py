"""Feedback on incidents: ``ack``, ``resolve``, ``false_positive`` (issue 14).

Kept next to the incidents, never in their records (an incident change is what
the detector said; feedback is what a person said about it): in a SQLite
store, the ``incident_feedback`` table (schema 2, :mod:`detector.incidents.database`);
for a JSON-lines store ``incidents.jsonl``, the file ``incidents.feedback.jsonl``
beside it, so readers of the incident stream (``evaluate``, ``report``) see
incidents only.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from detector.incidents.database import StoreError, connect, migrate, schema_version
from detector.incidents.model import Incident

ACTIONS = ("ack", "resolve", "false_positive")


@dataclass(frozen=True)
class Feedback:
    """One person's word on one incident.

    >>> Feedback("inc-1", "ack", "looking", "alice", "2026-03-17T09:10:00Z").action
    'ack'
    """

    id: str
    action: str
    note: str
    author: str
    at: str  # wall-clock time it was given (ISO, UTC)


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in {".jsonl", ".ndjson", ".json"}


def feedback_path(store: Path) -> Path:
    """Where a JSON-lines store's feedback goes: ``x.jsonl`` -> ``x.feedback.jsonl``."""
    return store.with_name(f"{store.stem}.feedback.jsonl")


def latest_incident(store: Path, incident_id: str) -> Incident:
    """The latest state of ``incident_id`` in a SQLite or JSON-lines store."""
    if not is_jsonl(store):
        from detector.incidents.store import IncidentStore

        with IncidentStore(store) as s:
            return s.show(incident_id)[0]
    from detector.incidents.store import IncidentNotFound

    latest: Incident | None = None
    try:
        with store.open("rb") as f:
            for no, line in enumerate(f, 1):
                if incident_id.encode() not in line:
                    continue  # cheap: most lines are other incidents
                try:
                    inc = Incident.model_validate_json(line)
                except ValueError:
                    raise StoreError(f"{store}:{no}: not an incident record") from None
                if inc.id == incident_id:
                    latest = inc
    except OSError as exc:
        raise StoreError(f"cannot read incident store {store}: {exc.strerror}") from None
    if latest is None:
        raise IncidentNotFound(f"no incident {incident_id!r} in {store}")
    return latest


def record_feedback(store: Path, fb: Feedback) -> None:
    """Add ``fb`` to the store (the incident must be in it)."""
    if fb.action not in ACTIONS:
        raise StoreError(f"unknown feedback {fb.action!r} ({', '.join(ACTIONS)})")
    latest_incident(store, fb.id)  # IncidentNotFound: one line
    if is_jsonl(store):
        try:
            with feedback_path(store).open("ab") as f:
                f.write(orjson.dumps({"feedback": asdict(fb)}) + b"\n")
        except OSError as exc:
            raise StoreError(f"cannot write {feedback_path(store)}: {exc.strerror}") from None
        return
    try:
        conn = connect(store)
        try:
            migrate(conn)
            conn.execute("INSERT INTO incident_feedback (id, action, note, author, at) "
                         "VALUES (?, ?, ?, ?, ?)", (fb.id, fb.action, fb.note, fb.author, fb.at))
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write incident store {store}: {exc}") from None


def read_feedback(store: Path, incident_id: str) -> list[Feedback]:
    """The feedback given on ``incident_id``, oldest first (none for older stores)."""
    if is_jsonl(store):
        path = feedback_path(store)
        if not path.exists():
            return []
        out: list[Feedback] = []
        for line in path.read_bytes().splitlines():
            try:
                rec = orjson.loads(line)["feedback"]
                if rec["id"] == incident_id:
                    out.append(Feedback(**rec))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # a torn last line of a crashed writer: skipped, not fatal
        return out
    try:
        conn = connect(store, read_only=True)
        try:
            if schema_version(conn) < 2:
                return []
            rows = conn.execute("SELECT id, action, note, author, at FROM incident_feedback "
                                "WHERE id = ? ORDER BY seq", (incident_id,)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read incident store {store}: {exc}") from None
    return [Feedback(*row) for row in rows]
