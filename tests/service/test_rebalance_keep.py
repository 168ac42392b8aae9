"""A partition given back to its owner by a rebalance keeps its pipeline when the store
still holds what that owner saved on revoke; a checkpoint saved by anyone else since
is restored instead (crash safety is the store's, as before)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from detector.config import Settings
from detector.kafka.records import KafkaRecord
from detector.service.config import ServiceSettings
from detector.service.runtime import JsonLog, ServiceRuntime
from detector.state.checkpointing import DirectoryStore

TP = TopicPartition("access", 0)


class FakeSource:
    """What ``Assignment.restore`` and a checkpoint's commit ask of the consumer."""

    def __init__(self) -> None:
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.commits: list[dict[TopicPartition, int]] = []

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def seek_to_start(self, tp: TopicPartition) -> None:
        self.seeks.append((tp, 0))

    async def committed(self, tp: TopicPartition) -> int | None:
        return None

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))


def _runtime(tmp: Path) -> tuple[ServiceRuntime, FakeSource, io.StringIO]:
    out = io.StringIO()
    rt = ServiceRuntime(ServiceSettings(topics=("access",), state_dir=tmp), Settings(), [],
                        store=DirectoryStore(tmp), log=JsonLog(out), analysis=False)
    source = FakeSource()
    rt.ctx.source = source  # type: ignore[assignment]
    return rt, source, out


def _records(start: int, n: int) -> list[KafkaRecord]:
    return [KafkaRecord("access", 0, start + i, b"shop", orjson.dumps({
        "timestamp": 1_700_000_000 + start + i, "service.name": "shop",
        "http.request.method": "GET", "url.path": f"/items/{i}",
        "http.response.status_code": 200, "http.server.request.duration": 0.01,
        "client.address": "10.0.0.1"}), 1_700_000_000_000, ()) for i in range(n)]


def _assigned(out: io.StringIO) -> list[dict[str, Any]]:
    return [r for r in map(orjson.loads, out.getvalue().splitlines())
            if r["event"] == "assigned"]


async def test_given_back_unchanged_keeps_its_pipeline(tmp_path: Path) -> None:
    rt, source, out = _runtime(tmp_path)
    await rt.assignment.on_assigned(frozenset({TP}))
    rt.records.handle({TP: _records(0, 50)})
    before = rt.parts[TP].pipeline
    events = before.summary.events
    await rt.assignment.on_revoked(frozenset({TP}))
    assert TP not in rt.parts and source.commits[-1] == {TP: 50}
    await rt.assignment.on_assigned(frozenset({TP}))
    st = rt.parts[TP]
    assert st.pipeline is before and st.pipeline.summary.events == events
    assert st.ready and st.next_offset == st.saved_offset == 50
    assert source.seeks[-1] == (TP, 50)
    assert _assigned(out)[-1]["state"] == "kept"
    assert rt.assignment.parked == {}
    # It goes on from there, and a later revoke saves it again.
    rt.records.handle({TP: _records(50, 10)})
    assert st.pipeline.summary.events == events + 10
    await rt.assignment.on_revoked(frozenset({TP}))
    assert source.commits[-1] == {TP: 60}


async def test_a_checkpoint_saved_by_another_owner_is_restored(tmp_path: Path) -> None:
    rt, source, out = _runtime(tmp_path)
    await rt.assignment.on_assigned(frozenset({TP}))
    rt.records.handle({TP: _records(0, 50)})
    await rt.assignment.on_revoked(frozenset({TP}))
    mine = rt.assignment.parked[TP].pipeline
    # Meanwhile another member owned it, read on and saved (in the same store).
    other, _, _ = _runtime(tmp_path)
    await other.assignment.on_assigned(frozenset({TP}))
    other.records.handle({TP: _records(50, 30)})
    await other.assignment.on_revoked(frozenset({TP}))
    await rt.assignment.on_assigned(frozenset({TP}))
    st = rt.parts[TP]
    assert st.pipeline is not mine
    assert st.next_offset == 80 and source.seeks[-1] == (TP, 80)
    assert _assigned(out)[-1]["state"] == "snapshot"


async def test_a_partition_not_given_back_is_let_go(tmp_path: Path) -> None:
    rt, _, _ = _runtime(tmp_path)
    other = TopicPartition("access", 1)
    await rt.assignment.on_assigned(frozenset({TP, other}))
    rt.records.handle({TP: _records(0, 20)})
    await rt.assignment.on_revoked(frozenset({TP, other}))
    assert set(rt.assignment.parked) == {TP}  # the other never read a record: no state
    await rt.assignment.on_assigned(frozenset({other}))
    assert rt.assignment.parked == {}  # TP went to another member: not held in memory
