"""``detector run --sink kafka:TOPIC`` publishes to the service's own cluster (issue 8, item 10).

It used to ignore ``--bootstrap-servers`` and talk to 127.0.0.1:9092: every
checkpoint failed on the sink flush, nothing was committed, and SIGTERM
outlived its grace period.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from detector.cli.service_cmds import service_sinks
from detector.incidents.model import Incident
from detector.kafka import EmbeddedBroker, KafkaConnection, produce_lines
from detector.kafka.tail import assign_all, read_to_end
from detector.service.config import ServiceSettings
from detector.sinks.kafka import BOOTSTRAP_ENV, KafkaSink

from .conftest import FAST, make_topics, unique

SQLI = "id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"


def attack(n: int = 200) -> list[bytes]:
    """Searches, every other one an injection from one client: one attack_payload incident."""
    return [orjson.dumps({
        "timestamp": 1796000000 + i, "service.name": "shop", "http.request.method": "GET",
        "url.path": "/search", "url.query": SQLI if i % 2 else f"page={i}",
        "http.response.status_code": 200, "user_agent.original": "curl/8",
        "client.address": "203.0.113.9" if i % 2 else f"10.0.0.{i % 50}"}) for i in range(n)]


def _incident() -> Incident:
    return Incident(id="inc-cluster", status="open", kind="error_surge", severity="high",
                    service="shop", route="/cart", method="GET", client=None,
                    start="2026-11-29T10:00:00Z", end="2026-11-29T10:01:00Z",
                    detected_at="2026-11-29T10:01:30Z", score=0.9, summary="s",
                    evidence={}, deployment=None)


def test_kafka_sink_without_bootstrap_uses_the_service_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BOOTSTRAP_ENV, "elsewhere:9092")  # the service's own cluster wins
    conn = ServiceSettings(bootstrap_servers="k1:9093,k2:9093").kafka_connection()
    own, other = service_sinks(["kafka:incidents", "kafka:audit?bootstrap=k9:9092"], conn)
    try:
        assert isinstance(own, KafkaSink) and isinstance(other, KafkaSink)
        assert own.connection == conn  # brokers and security settings alike
        assert other.connection.bootstrap_servers == "k9:9092"
    finally:
        for s in (own, other):  # never started: nothing to flush
            s._closed = True
            s._loop.call_soon_threadsafe(s._loop.stop)


async def test_sink_built_for_the_service_delivers_to_its_cluster(
    broker: EmbeddedBroker, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(BOOTSTRAP_ENV, raising=False)
    conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)
    topic = unique("incidents")
    (sink,) = service_sinks([f"kafka:{topic}"], conn)
    sink.write(_incident())
    await asyncio.to_thread(sink.close)  # flushes: acknowledged by the broker or raises
    c = await assign_all(conn, topic)
    got: list[bytes] = []
    try:
        await read_to_end(c, lambda r: got.append(r.value), 20)
    finally:
        await c.stop()
    assert [orjson.loads(v)["id"] for v in got] == ["inc-cluster"]


@pytest.mark.slow
async def test_detector_run_publishes_incidents_to_its_cluster_and_commits(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs, partitions=1)
    await produce_lines(bs, access, attack())
    group, incidents = unique("sink-cluster"), unique("incidents")
    env = {k: v for k, v in os.environ.items() if k != BOOTSTRAP_ENV}
    env.update({f"DETECTOR_SERVICE__{k.upper()}": str(v) for k, v in FAST.items()})
    args = [sys.executable, "-m", "detector", "run", "--bootstrap-servers", bs,
            "--topic", access, "--deployments-topic", deps, "--group-id", group,
            "--sink", f"kafka:{incidents}", "--state-dir", str(tmp_path / "state"),
            "--metrics-port", "0", "--checkpoint-every", "1", "--drain-when-idle", "2",
            "--dead-letter-topic", f"{group}-dlq", "--grace-period", "20"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE, env=env)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    events = [orjson.loads(line) for line in err.splitlines() if line.startswith(b"{")]
    names = [e["event"] for e in events]
    assert proc.returncode == 0, err[-2000:]
    assert "checkpoint failed" not in names and "grace period exceeded" not in names
    assert any(e["event"] == "checkpoint" and e["offsets"] == {f"{access}:0": 200}
               for e in events), names
    c = AIOKafkaConsumer(bootstrap_servers=bs, group_id=group, enable_auto_commit=False)
    await c.start()
    try:
        assert await c.committed(TopicPartition(access, 0)) == 200
    finally:
        await c.stop()
    out = await assign_all(KafkaConnection(bootstrap_servers=bs), incidents)
    got: list[dict[str, object]] = []
    try:
        await read_to_end(out, lambda r: got.append(orjson.loads(r.value)), 20)
    finally:
        await out.stop()
    assert {(i["kind"], i["client"], i["status"]) for i in got} >= {
        ("attack_payload", "203.0.113.9", "open")}
