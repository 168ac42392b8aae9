"""The stdout sink sees every partition's changes in event-time order; paging sinks at once."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from detector.config import Settings
from detector.incidents.model import Incident
from detector.kafka.broker import EmbeddedBroker
from detector.service.fanout import FanOutSink
from detector.service.jsonlog import JsonLog
from detector.service.metrics import Metrics
from detector.service.runtime import ServiceRuntime
from detector.sinks import MemorySink
from detector.sinks.files import StdoutSink

from .conftest import SimData, canonical, prepared_topics, run_until_drained, service_settings
from .conftest import unique as unique_name


def change(n: int) -> Incident:
    return Incident(id=f"inc-{n:012x}", status="open", kind="error_surge", severity="high",
                    service="pay", route="/r", method="GET", client=None,
                    start="2026-03-17T09:07:00Z", end="2026-03-17T09:08:00Z",
                    detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
                    evidence={}, deployment=None)


def test_ordered_sink_gets_changes_by_event_time_once_released() -> None:
    stream = io.StringIO()
    memory = MemorySink()
    fan = FanOutSink([StdoutSink(stream, pretty=False), memory], Metrics())
    try:
        # Partition a runs ahead of partition b.
        fan.submit("a", change(1), 300.0)
        fan.submit("a", change(2), 360.0)
        fan.submit("b", change(3), 120.0)
        fan.release(200.0)  # b has passed 200: what came at 120 may go
        assert fan.drain(5) is True  # drain releases the rest: the end of the run
        got = [orjson.loads(line)["id"] for line in stream.getvalue().splitlines()]
        assert got == [change(3).id, change(1).id, change(2).id]
        assert [i.id for i in memory.items] == [change(n).id for n in (1, 2, 3)]  # not held
    finally:
        fan.close()


def test_held_changes_count_as_pending_until_released() -> None:
    fan = FanOutSink([StdoutSink(io.StringIO(), pretty=False)], Metrics(), max_pending=1)
    try:
        fan.submit("a", change(1), 300.0)
        fan.release(299.0)
        assert fan.pending() == {"stdout": 1}
        # Held for order, not stuck: consumption must go on so that it can be released.
        assert fan.over_bound() is False
        fan.forget("a")  # the partition moved away: its new owner delivers it
        assert fan.pending() == {"stdout": 0}
    finally:
        fan.close()


@pytest.mark.slow
async def test_service_stdout_is_in_event_time_order_across_partitions(
        broker: EmbeddedBroker, sim: SimData, tmp_path: Path) -> None:
    bs = broker.bootstrap_servers
    access, deps = await prepared_topics(bs, sim)
    stream = io.StringIO()
    rt = ServiceRuntime(service_settings(bs, access, deps, unique_name("g")), Settings(),
                        [StdoutSink(stream, pretty=False)],
                        log=JsonLog(open("/dev/null", "w")))  # noqa: SIM115
    await run_until_drained(rt)
    records = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert canonical(records) == sim.changes  # nothing held back for good
    opened = [r["detected_at"] for r in records if r["status"] == "open"]
    assert opened == sorted(opened)
    assert len({r["service"] for r in records}) > 1  # several partitions took part
