"""Read side of the incident store written by the ``sqlite:PATH`` sink."""

from __future__ import annotations

import builtins
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from detector.durations import TERM, term_seconds
from detector.incidents.database import SCHEMA_VERSION, StoreError, connect, schema_version
from detector.incidents.model import Incident

__all__ = ["STATUSES", "IncidentNotFound", "IncidentStore", "StoreError", "parse_since"]

STATUSES = ("open", "update", "resolved", "active")


class IncidentNotFound(StoreError):
    """No incident with that id in the store."""


def parse_since(value: datetime | str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from a datetime, an ISO 8601 time or a relative
    duration back from ``now`` (``90s``, ``30m``, ``2h``, ``1d``, ``1w``).

    >>> now = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)
    >>> parse_since("2h", now).isoformat()
    '2026-03-17T10:00:00+00:00'
    >>> parse_since("2026-03-17T09:07:00Z").isoformat()
    '2026-03-17T09:07:00+00:00'
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    m = TERM.fullmatch(value.strip())  # one term only: "2h", not "1h30m"
    if m:
        try:
            return (now or datetime.now(UTC)) - timedelta(seconds=term_seconds(m))
        except (OverflowError, ValueError):  # before year 1: a typo, not a bug
            raise StoreError(f"--since {value.strip()[:40]!r}: too far back "
                             "(a duration like 30m, 2h, 1d)") from None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise StoreError(f"--since {value!r}: use an ISO time (2026-03-17T09:00:00Z) "
                         "or a duration (30m, 2h, 1d)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class IncidentStore:
    """Latest state and history of the incidents in a ``sqlite:PATH`` store.

    >>> import tempfile, pathlib
    >>> from detector.sinks.sqlite import SqliteSink
    >>> db = str(pathlib.Path(tempfile.mkdtemp()) / "incidents.db")
    >>> base = dict(id="inc-1", kind="error_surge", severity="high", service="pay",
    ...             route="/r", method="GET", client=None, start="2026-03-17T09:07:00Z",
    ...             detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
    ...             evidence={}, deployment=None)
    >>> sink = SqliteSink(db)
    >>> sink.write(Incident(status="open", end="2026-03-17T09:08:00Z", **base))
    >>> sink.write(Incident(status="resolved", end="2026-03-17T09:12:00Z", **base))
    >>> sink.close()
    >>> with IncidentStore(db) as store:
    ...     [i.status for i in store.list(service="pay")]
    ...     latest, history = store.show("inc-1")
    ...     [h.status for h in history]
    ['resolved']
    ['open', 'resolved']
    """

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"no incident store at {self.path} (write one with --sink "
                             f"sqlite:{self.path})")
        try:
            self._conn = connect(self.path, busy_timeout_s=busy_timeout_s, read_only=True)
            found = schema_version(self._conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read incident store {self.path}: {exc}") from None
        if found == 0:
            self._conn.close()
            raise StoreError(f"{self.path} is not an incident store")
        if found > SCHEMA_VERSION:
            self._conn.close()
            raise StoreError(f"incident store {self.path} has schema version {found}, newer "
                             f"than this detector knows ({SCHEMA_VERSION}): upgrade detector")

    def list(
        self,
        service: str | None = None,
        kind: str | None = None,
        since: datetime | str | None = None,
        status: str | None = None,
        limit: int = 100,
        *,
        now: datetime | None = None,
    ) -> builtins.list[Incident]:
        """Latest state of each matching incident, most recently detected first.

        ``since`` keeps incidents active at or after that time (their ``end``
        is not earlier); relative durations count back from ``now`` (wall
        clock), so they suit a live service rather than a replay of old logs.
        ``status`` is ``open``, ``update``, ``resolved`` or ``active`` (not
        resolved).
        """
        where: builtins.list[str] = []
        args: builtins.list[object] = []
        if service is not None:
            where.append("service = ?")
            args.append(service)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if since is not None:
            where.append("end_epoch >= ?")
            args.append(parse_since(since, now).timestamp())
        if status is not None:
            if status not in STATUSES:
                raise StoreError(f"unknown status {status!r} ({', '.join(STATUSES)})")
            if status == "active":
                where.append("status != 'resolved'")
            else:
                where.append("status = ?")
                args.append(status)
        if limit < 1:
            raise StoreError(f"limit must be at least 1, not {limit}")
        sql = "SELECT body FROM incidents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY detected_epoch DESC, seq DESC LIMIT ?"
        args.append(limit)
        return [Incident.model_validate_json(r[0]) for r in self._query(sql, args)]

    def show(self, incident_id: str) -> tuple[Incident, builtins.list[Incident]]:
        """The latest state of one incident and all its stored changes, oldest first."""
        rows = self._query("SELECT body FROM incident_changes WHERE id = ? ORDER BY seq",
                           [incident_id])
        if not rows:
            raise IncidentNotFound(f"no incident {incident_id!r} in {self.path}")
        history = [Incident.model_validate_json(r[0]) for r in rows]
        return history[-1], history

    def _query(self, sql: str, args: builtins.list[object]) -> builtins.list[tuple[str]]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read incident store {self.path}: {exc}") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> IncidentStore:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
