"""Item 8: a slow, failing or hanging sink never stalls detection; the delivery ledger
makes a restart neither drop nor repeat a change; the checkpoint-age metric counts
successful checkpoints only; /healthz names a sink failing longer than a threshold."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.config import Settings
from detector.incidents.model import Incident
from detector.kafka.broker import EmbeddedBroker
from detector.service.fanout import FanOutSink
from detector.service.jsonlog import JsonLog
from detector.service.metrics import Metrics
from detector.service.runtime import ServiceRuntime
from detector.state.checkpointing import DirectoryStore, pack, unpack_ledger

from .conftest import (
    SimData,
    canonical,
    consumed,
    prepared_topics,
    service_settings,
    unique,
    wait_for,
)


def change(n: int, status: str = "open") -> Incident:
    return Incident(id=f"inc-{n:012x}", status=status, kind="error_surge", severity="high",
                    service="pay", route="/r", method="GET", client=None,
                    start="2026-03-17T09:07:00Z", end=f"2026-03-17T09:{10 + n % 40:02d}:00Z",
                    detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
                    evidence={}, deployment=None)


class GateSink:
    """Confirms (flush) only while ``open``; else flush waits for the gate, or raises
    once ``abandon`` is set. ``confirmed`` holds what a flush confirmed."""

    def __init__(self, open_: bool = True, confirm_first: int = 0) -> None:
        self.gate = threading.Event()
        if open_:
            self.gate.set()
        self.abandon = threading.Event()
        self.confirm_first = confirm_first  # flushes that pass while the gate is closed
        self.buffer: list[Incident] = []
        self.confirmed: list[Incident] = []
        self.flushes = 0

    def write(self, incident: Incident) -> None:
        self.buffer.append(incident)

    def flush(self) -> None:
        if self.buffer and self.flushes >= self.confirm_first:
            while not self.gate.wait(0.05):
                if self.abandon.is_set():
                    raise ConnectionError("endpoint hangs")
        self.flushes += 1 if self.buffer else 0
        self.confirmed.extend(self.buffer)
        self.buffer.clear()

    def close(self) -> None:
        return None


class BrokenSink:
    def write(self, incident: Incident) -> None:
        return None

    def flush(self) -> None:
        raise ConnectionError("503 from the endpoint")

    def close(self) -> None:
        return None


def test_write_never_blocks_on_a_hanging_sink() -> None:
    sink = GateSink(open_=False)
    fan = FanOutSink([sink], Metrics(), retry_base=0.01)
    t0 = time.monotonic()
    for n in range(500):
        fan.origin("p0").write(change(n))
    assert time.monotonic() - t0 < 5  # generous: it must simply not wait for the sink
    assert fan.pending() == {"gate": 500}
    sink.gate.set()
    assert fan.drain(10)
    assert [i.id for i in sink.confirmed] == [change(n).id for n in range(500)]
    fan.close()


def test_ledger_redelivers_pending_and_skips_delivered_replays() -> None:
    sink = GateSink(open_=False)
    fan = FanOutSink([sink], Metrics(), retry_base=0.01)
    w = fan.origin("g:access:0")
    w.write(change(1))
    captured = fan.seq  # the state is captured here: change 1 is before the cut
    sink.gate.set()
    assert fan.drain(5)
    sink.gate.clear()
    w.write(change(2))  # after the cut, delivered
    sink.gate.set()
    assert fan.drain(5)
    sink.gate.clear()
    w.write(change(3))  # after the cut, not delivered
    ledger, dirty = fan.ledger("g:access:0", captured)
    fan.saved("g:access:0", captured, dirty)
    doc = orjson.loads(ledger)
    assert [p["key"].split("/")[0] for p in doc["pending"]] == [change(3).id]
    assert doc["delivered"] == [f"{change(2).id}/open/{change(2).end}/high"]
    sink.abandon.set()
    fan.close()

    # Restart: the restored pipeline re-emits changes 2 and 3 (they follow the cut).
    again = GateSink()
    fan2 = FanOutSink([again], Metrics())
    fan2.restore("g:access:0", ledger)
    fan2.origin("g:access:0").write(change(2))
    fan2.origin("g:access:0").write(change(3))
    fan2.origin("g:access:0").write(change(4))
    assert fan2.drain(5)
    assert [i.id for i in again.confirmed] == [change(3).id, change(4).id]  # 2 not repeated
    assert fan2.skipped == 2
    fan2.close()


def test_a_redelivered_change_is_remembered_until_the_replay_emits_it_again() -> None:
    """A change taken over from a ledger and delivered before the restored pipeline
    has re-read its record must still be known when that record comes again,
    even across another checkpoint taken meanwhile."""
    sink = GateSink(open_=False)
    fan = FanOutSink([sink], Metrics(), retry_base=0.01)
    fan.origin("p").write(change(1))  # emitted after the cut: the replay emits it again
    ledger, _ = fan.ledger("p", 0)
    assert orjson.loads(ledger)["pending"][0]["replays"] is True
    sink.abandon.set()
    fan.close()

    again = GateSink()
    fan2 = FanOutSink([again], Metrics())
    fan2.restore("p", ledger)
    assert fan2.drain(5)  # re-delivered from the ledger
    cut = fan2.seq  # another checkpoint, before the replay reached the record
    ledger2, dirty = fan2.ledger("p", cut)
    fan2.saved("p", cut, dirty)
    assert orjson.loads(ledger2)["delivered"] == [f"{change(1).id}/open/{change(1).end}/high"]
    fan2.origin("p").write(change(1))  # the replay reaches the record
    assert fan2.drain(5)
    assert [i.id for i in again.confirmed] == [change(1).id]  # once
    fan2.close()


def test_checkpoint_carries_the_ledger() -> None:
    assert unpack_ledger(pack(7, b"snap", b'{"v":1}')) == (7, b"snap", b'{"v":1}')
    assert unpack_ledger(pack(7, b"snap")) == (7, b"snap", b"")


def test_full_backlog_is_backpressure_not_a_drop() -> None:
    sink = GateSink(open_=False)
    fan = FanOutSink([sink], Metrics(), max_pending=3, retry_base=0.01)
    for n in range(5):
        fan.origin("p").write(change(n))
    assert fan.over_bound()
    assert len(orjson.loads(fan.ledger("p", 0)[0])["pending"]) == 5  # nothing dropped
    sink.gate.set()
    assert fan.drain(5) and not fan.over_bound()
    fan.close()


class _Source:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_all(self) -> None:
        self.calls.append("pause")

    def resume_all(self) -> None:
        self.calls.append("resume")


def test_runtime_pauses_consumption_while_a_sink_is_full_and_health_names_it() -> None:
    cfg = service_settings("127.0.0.1:9", "a", "d", "g", sink_max_pending=2,
                           sink_failing_after=0.2)
    broken = BrokenSink()
    rt = ServiceRuntime(cfg, Settings(), [broken], log=JsonLog(open("/dev/null", "w")))  # noqa: SIM115
    rt.source = _Source()  # type: ignore[assignment]
    for n in range(3):
        rt.sink.origin("p").write(change(n))
    rt._apply_backpressure()
    assert rt.source.calls == ["pause"]  # type: ignore[attr-defined]
    assert 'detector_sink_backpressure 1' in rt.metrics.render()
    deadline = time.monotonic() + 10
    while rt.healthy()[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    ok, why = rt.healthy()
    assert not ok and "sink broken failing" in why and "503" in why
    rt.sink.close()


@pytest.mark.slow
async def test_hanging_sink_restart_neither_drops_nor_repeats(
    broker: EmbeddedBroker, sim: SimData, tmp_path: Path
) -> None:
    bs = broker.bootstrap_servers
    access, deps = await prepared_topics(bs, sim)
    group = unique("slow")
    cfg = service_settings(bs, access, deps, group, state_dir=tmp_path / "state",
                           drain_when_idle=3.0, grace_period=4.0, sink_failing_after=0.5)
    log = tmp_path / "log.jsonl"
    # Run 1: the sink confirms its first batch, then hangs for good.
    first = GateSink(open_=False, confirm_first=1)
    rt = ServiceRuntime(cfg, Settings(), [first], store=DirectoryStore(tmp_path / "state"),
                        log=JsonLog(open(log, "a")))  # noqa: SIM115
    rt.sink.batch = 1  # one change per confirmation: run 1 confirms exactly one
    task = asyncio.create_task(rt.run())
    try:
        # Detection goes on: every record is consumed while the sink hangs...
        await wait_for(lambda: consumed(rt) >= len(sim.records), 60)
        # ...and /healthz names the sink once it has hung past the threshold.
        await wait_for(lambda: not rt.healthy()[0], 30)
        assert "sink gate failing" in rt.healthy()[1]
        assert await asyncio.wait_for(task, 60) == 0
    finally:
        first.abandon.set()
    # Run 2 (a restart): what run 1 had not delivered comes from the ledger, once.
    second = GateSink()
    rt2 = ServiceRuntime(cfg, Settings(), [second], store=DirectoryStore(tmp_path / "state"),
                         log=JsonLog(open(log, "a")))  # noqa: SIM115
    assert await asyncio.wait_for(rt2.run(), 60) == 0
    got: list[dict[str, Any]] = [i.model_dump(mode="json")
                                 for i in first.confirmed + second.confirmed]
    assert first.confirmed and second.confirmed
    assert canonical(got) == sim.changes  # every change exactly once over both runs
    assert '"sink unhealthy"' in log.read_text()


class FailingStore:
    def __init__(self) -> None:
        self.fail = True
        self.data: dict[str, bytes] = {}

    def save(self, key: str, data: bytes) -> None:
        if self.fail:
            raise OSError("disk full")
        self.data[key] = data

    def load(self, key: str) -> bytes | None:
        return self.data.get(key)


def age(rt: ServiceRuntime) -> float:
    for line in rt.metrics.render().splitlines():
        if line.startswith("detector_last_checkpoint_age_seconds "):
            return float(line.split()[1])
    raise AssertionError("no checkpoint age metric")


async def test_checkpoint_age_counts_successful_checkpoints_only(
    broker: EmbeddedBroker, sim: SimData, tmp_path: Path
) -> None:
    bs = broker.bootstrap_servers
    access, deps = await prepared_topics(bs, sim, sim.records[:200])
    store = FailingStore()
    cfg = service_settings(bs, access, deps, unique("age"), drain_when_idle=None,
                           checkpoint_every=0.5)
    log = tmp_path / "log.jsonl"
    rt = ServiceRuntime(cfg, Settings(), [GateSink()], store=store,
                        log=JsonLog(open(log, "a")))  # noqa: SIM115
    task = asyncio.create_task(rt.run())
    try:
        await wait_for(lambda: consumed(rt) >= 200, 60)
        # Checkpoints are attempted every 0.5 s and all fail: the age keeps growing.
        await wait_for(lambda: age(rt) > 3.0, 30)
        assert '"checkpoint failed"' in log.read_text()
        store.fail = False
        await wait_for(lambda: age(rt) < 2.0, 30)
    finally:
        rt.request_stop()
        await asyncio.wait_for(task, 60)
