"""kafka:TOPIC on a real Kafka-protocol broker (embedded Tansu)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from detector.kafka import (
    EmbeddedBroker,
    KafkaConnection,
    TopicAdmin,
    TopicSpec,
)
from detector.kafka.broker import free_port
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError
from detector.sinks.kafka import KafkaSink, parse_spec
from detector.sinks.registry import make_sink
from tests.conftest import embedded_broker

from .incidents import incident, lifecycle

# Short client timeouts so a frozen broker is noticed within the test's patience.
FAST = {"request_timeout_ms": 3000, "retry_backoff_ms": 100, "metadata_max_age_ms": 5000}


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    # A broker of our own: these tests freeze it.
    yield from embedded_broker()


@pytest.fixture
def topic(broker: EmbeddedBroker) -> str:
    name = f"incidents-{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)
        async with TopicAdmin(conn) as admin:
            await admin.ensure_topics([TopicSpec(name, 3)])

    asyncio.run(create())
    return name


def consume(bootstrap: str, topic: str, n: int, timeout: float = 15.0) -> list[ConsumerRecord]:
    async def run() -> list[ConsumerRecord]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        out: list[ConsumerRecord] = []
        try:
            deadline = time.monotonic() + timeout
            while len(out) < n and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    out.extend(records)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def frozen(broker: EmbeddedBroker, timeout: float = 2.0) -> bool:
    """SIGSTOP is asynchronous: wait until the broker process is really stopped."""
    stat = Path(f"/proc/{broker.pid}/stat")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return True
        except OSError:
            return True  # no /proc here: trust the signal
        time.sleep(0.01)
    return False


def headers(rec: ConsumerRecord) -> dict[str, bytes]:
    return dict(rec.headers)


def test_cloudevents_records(broker: EmbeddedBroker, topic: str) -> None:
    sink = KafkaSink(topic, broker.bootstrap_servers, producer_options=FAST)
    changes = [*lifecycle(), incident("inc-000000000002", service="search")]
    for inc in changes:
        sink.write(inc)
    assert sink.pending == 5
    sink.flush()  # returns once the broker acknowledged everything
    assert sink.pending == 0 and sink.delivered == 5
    sink.close()
    records = consume(broker.bootstrap_servers, topic, 5)
    assert len(records) == 5
    by_id = {headers(r)["ce_incidentchange"].decode(): r for r in records}
    assert set(by_id) == {f"{c.id}/{c.status}/{c.end}/{c.severity}" for c in changes}
    for inc in changes:
        rec = by_id[f"{inc.id}/{inc.status}/{inc.end}/{inc.severity}"]
        h = headers(rec)
        assert rec.key == inc.service.encode()
        assert json.loads(rec.value) == inc.model_dump(mode="json")
        assert h["ce_specversion"] == b"1.0"
        assert h["ce_source"] == f"detector/{inc.service}".encode()
        assert h["ce_subject"] == h["ce_id"] == inc.id.encode()
        assert h["ce_time"] == inc.detected_at.encode()
        assert h["content-type"] == b"application/json"
    types = [headers(r)["ce_type"] for r in records if r.key == b"payments"]
    # One key, one partition: the incident's changes arrive in order.
    assert types == [b"detector.incident.opened", b"detector.incident.updated",
                     b"detector.incident.updated", b"detector.incident.resolved"]


def test_make_sink_spec_and_env(broker: EmbeddedBroker, topic: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    sink = make_sink(f"kafka:{topic}?bootstrap={broker.bootstrap_servers}")
    assert isinstance(sink, KafkaSink)
    sink.write(incident())
    sink.close()
    monkeypatch.setenv("DETECTOR_KAFKA__BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    sink = make_sink(f"kafka:{topic}")
    assert isinstance(sink, KafkaSink)
    assert sink.connection.bootstrap_servers == broker.bootstrap_servers
    sink.write(incident("inc-000000000002"))
    sink.close()
    assert len(consume(broker.bootstrap_servers, topic, 2)) == 2


def test_spec_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DETECTOR_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    assert parse_spec("incidents") == ("incidents", "127.0.0.1:9092")
    monkeypatch.setenv("DETECTOR_KAFKA__BOOTSTRAP_SERVERS", "k:9093")
    assert parse_spec("incidents") == ("incidents", "k:9093")
    assert parse_spec("incidents?bootstrap=a:1,b:2") == ("incidents", "a:1,b:2")
    for bad in ("", "bad topic", "t?acks=0"):
        with pytest.raises(SinkError):
            parse_spec(bad)


def test_idempotence_falls_back_when_the_broker_gives_no_producer_ids(
        broker: EmbeddedBroker, topic: str) -> None:
    sink = KafkaSink(topic, broker.bootstrap_servers, producer_options=FAST)
    sink.write(incident())
    sink.flush()
    # Tansu 0.6 (memory storage) answers InitProducerId with UnknownError.
    assert sink.idempotent is not None
    sink.close()
    strict = KafkaSink(topic, broker.bootstrap_servers, idempotence=True,
                       flush_timeout_s=2.0, producer_options=FAST)
    strict.write(incident())
    if sink.idempotent is False:
        with pytest.raises(SinkDeliveryError, match="UnknownError"):
            strict.flush()
        with pytest.raises(SinkDeliveryError):
            strict.close()  # still undeliverable: close says so, and still closes
        assert strict.pending == 1
    else:
        strict.close()


def test_unreachable_broker_keeps_incidents() -> None:
    sink = KafkaSink("incidents", f"127.0.0.1:{free_port()}", flush_timeout_s=1.5,
                     producer_options=FAST)
    for inc in lifecycle():
        sink.write(inc)
    t0 = time.monotonic()
    with pytest.raises(SinkDeliveryError) as info:
        sink.flush()
    assert time.monotonic() - t0 < 5.0
    assert info.value.retriable and info.value.pending == 4 and sink.pending == 4
    with pytest.raises(SinkDeliveryError):
        sink.close()


def test_frozen_broker_then_back(broker: EmbeddedBroker, topic: str) -> None:
    sink = KafkaSink(topic, broker.bootstrap_servers, flush_timeout_s=2.0,
                     producer_options=FAST)
    sink.write(incident("inc-000000000001"))
    sink.flush()  # connected, metadata known
    broker.pause()
    try:
        assert frozen(broker)
        sink.write(incident("inc-000000000002"))
        t0 = time.monotonic()
        with pytest.raises(SinkDeliveryError) as info:
            sink.flush()
        assert time.monotonic() - t0 < 4.0
        assert info.value.retriable and sink.pending == 1
    finally:
        broker.resume()
    sink.flush_timeout_s = 20.0
    sink.flush()
    assert sink.pending == 0
    sink.close()
    records = consume(broker.bootstrap_servers, topic, 2)
    ids = {headers(r)["ce_subject"] for r in records}
    # At least once: a record retried after a lost acknowledgement may come twice,
    # with the same ce_incidentchange.
    assert ids == {b"inc-000000000001", b"inc-000000000002"}
