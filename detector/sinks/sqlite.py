"""``sqlite:PATH``: the incident store, one row per incident state change.

Writes are batched: ``write()`` only queues, ``flush()`` stores the batch in
one transaction (part of a checkpoint: flush sinks, then snapshot state, then
commit offsets). Re-delivering a change after a crash or a restart is a no-op:
rows are unique by :func:`~detector.sinks.delivery.change_key` fields and
inserted with ``ON CONFLICT DO NOTHING``. The ``incidents`` table holds the latest
state of each incident, kept by a trigger so any writer keeps it right.
:class:`detector.incidents.store.IncidentStore` reads it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import orjson

from detector.incidents.model import Incident
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError, to_epoch

# Migrations, in order: MIGRATIONS[n] takes the schema from version n to n + 1.
# Append only; never edit a released step.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE incident_changes (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL,
        status         TEXT NOT NULL,
        end_at         TEXT NOT NULL,
        severity       TEXT NOT NULL,
        kind           TEXT NOT NULL,
        service        TEXT NOT NULL,
        start_epoch    REAL NOT NULL,
        end_epoch      REAL NOT NULL,
        detected_epoch REAL NOT NULL,
        stored_at      REAL NOT NULL,
        body           TEXT NOT NULL,
        UNIQUE (id, status, end_at, severity)
    );
    CREATE INDEX incident_changes_by_id ON incident_changes (id, seq);
    CREATE TABLE incidents (
        id             TEXT PRIMARY KEY,
        seq            INTEGER NOT NULL,
        status         TEXT NOT NULL,
        severity       TEXT NOT NULL,
        kind           TEXT NOT NULL,
        service        TEXT NOT NULL,
        start_epoch    REAL NOT NULL,
        end_epoch      REAL NOT NULL,
        detected_epoch REAL NOT NULL,
        body           TEXT NOT NULL
    );
    CREATE INDEX incidents_by_detected ON incidents (detected_epoch, seq);
    CREATE INDEX incidents_by_service ON incidents (service, detected_epoch);
    -- A duplicate inserts no row, so it never moves the latest state. DELETE and
    -- INSERT, not INSERT OR REPLACE: an outer statement's conflict policy
    -- would override the trigger's.
    CREATE TRIGGER incident_latest AFTER INSERT ON incident_changes BEGIN
        DELETE FROM incidents WHERE id = NEW.id;
        INSERT INTO incidents
            (id, seq, status, severity, kind, service, start_epoch, end_epoch,
             detected_epoch, body)
        VALUES (NEW.id, NEW.seq, NEW.status, NEW.severity, NEW.kind, NEW.service,
                NEW.start_epoch, NEW.end_epoch, NEW.detected_epoch, NEW.body);
    END;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
log = logging.getLogger("detector.sinks")

_INSERT = """
INSERT INTO incident_changes
    (id, status, end_at, severity, kind, service, start_epoch, end_epoch, detected_epoch,
     stored_at, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id, status, end_at, severity) DO NOTHING
"""


def connect(path: str | Path, *, busy_timeout_s: float = 5.0,
            read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, busy timeout."""
    if read_only:
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s,
                               isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a flushed incident survives a power cut, since offsets are
        # committed right after the flush. Flushes are rare, so it is cheap.
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if row is None:
        return 0
    got = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(got[0] or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; return the version found before."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            raise SinkError(f"incident store schema version {found} is newer than this "
                            f"detector knows ({SCHEMA_VERSION}): upgrade detector")
        for version in range(found, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
        conn.execute("COMMIT")
        return found
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    # executescript() would commit the open transaction; split on complete
    # statements instead (a trigger body holds several semicolons).
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


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
