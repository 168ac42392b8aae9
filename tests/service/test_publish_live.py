"""Published = replayed: the service over a topic `detector publish` filled raises the
incidents a replay of the same files raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.jobs.publish import publish
from detector.kafka import EmbeddedBroker, KafkaConnection

from .conftest import (
    SimData,
    canonical,
    load_deployments,
    make_topics,
    open_keys,
    read_jsonl,
    run_until_drained,
    runtime,
    service_settings,
    unique,
)


@pytest.mark.slow
async def test_published_topic_gives_replays_incidents(broker: EmbeddedBroker, sim: SimData,
                                                       tmp_path: Path) -> None:
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs)
    await load_deployments(bs, deps, sim)
    summary = await publish([str(f) for f in sim.files], access,
                            KafkaConnection(bootstrap_servers=bs))
    assert summary.lines == len(sim.records) and summary.bad == 0
    out = tmp_path / "incidents.jsonl"
    rt = runtime(service_settings(bs, access, deps, unique("g")), out)
    await run_until_drained(rt)
    records = read_jsonl(out)
    assert open_keys(records) == sim.expected
    assert canonical(records) == sim.changes
