"""`detector run --retrain-every`: each partition's model is retrained on its own recent
traffic in a child process, published to the registry and swapped in while consuming."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from detector.config import Settings
from detector.kafka import EmbeddedBroker
from detector.models.registry import ModelRegistry
from detector.service.config import ServiceSettings
from detector.service.retrain import partition_model_name
from detector.service.runtime import JsonLog, ServiceRuntime
from detector.sinks import MemorySink

from .conftest import SimData, feed, make_topics, service_settings, unique


def test_retrain_settings_are_checked_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        ServiceSettings(retrain_every="soon", models=tmp_path)
    with pytest.raises(ValidationError, match="needs models"):
        ServiceSettings(retrain_every="6h")
    assert ServiceSettings(retrain_every="1h30m", models=tmp_path).retrain_every == "1h30m"


@pytest.mark.slow
async def test_partitions_retrain_publish_and_swap_in_their_own_models(
    broker: EmbeddedBroker, sim: SimData, tmp_path: Path
) -> None:
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs, partitions=2)
    await feed(bs, access, sim.records)
    models = tmp_path / "models"
    models.mkdir()
    cfg = service_settings(bs, access, deps, unique("retrain"), drain_when_idle=None,
                           models=models, retrain_every="3s", retrain_sample=5_000,
                           model_check_every=0.5, state_dir=tmp_path / "state")
    log = tmp_path / "log.jsonl"
    rt = ServiceRuntime(cfg, Settings(), [MemorySink()], log=JsonLog(open(log, "w")))  # noqa: SIM115
    task = asyncio.create_task(rt.run())
    names = {partition_model_name("request", access, p) for p in (0, 1)}
    reg = ModelRegistry(models)
    try:
        t0 = time.monotonic()
        swapped: dict[str, str] = {}
        published = 0.0

        def done() -> bool:
            return len(swapped) == 2 and published >= 2

        while time.monotonic() - t0 < 120 and not done():
            await asyncio.sleep(0.5)
            assert not task.done()
            for st in rt.parts.values():
                if st.model_name in names and st.pipeline.analyzer is not None:
                    swapped[st.model_name] = str(st.pipeline.analyzer.version)
            # The periodic model check may swap a version in before the training
            # task, still reading the child's result, has counted it.
            published = rt.metrics.value("detector_retrain_total", outcome="published")
        assert set(swapped) == names, log.read_text()[-2000:]
        for name, version in swapped.items():
            assert version in reg.versions(name)  # a later round may have published more
            card = reg.read_card(name, version)
            assert card["events"] >= 1_000  # the partition's sample, not the whole topic
            assert card["events"] <= 5_000
        assert published >= 2
    finally:
        rt.request_stop("test")
        await asyncio.wait_for(task, 30)
    text = log.read_text()
    assert '"event":"model retrained"' in text and '"event":"model reloaded"' in text
