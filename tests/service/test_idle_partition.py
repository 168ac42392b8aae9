"""A service that stops sending: its partition's windows still close (by wall-clock time
once caught up and silent), so the silence is reported as a drop, live, without a drain."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import orjson

from detector.config import DetectorSettings, Settings, WindowSettings
from detector.kafka import EmbeddedBroker, produce_lines
from detector.service.runtime import JsonLog, ServiceRuntime
from detector.sinks import MemorySink

from .conftest import make_topics, service_settings, unique

SIZE, LATENESS = 5.0, 1.0


def _history(end: float, windows: int, per_s: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    start = (end // SIZE - windows) * SIZE
    n = int((end - start) * per_s)
    return [orjson.dumps({
        "timestamp": round(start + i / per_s, 3), "service.name": "quiet",
        "http.request.method": "GET", "url.path": f"/api/items/{rng.randint(1, 9999)}",
        "http.response.status_code": 200, "http.server.request.duration": 0.02,
        "client.address": f"10.1.0.{rng.randint(1, 200)}",
    }) for i in range(n)]


async def _run_until(rt: ServiceRuntime, sink: MemorySink, kind: str, timeout: float) -> float:
    task = asyncio.create_task(rt.run())
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            if any(i.kind == kind and i.status == "open" for i in sink.items):
                return time.monotonic() - t0
            assert not task.done(), "the service stopped by itself"
            await asyncio.sleep(0.1)
        return -1.0
    finally:
        rt.request_stop("test")
        await asyncio.wait_for(task, 30)


def _settings() -> Settings:
    return Settings(windows=WindowSettings(size_seconds=SIZE, allowed_lateness_seconds=LATENESS),
                    detectors=DetectorSettings(warmup_windows=10))


async def _quiet_service(broker: EmbeddedBroker, tmp_path: Path, idle_close_after: float,
                         seed: int) -> tuple[ServiceRuntime, MemorySink, str]:
    """A 1-partition topic holding 200 s of steady traffic ending now, then nothing more."""
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs, partitions=1)
    await produce_lines(bs, access, _history(time.time(), 40, 10, seed),
                        key_fn=lambda _l: b"quiet")
    cfg = service_settings(bs, access, deps, unique("idle"), drain_when_idle=None,
                           idle_close_after=idle_close_after, state_dir=tmp_path / "state")
    sink = MemorySink()
    rt = ServiceRuntime(cfg, _settings(), [sink], log=JsonLog(open("/dev/null", "w")))  # noqa: SIM115
    return rt, sink, access


async def test_silent_partition_closes_its_windows_and_reports_the_drop(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    rt, sink, access = await _quiet_service(broker, tmp_path, 1.0, seed=1)
    took = await _run_until(rt, sink, "traffic_drop", 60.0)
    assert took >= 0, f"no traffic_drop; incidents: {[i.kind for i in sink.items]}"
    assert rt.metrics.value("detector_idle_windows_closed_total", topic=access) > 0


async def test_without_idle_closing_a_silent_partition_stays_open(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    rt, sink, _ = await _quiet_service(broker, tmp_path, 0.0, seed=2)
    assert await _run_until(rt, sink, "traffic_drop", 8.0) == -1.0
