"""Live = replay: the service over a 4-partition topic raises the incidents a replay raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.kafka import EmbeddedBroker

from .conftest import (
    SimData,
    canonical,
    open_keys,
    prepared_topics,
    read_jsonl,
    run_until_drained,
    runtime,
    service_settings,
    unique,
)


@pytest.mark.slow
async def test_live_equals_replay(broker: EmbeddedBroker, sim: SimData, tmp_path: Path) -> None:
    bs = broker.bootstrap_servers
    access, deps = await prepared_topics(bs, sim)
    out = tmp_path / "incidents.jsonl"
    rt = runtime(service_settings(bs, access, deps, unique("g")), out, tmp_path / "log.jsonl")
    await run_until_drained(rt)
    records = read_jsonl(out)
    assert open_keys(records) == sim.expected
    # Not only the same incidents: the same changes, updates and evidence included
    # (a service's incidents depend on its own traffic, whatever the partitioning).
    assert canonical(records) == sim.changes
    assert rt.stop_reason == "drained"
