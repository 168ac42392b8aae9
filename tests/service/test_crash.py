"""Crash safety: kill -9 the service at random points (restarting each time), then let it
drain: the incident store holds exactly the incidents of an uninterrupted run."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from detector.kafka import EmbeddedBroker
from detector.kafka.tail import assign_all, read_to_end

from .conftest import (
    FAST,
    SimData,
    canonical,
    feed,
    load_deployments,
    make_topics,
    open_keys,
    unique,
)

KILLS = 6
CHUNKS = 12


def start_service(bs: str, access: str, deps: str, group: str, db: Path, out_topic: str,
                  log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **{f"DETECTOR_SERVICE__{k.upper()}": str(v) for k, v in FAST.items()}}
    args = [
        sys.executable, "-m", "detector", "run", "--bootstrap-servers", bs,
        "--topic", access, "--deployments-topic", deps, "--group-id", group,
        "--sink", f"sqlite:{db}", "--sink", f"kafka:{out_topic}?bootstrap={bs}",
        "--metrics-port", "0", "--checkpoint-every", "1", "--drain-when-idle", "5",
        "--dead-letter-topic", f"{group}-dlq",
    ]
    with open(log, "ab") as f:
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=f, env=env)


async def topic_records(bs: str, topic: str) -> list[dict[str, Any]]:
    from detector.kafka import KafkaConnection

    c: AIOKafkaConsumer = await assign_all(KafkaConnection(bootstrap_servers=bs), topic)
    out: list[dict[str, Any]] = []
    try:
        await read_to_end(c, lambda r: out.append(orjson.loads(r.value)), 30)
    finally:
        await c.stop()
    return out


@pytest.mark.slow
async def test_kill_9_loses_and_duplicates_nothing(
    broker: EmbeddedBroker, sim: SimData, tmp_path: Path
) -> None:
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs)
    out_topic = unique("incidents")
    await load_deployments(bs, deps, sim)
    group, db, log = unique("crash"), tmp_path / "incidents.db", tmp_path / "service.log"
    rng = random.Random(11)
    size = len(sim.records) // CHUNKS + 1
    chunks = [sim.records[i : i + size] for i in range(0, len(sim.records), size)]
    kill_after = set(rng.sample(range(1, CHUNKS), KILLS))
    proc = start_service(bs, access, deps, group, db, out_topic, log)
    kills = 0
    try:
        for i, chunk in enumerate(chunks):
            await feed(bs, access, chunk)
            if i in kill_after:
                # Let it work a random while (join, restore, consume, checkpoint), then kill.
                await asyncio.sleep(rng.uniform(0.5, 4.0))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                proc = start_service(bs, access, deps, group, db, out_topic, log)
            else:
                await asyncio.sleep(0.5)
        code = await asyncio.to_thread(proc.wait, 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert kills >= 5
    assert code == 0, log.read_text()[-2000:]
    with sqlite3.connect(db) as conn:
        bodies = [orjson.loads(b) for (b,) in conn.execute("SELECT body FROM incident_changes")]
        ids = {i for (i,) in conn.execute("SELECT id FROM incidents")}
    assert open_keys(bodies) == sim.expected
    assert ids == {k[0] for k in sim.expected}
    # Every change of the uninterrupted replay, updates and evidence included, and no other.
    assert set(canonical(bodies)) == set(sim.changes)
    # The Kafka sink is at-least-once: re-sent changes carry the same ids, never new ones.
    published = await topic_records(bs, out_topic)
    assert open_keys(published) == sim.expected
    assert set(canonical(published)) == set(sim.changes)
