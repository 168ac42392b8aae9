"""The service applies the suppression file as replay does, and re-reads it when it changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from detector.config import Settings
from detector.incidents.model import Incident
from detector.incidents.suppressions import Suppressions
from detector.jobs.replay import build_analyzer, run_replay
from detector.kafka import EmbeddedBroker
from detector.sinks import MemorySink

from .conftest import (
    SimData,
    canonical,
    feed,
    prepared_topics,
    read_jsonl,
    runtime,
    service_settings,
    unique,
    wait_for,
)


def _rule_for(sim: SimData) -> str:
    """A rule covering the kind of one of the scenario's incidents, in its service."""
    first = sorted(sim.expected)[0]
    incs = [Incident.model_validate_json(c) for c in sim.changes]
    inc = next(i for i in incs if i.id == first[0])
    return (f'[[suppress]]\nservice = "{inc.service}"\nkind = ["{inc.kind}"]\n'
            'reason = "known"\nauthor = "ops"\nexpires = "2030-01-01T00:00:00Z"\n')


def _replayed(sim: SimData, rules: Path) -> list[Incident]:
    sink = MemorySink()
    run_replay([str(f) for f in sim.files], settings=Settings(), fmt="auto",
               service="default", deployments=sim.dir / "deployments.jsonl", sinks=[sink],
               dead_letter=None, progress=False, analyzer=build_analyzer(None),
               suppressions=Suppressions.load(rules))
    return sink.items


@pytest.mark.slow
async def test_the_service_rereads_the_file_and_suppresses_as_replay_does(
        broker: EmbeddedBroker, sim: SimData, tmp_path: Path) -> None:
    bs = broker.bootstrap_servers
    rules = tmp_path / "suppressions.toml"
    rules.write_text("# nothing suppressed yet\n")
    access, deps = await prepared_topics(bs, sim, records=[])
    out, log = tmp_path / "incidents.jsonl", tmp_path / "log.jsonl"
    rt = runtime(service_settings(bs, access, deps, unique("g"), suppressions=rules,
                                  drain_when_idle=6.0), out, log)
    watch = rt.ctx.suppressions
    assert watch is not None and watch.source.rules.rules == ()
    task = asyncio.create_task(rt.run())
    try:
        await wait_for(lambda: rt.ready()[0])
        rules.write_text("[[suppress]]\nservice = 'x'\n")  # a bad edit: kept out, said once
        await wait_for(lambda: "suppressions rejected" in log.read_text())
        assert watch.source.rules.rules == () and not task.done()
        rules.write_text(_rule_for(sim))
        await wait_for(lambda: watch.reloads == 1)
        await feed(bs, access, sim.records)
        await asyncio.wait_for(task, 90)
    finally:
        if not task.done():
            rt.request_stop("test")
            await asyncio.wait_for(task, 30)
    assert log.read_text().count("suppressions rejected") == 1
    records = read_jsonl(out)
    replayed = [i.model_dump(mode="json") for i in _replayed(sim, rules)]
    assert any(r.get("suppressed") for r in records)
    assert canonical(records) == canonical(replayed)
