"""``sqlite:PATH``: the incident store, one row per incident state change.

Writes are batched: ``write()`` only queues, ``flush()`` stores the batch in
one transaction (part of a checkpoint: flush sinks, then snapshot state, then
commit offsets). Re-delivering a change after a crash or a restart is a no-op:
rows are unique by :func:`~detector.sinks.delivery.change_key` fields and
inserted with ``ON CONFLICT DO NOTHING``. The ``incidents`` table holds the latest
state of each incident, kept by a trigger so any writer keeps it right. The schema,
its migrations and the connection belong to :mod:`detector.incidents.database`.
:class:`detector.incidents.store.IncidentStore` reads it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import orjson

from detector.incidents.database import StoreError, connect, migrate
from detector.incidents.model import Incident
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError, to_epoch

log = logging.getLogger("detector.sinks")

_INSERT = """
INSERT INTO incident_changes
    (id, status, end_at, severity, kind, service, start_epoch, end_epoch, detected_epoch,
     stored_at, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id, status, end_at, severity) DO NOTHING
"""


def _epoch(text: str) -> float:
    # An unparsable time must not poison the batch: the row is still stored
    # (the body keeps the original text), it only sorts and filters as 1970.
    try:
        return to_epoch(text)
    except ValueError:
        log.warning("incident store: unparsable time %r stored as epoch 0", text[:40])
        return 0.0


def _row(incident: Incident, now: float) -> tuple[object, ...]:
    body = orjson.dumps(incident.model_dump(mode="json")).decode()
    return (incident.id, incident.status, incident.end, incident.severity, incident.kind,
            incident.service, _epoch(incident.start), _epoch(incident.end),
            _epoch(incident.detected_at), now, body)


class SqliteSink:
    """Stores incident state changes in a SQLite database (WAL mode).

    >>> import tempfile, pathlib
    >>> from detector.incidents.model import Incident
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "incidents.db"
    >>> inc = Incident(id="inc-1", status="open", kind="error_surge", severity="high",
    ...                service="pay", route="/r", method="GET", client=None,
    ...                start="2026-03-17T09:07:00Z", end="2026-03-17T09:08:00Z",
    ...                detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
    ...                evidence={}, deployment=None)
    >>> sink = SqliteSink(str(db))
    >>> sink.write(inc); sink.write(inc); sink.flush()
    >>> sink.stored
    1
    >>> sink.close()
    """

    def __init__(self, path: str, *, busy_timeout_s: float = 5.0) -> None:
        if not path:
            raise SinkError("sqlite sink needs a path: sqlite:PATH")
        self.path = path
        self.stored = 0  # changes actually inserted (duplicates not counted)
        self._pending: list[Incident] = []
        self._lock = threading.Lock()
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = connect(path, busy_timeout_s=busy_timeout_s)
            migrate(self._conn)
        except sqlite3.Error as exc:
            raise SinkError(f"cannot open incident store {path}: {exc}") from None
        except StoreError as exc:  # a newer schema: the sink's error, same words
            raise SinkError(str(exc)) from None
        except OSError as exc:
            raise SinkError(f"cannot open incident store {path}: {exc.strerror}") from None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def write(self, incident: Incident) -> None:
        with self._lock:
            self._pending.append(incident)

    def flush(self) -> None:
        """Store the queued changes in one transaction; on failure keep them queued."""
        with self._lock:
            if not self._pending:
                return
            rows = [_row(inc, time.time()) for inc in self._pending]
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                # rowcount sums sqlite3_changes(): rows inserted, not the trigger's.
                inserted = self._conn.executemany(_INSERT, rows).rowcount
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise SinkDeliveryError(f"incident store {self.path}: {exc}",
                                        pending=len(rows)) from None
            self.stored += max(inserted, 0)
            self._pending.clear()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._conn.close()
