"""Scale-out: instances in one consumer group share the partitions; state moves with them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from detector.kafka import EmbeddedBroker

from .conftest import (
    SimData,
    canonical,
    consumed,
    feed,
    open_keys,
    prepared_topics,
    read_jsonl,
    runtime,
    service_settings,
    unique,
    wait_for,
)


@pytest.mark.slow
async def test_two_instances_and_a_rebalance_lose_nothing(
    broker: EmbeddedBroker, sim: SimData, tmp_path: Path
) -> None:
    bs = broker.bootstrap_servers
    half = len(sim.records) // 2
    access, deps = await prepared_topics(bs, sim, sim.records[:half])
    cfg = service_settings(bs, access, deps, unique("scale"), drain_when_idle=6.0)
    a, b = (runtime(cfg, tmp_path / f"{n}.jsonl", tmp_path / "log.jsonl") for n in "ab")
    ta, tb = asyncio.create_task(a.run()), asyncio.create_task(b.run())
    # Both instances own partitions and the first half is processed.
    await wait_for(lambda: a.parts and b.parts and consumed(a, b) >= half)
    assert set(a.parts).isdisjoint(b.parts)
    a.request_stop("test")  # mid-stream: its partitions move to b, then to c
    await asyncio.wait_for(ta, 30)
    c = runtime(cfg, tmp_path / "c.jsonl", tmp_path / "log.jsonl")
    tc = asyncio.create_task(c.run())
    await feed(bs, access, sim.records[half:])
    done, pending = await asyncio.wait({tb, tc}, timeout=60)
    for t in pending:  # diagnostics for a hang
        t.print_stack(limit=30)
    assert not pending
    got = set().union(*(open_keys(read_jsonl(tmp_path / f"{n}.jsonl")) for n in "abc"))
    assert got == sim.expected
    # After the rebalance, the new owner re-emits from the checkpoint: the same changes.
    changes = set().union(*(canonical(read_jsonl(tmp_path / f"{n}.jsonl")) for n in "abc"))
    assert changes == set(sim.changes)
