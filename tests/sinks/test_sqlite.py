"""The incident store: idempotent re-delivery, latest state, filters, history."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detector.incidents.database import SCHEMA_VERSION
from detector.incidents.model import Incident
from detector.incidents.store import IncidentNotFound, IncidentStore, StoreError, parse_since
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError
from detector.sinks.registry import make_sink
from detector.sinks.sqlite import SqliteSink

from .incidents import incident, lifecycle

NOW = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)


def fill(db: Path, changes: list[Incident]) -> SqliteSink:
    sink = SqliteSink(str(db))
    for inc in changes:
        sink.write(inc)
    sink.flush()
    return sink


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM incident_changes").fetchone()[0])


def test_registered_and_wal(tmp_path: Path) -> None:
    sink = make_sink(f"sqlite:{tmp_path / 'sub' / 'i.db'}")
    assert isinstance(sink, SqliteSink)
    sink.close()
    with sqlite3.connect(tmp_path / "sub" / "i.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] \
            == SCHEMA_VERSION


def test_redelivery_is_a_no_op(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    changes = lifecycle()
    sink = fill(db, changes)
    assert sink.stored == 4
    # Crash after the flush, restart from an older snapshot: the same changes come again.
    sink.close()
    again = fill(db, changes[:2] + changes)
    assert again.stored == 0
    again.close()
    assert rows(db) == 4
    with IncidentStore(db) as store:
        latest, history = store.show("inc-000000000001")
    assert latest.status == "resolved"
    assert [(h.status, h.severity) for h in history] == [
        ("open", "high"), ("update", "high"), ("update", "critical"), ("resolved", "critical")]


def test_redelivered_old_change_does_not_move_the_latest_state(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    changes = lifecycle()
    fill(db, changes).close()
    fill(db, [changes[0]]).close()  # only the open comes again
    with IncidentStore(db) as store:
        assert store.show("inc-000000000001")[0].status == "resolved"
        assert [i.status for i in store.list()] == ["resolved"]


def test_updates_with_later_end_are_distinct(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    ends = ["2026-03-17T09:13:00Z", "2026-03-17T09:18:00Z", "2026-03-17T09:23:00Z"]
    fill(db, [incident(status="update", end=e) for e in ends]).close()
    assert rows(db) == 3


def test_nothing_is_stored_before_flush_and_one_transaction_per_flush(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    sink = SqliteSink(str(db))
    for inc in lifecycle():
        sink.write(inc)
    assert rows(db) == 0 and sink.pending == 4
    sink.flush()
    assert rows(db) == 4 and sink.pending == 0
    sink.close()


def test_locked_database_keeps_the_batch_for_the_next_flush(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    sink = SqliteSink(str(db), busy_timeout_s=0.1)
    sink.write(incident())
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(SinkDeliveryError) as info:
        sink.flush()
    assert info.value.retriable and sink.pending == 1
    blocker.execute("ROLLBACK")
    blocker.close()
    sink.flush()
    assert sink.pending == 0 and rows(db) == 1
    sink.close()


def test_concurrent_writer_threads(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    sinks = [SqliteSink(str(db)) for _ in range(3)]

    def work(sink: SqliteSink, n: int) -> None:
        for i in range(50):
            sink.write(incident(f"inc-{n:04d}{i:08d}"))
            if i % 10 == 9:
                sink.flush()
        sink.close()

    threads = [threading.Thread(target=work, args=(s, n)) for n, s in enumerate(sinks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rows(db) == 150


def test_unwritable_path_is_a_sink_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SinkError):
        SqliteSink(str(tmp_path / "file" / "i.db"))
    with pytest.raises(SinkError):
        make_sink("sqlite:")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    SqliteSink(str(db)).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(SinkError, match="newer"):
        SqliteSink(str(db))
    with pytest.raises(StoreError, match="newer"):
        IncidentStore(db)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IncidentStore]:
    db = tmp_path / "i.db"
    changes = [
        *lifecycle("inc-a00000000001"),  # payments error_surge, resolved at 09:18
        incident("inc-b00000000002", "open", service="search", kind="latency_regression",
                 detected_at="2026-03-17T10:30:00Z", start="2026-03-17T10:28:00Z",
                 end="2026-03-17T10:30:00Z"),
        incident("inc-c00000000003", "open", service="payments", kind="scanning",
                 severity="medium", route=None, client="203.0.113.9",
                 detected_at="2026-03-17T11:00:00Z", start="2026-03-17T10:58:00Z",
                 end="2026-03-17T11:00:00Z"),
        incident("inc-c00000000003", "update", service="payments", kind="scanning",
                 severity="medium", route=None, client="203.0.113.9",
                 detected_at="2026-03-17T11:00:00Z", start="2026-03-17T10:58:00Z",
                 end="2026-03-17T11:40:00Z"),
    ]
    fill(db, changes).close()
    s = IncidentStore(db)
    yield s
    s.close()


def ids(found: list[Incident]) -> list[str]:
    return [i.id for i in found]


def test_list_latest_state_newest_first(store: IncidentStore) -> None:
    found = store.list()
    assert ids(found) == ["inc-c00000000003", "inc-b00000000002", "inc-a00000000001"]
    assert [i.status for i in found] == ["update", "open", "resolved"]


def test_list_filters(store: IncidentStore) -> None:
    assert ids(store.list(service="payments")) == ["inc-c00000000003", "inc-a00000000001"]
    assert ids(store.list(kind="latency_regression")) == ["inc-b00000000002"]
    assert ids(store.list(status="resolved")) == ["inc-a00000000001"]
    assert ids(store.list(status="open")) == ["inc-b00000000002"]
    assert ids(store.list(status="active")) == ["inc-c00000000003", "inc-b00000000002"]
    assert ids(store.list(limit=1)) == ["inc-c00000000003"]
    assert ids(store.list(service="payments", kind="scanning", status="update")) == \
        ["inc-c00000000003"]
    assert store.list(service="nope") == []
    with pytest.raises(StoreError):
        store.list(status="closed")


def test_list_since(store: IncidentStore) -> None:
    # Active at or after: the scanning incident ended 11:40, search 10:30, payments 09:18.
    assert ids(store.list(since="1h", now=NOW)) == ["inc-c00000000003"]
    assert ids(store.list(since="2h", now=NOW)) == ["inc-c00000000003", "inc-b00000000002"]
    assert len(store.list(since="3h", now=NOW)) == 3
    assert ids(store.list(since="2026-03-17T10:30:00Z")) == \
        ["inc-c00000000003", "inc-b00000000002"]
    assert ids(store.list(since=datetime(2026, 3, 17, 11, 0))) == ["inc-c00000000003"]
    with pytest.raises(StoreError, match="since"):
        store.list(since="yesterday")


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", "2026-03-17T11:58:30+00:00"),
    ("30m", "2026-03-17T11:30:00+00:00"),
    ("2h", "2026-03-17T10:00:00+00:00"),
    ("1.5h", "2026-03-17T10:30:00+00:00"),
    ("1d", "2026-03-16T12:00:00+00:00"),
    ("1w", "2026-03-10T12:00:00+00:00"),
    ("2026-03-17T09:00:00Z", "2026-03-17T09:00:00+00:00"),
    ("2026-03-17T10:00:00+01:00", "2026-03-17T10:00:00+01:00"),
    ("2026-03-17 09:00", "2026-03-17T09:00:00+00:00"),
])
def test_parse_since(text: str, expected: str) -> None:
    assert parse_since(text, NOW).isoformat() == expected


def test_show_history_and_unknown(store: IncidentStore) -> None:
    latest, history = store.show("inc-c00000000003")
    assert latest.status == "update" and latest.end == "2026-03-17T11:40:00Z"
    assert [h.status for h in history] == ["open", "update"]
    assert latest.client == "203.0.113.9" and latest.route is None
    with pytest.raises(IncidentNotFound):
        store.show("inc-ffffffffffff")


def test_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no incident store"):
        IncidentStore(tmp_path / "missing.db")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not an incident store"):
        IncidentStore(other)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    inc = incident(evidence={"observed": 0.118, "p_value": 1e-12, "samples": ["GET /x?q=é"]})
    fill(db, [inc]).close()
    with IncidentStore(db) as store:
        assert store.show(inc.id)[0] == inc


def test_unparsable_time_does_not_poison_the_batch(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    fill(db, [incident("inc-odd", detected_at="sometime"), incident("inc-ok")]).close()
    assert rows(db) == 2
    with IncidentStore(db) as store:
        assert store.show("inc-odd")[0].detected_at == "sometime"
