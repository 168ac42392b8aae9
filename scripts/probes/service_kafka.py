"""Hostile input for ``detector run`` (issue 8, items 7 and 11): a bad Kafka record
larger than a Kafka record may be, and a model the registry refuses.

Both run the real CLI against the embedded broker (Tansu).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from probes import Probe, ProbeFailed, check, run_detector

MIB = 1024 * 1024
GOOD = (b'{"timestamp": "2026-11-29T10:00:00Z", "service.name": "shop", '
        b'"http.request.method": "GET", "url.path": "/cart", "http.response.status_code": 200}')
FAST = {"DETECTOR_SERVICE__SESSION_TIMEOUT_MS": "2000",
        "DETECTOR_SERVICE__HEARTBEAT_INTERVAL_MS": "250",
        "DETECTOR_SERVICE__POLL_TIMEOUT_MS": "200"}


def _broker() -> Any:
    from detector.kafka import BrokerUnavailable, EmbeddedBroker

    try:
        return EmbeddedBroker().start()
    except BrokerUnavailable as exc:
        raise ProbeFailed(f"no embedded broker: {exc}") from None


async def _fill(bs: str, topic: str, values: list[bytes]) -> None:
    from aiokafka import AIOKafkaProducer

    from detector.kafka import KafkaConnection, TopicAdmin, TopicSpec

    async with TopicAdmin(KafkaConnection(bootstrap_servers=bs)) as admin:
        await admin.ensure_topics([TopicSpec(topic, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bs, max_request_size=4 * MIB, acks="all")
    await producer.start()
    try:
        for v in values:
            await producer.send_and_wait(topic, v, key=b"shop", partition=0)
    finally:
        await producer.stop()


async def _dead_and_committed(bs: str, dlq: str, group: str, topic: str
                              ) -> tuple[list[Any], int | None]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from detector.kafka import KafkaConnection
    from detector.kafka.tail import assign_all, read_to_end

    c = await assign_all(KafkaConnection(bootstrap_servers=bs), dlq)
    dead: list[Any] = []
    try:
        await read_to_end(c, dead.append, 20)
    finally:
        await c.stop()
    g = AIOKafkaConsumer(bootstrap_servers=bs, group_id=group, enable_auto_commit=False)
    await g.start()
    try:
        off = await g.committed(TopicPartition(topic, 0))
    finally:
        await g.stop()
    return dead, None if off is None else int(off)


def oversized_bad_record(work: Path) -> str:
    """A 1.5 MiB undecodable record between good ones: dead-lettered, the service goes on."""
    bad = b"{" + b"A" * (MIB + MIB // 2)
    broker = _broker()
    try:
        bs = broker.bootstrap_servers
        asyncio.run(_fill(bs, "access", [GOOD, bad, GOOD]))
        proc = run_detector(
            ["run", "--bootstrap-servers", bs, "--topic", "access", "--group-id", "probe",
             "--deployments-topic", "deployments", "--dead-letter-topic", "dlq",
             "--sink", f"jsonl:{work / 'incidents.jsonl'}", "--state-dir", str(work / "state"),
             "--metrics-port", "0", "--checkpoint-every", "1", "--drain-when-idle", "2"],
            env=FAST, timeout=90)
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
        check(proc.returncode == 0, f"exit {proc.returncode}: {tail}")
        dead, committed = asyncio.run(_dead_and_committed(bs, "dlq", "probe", "access"))
    finally:
        broker.stop()
    check(len(dead) == 1, f"{len(dead)} dead-letter records, expected 1")
    h = dict(dead[0].headers)
    check(h.get("detector.source.offset") == b"1", f"dead letter of offset {h}")
    check(h.get("detector.source.length") == str(len(bad)).encode(), "no true length header")
    check(bad.startswith(dead[0].value) and h.get("detector.truncated") == b"true",
          "dead-letter value is not a marked prefix")
    check(committed == 3, f"committed offset {committed}, expected 3")
    return (f"dead-lettered: {len(bad) // 1024} KiB record as a {len(dead[0].value) // 1024} KiB"
            f" prefix with its true length; exit 0, committed 3")


def refused_model(work: Path) -> str:
    """A tampered model in --models: exit 2 in one line before joining the group."""
    from detector.models.registry import ModelRegistry

    models = work / "models"
    version = ModelRegistry(models).publish("request", None, artifacts={"notes.txt": b"v1"})
    (models / "request" / version / "notes.txt").write_bytes(b"swapped afterwards")
    broker = _broker()
    try:
        proc = run_detector(
            ["run", "--bootstrap-servers", broker.bootstrap_servers, "--topic", "access",
             "--models", str(models), "--metrics-port", "0", "--sink", "jsonl:/dev/null"],
            env=FAST, timeout=60)
    finally:
        broker.stop()
    err = proc.stderr.decode(errors="replace")
    last = err.strip().splitlines()[-1] if err.strip() else ""
    check(proc.returncode == 2, f"exit {proc.returncode}: {last[:200]}")
    check("model 'request'" in last and "sha256 mismatch" in last, f"unclear: {last[:200]}")
    check('"event":"started"' not in err, "the service started anyway")
    return "refused: exit 2 before joining the group, one line naming the model and the reason"


PROBES: list[Probe] = [
    Probe("kafka-record-1.5MiB-undecodable", oversized_bad_record),
    Probe("run-models-tampered", refused_model),
]
