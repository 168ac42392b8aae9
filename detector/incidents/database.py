"""The incident store's database: its schema, its migrations and how it is opened.

The one place that opens the SQLite incident store: the ``sqlite:PATH`` sink
(:mod:`detector.sinks.sqlite`) writes through :func:`connect` and :func:`migrate`,
:class:`detector.incidents.store.IncidentStore` reads through :func:`connect`.

>>> conn = connect(":memory:")
>>> migrate(conn), schema_version(conn) == SCHEMA_VERSION
(0, True)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(ValueError):
    """The store cannot be read (missing file, not an incident store, newer schema)
    or a filter is invalid. Not retriable."""


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
    # 2: feedback on incidents (``detector incidents ack|resolve|false-positive``).
    """
    CREATE TABLE incident_feedback (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL,
        action         TEXT NOT NULL,
        note           TEXT NOT NULL,
        author         TEXT NOT NULL,
        at             TEXT NOT NULL
    );
    CREATE INDEX incident_feedback_by_id ON incident_feedback (id, seq);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)



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
            raise StoreError(f"incident store schema version {found} is newer than this "
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
