"""The service picks up a new `current` model version without a restart (CONTRACTS §5)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from detector.config import Settings
from detector.jobs.train import train
from detector.kafka import EmbeddedBroker
from detector.models.registry import ModelRegistry
from detector.service.runtime import JsonLog, ServiceRuntime
from detector.sinks import MemorySink

from .conftest import SimData, feed, make_topics, service_settings, unique


async def _until(cond: object, timeout: float) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.slow
async def test_new_current_version_is_swapped_in_while_running(
    broker: EmbeddedBroker, sim: SimData, tmp_path: Path
) -> None:
    history = [str(f) for f in sim.files if "payments" in f.name]
    models = tmp_path / "models"
    v1 = train(history, models).version
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs, partitions=2)
    await feed(bs, access, sim.records[: len(sim.records) // 4])
    cfg = service_settings(bs, access, deps, unique("reload"), drain_when_idle=None,
                           models=models, model_check_every=0.3, state_dir=tmp_path / "state")
    log = tmp_path / "log.jsonl"
    rt = ServiceRuntime(cfg, Settings(), [MemorySink()], log=JsonLog(open(log, "w")))  # noqa: SIM115
    task = asyncio.create_task(rt.run())
    try:
        assert await _until(lambda: rt.parts and all(st.ready for st in rt.parts.values()), 30)

        def versions() -> set[str | None]:
            return {st.pipeline.analyzer.version for st in rt.parts.values()
                    if st.pipeline.analyzer is not None}

        assert versions() == {v1}
        # A broken pointer is no new version: the running model stays.
        reg = ModelRegistry(models)
        (models / "request" / "current").write_text("../../etc/passwd\n")
        await asyncio.sleep(1.0)
        assert versions() == {v1} and not task.done()
        reg.set_current("request", v1)
        v2 = train(history, models, n_estimators=50).version
        assert v2 != v1 and reg.current("request") == v2
        assert await _until(lambda: versions() == {v2}, 20), versions()
        assert rt.metrics.value("detector_model_reloads_total") == len(rt.parts)
        # Keeps consuming with the new version.
        await feed(bs, access, sim.records[len(sim.records) // 4: len(sim.records) // 2])
        assert await _until(
            lambda: sum(st.next_offset or 0 for st in rt.parts.values())
            >= len(sim.records) // 2, 30)
    finally:
        rt.request_stop("test")
        await asyncio.wait_for(task, 30)
    assert '"event":"model reloaded"' in log.read_text()
