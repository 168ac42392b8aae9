"""Hostile Kafka input for the service's dead-letter path (issue 8, item 7).

A bad record of a mebibyte or more used to overflow the dead-letter producer's
request limit: ``detector run`` exited 3 and its shutdown checkpoint committed
past the record, so it was in neither topic. Now it is dead-lettered as a
capped prefix with its true length, and a dead-letter topic that does not take
a record stops the service without committing past it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from hypothesis import given, settings
from hypothesis import strategies as st

import detector.service.runtime as runtime_mod
from detector.config import Settings
from detector.events import BadRecord
from detector.kafka import DeadLetterError, DeadLetterProducer, EmbeddedBroker, KafkaConnection
from detector.kafka.dead_letter import LENGTH_HEADER, MAX_DEAD_LETTER_BYTES, TRUNCATED_HEADER
from detector.kafka.tail import assign_all, read_to_end
from detector.service.jsonlog import JsonLog
from detector.service.runtime import EXIT_FAILED, ServiceRuntime
from detector.sinks import MemorySink
from tests.service.conftest import make_topics, service_settings, unique

MIB = 1024 * 1024
GOOD = orjson.dumps({"timestamp": "2026-11-29T10:00:00Z", "service.name": "shop",
                     "http.request.method": "GET", "url.path": "/cart",
                     "http.response.status_code": 200})


async def _produce(bs: str, topic: str, values: list[bytes]) -> list[int]:
    """Values in order into partition 0; their record timestamps (ms)."""
    producer = AIOKafkaProducer(bootstrap_servers=bs, max_request_size=4 * MIB, acks="all")
    await producer.start()
    try:
        out = []
        for v in values:
            meta = await producer.send_and_wait(topic, v, key=b"shop", partition=0)
            out.append(meta.timestamp)
        return out
    finally:
        await producer.stop()


async def _records(bs: str, topic: str) -> list[Any]:
    c = await assign_all(KafkaConnection(bootstrap_servers=bs), topic)
    out: list[Any] = []
    try:
        await read_to_end(c, out.append, 20)
    finally:
        await c.stop()
    return out


async def _committed(bs: str, group: str, topic: str) -> int | None:
    c = AIOKafkaConsumer(bootstrap_servers=bs, group_id=group, enable_auto_commit=False)
    await c.start()
    try:
        off = await c.committed(TopicPartition(topic, 0))
        return None if off is None else int(off)
    finally:
        await c.stop()


def _runtime(cfg: Any, log: Path) -> ServiceRuntime:
    return ServiceRuntime(cfg, Settings(), [MemorySink()],
                          log=JsonLog(open(log, "a")))  # noqa: SIM115


async def test_oversized_bad_records_are_dead_lettered_as_prefixes(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs, partitions=1)
    group = unique("oversized")
    near = b"{" + b"x" * (MIB - 64)  # under the 1 MiB cap, over it with the headers
    over = b"{" + b"y" * (MIB + MIB // 2)  # over the cap
    stamps = await _produce(bs, access, [GOOD, near, GOOD, over, GOOD])
    cfg = service_settings(bs, access, deps, group, state_dir=tmp_path / "state")
    rt = _runtime(cfg, tmp_path / "log.jsonl")
    assert await asyncio.wait_for(rt.run(), 60) == 0  # drained: kept running to the end
    assert await _committed(bs, group, access) == 5

    dead = await _records(bs, cfg.dead_letter_topic or "")
    assert [int(dict(r.headers)["detector.source.offset"]) for r in dead] == [1, 3]
    for r, original, stamp in zip(dead, (near, over), (stamps[1], stamps[3]), strict=True):
        h = dict(r.headers)
        assert h["detector.source.topic"] == access.encode()
        assert h["detector.source.partition"] == b"0"
        assert h["detector.source.timestamp"] == str(stamp).encode()
        assert h[LENGTH_HEADER] == str(len(original)).encode()
        assert h[TRUNCATED_HEADER] == b"true"
        assert h["detector.reason"]
        assert 0 < len(r.value) < len(original) and original.startswith(r.value)
        assert len(r.value) <= MAX_DEAD_LETTER_BYTES
    assert b"over the" in dict(dead[1].headers)["detector.reason"]


class _Refusing(DeadLetterProducer):
    """The real producer, but the dead-letter topic refuses records (not authorised)."""

    async def __aenter__(self) -> DeadLetterProducer:
        await super().__aenter__()

        async def refuse(*a: Any, **k: Any) -> Any:
            raise TopicAuthorizationFailedError(self.topic)

        self._producer.send = refuse  # type: ignore[method-assign]
        return self


class _Rejected(DeadLetterProducer):
    """The real producer, but the broker's produce answer rejects the records."""

    async def __aenter__(self) -> DeadLetterProducer:
        await super().__aenter__()

        async def rejected(*a: Any, **k: Any) -> Any:
            fut = asyncio.get_running_loop().create_future()
            fut.set_exception(TopicAuthorizationFailedError(self.topic))
            return fut

        self._producer.send = rejected  # type: ignore[method-assign]
        return self


class _TimingOut(DeadLetterProducer):
    """The real producer, but no delivery is ever acknowledged in time (retried, then given up)."""

    async def __aenter__(self) -> DeadLetterProducer:
        await super().__aenter__()
        self.retry_for_s = 1.0

        async def lost(*a: Any, **k: Any) -> Any:
            fut = asyncio.get_running_loop().create_future()
            fut.set_exception(KafkaTimeoutError("batch expired"))
            return fut

        self._producer.send = lost  # type: ignore[method-assign]
        return self


@pytest.mark.parametrize("broken", [_Refusing, _Rejected, _TimingOut])
async def test_unavailable_dead_letter_topic_stops_without_committing_past_the_record(
    broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    broken: type[DeadLetterProducer],
) -> None:
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs, partitions=1)
    group = unique("dlq-down")
    await _produce(bs, access, [GOOD, GOOD, b"\xff not a log line", GOOD])
    cfg = service_settings(bs, access, deps, group, state_dir=tmp_path / "state")
    log = tmp_path / "log.jsonl"

    with monkeypatch.context() as m:
        m.setattr(runtime_mod, "DeadLetterProducer", broken)
        rt = _runtime(cfg, log)
        assert await asyncio.wait_for(rt.run(), 60) == EXIT_FAILED
    assert rt.failure is not None and f"{access}:0:2" in rt.failure
    assert cfg.dead_letter_topic in rt.failure
    committed = await _committed(bs, group, access)
    assert committed is None or committed <= 2
    events = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    saved = [e for e in events if e["event"] == "checkpoint"]
    assert all(o <= 2 for e in saved for o in e["offsets"].values())
    assert [e["event"] for e in events].count("dead-letter failed") == 1

    # Restarted with the dead-letter topic back: the record is read again and dead-lettered.
    rt = _runtime(cfg, log)
    assert await asyncio.wait_for(rt.run(), 60) == 0
    assert await _committed(bs, group, access) == 4
    dead = await _records(bs, cfg.dead_letter_topic or "")
    assert [dict(r.headers)["detector.source.offset"] for r in dead] == [b"2"]
    assert dead[0].value == b"\xff not a log line"


class _Recorder:
    """Stands in for aiokafka's producer: checks the request limit as aiokafka does."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> Any:
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers or [])
        if size > self.limit:
            raise AssertionError(f"{size} bytes over the {self.limit}-byte limit")
        self.sent.append((key, value, list(headers or [])))
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=6000), reason=st.text(max_size=1500),
       key=st.none() | st.binary(max_size=3000), limit=st.integers(2000, 5000),
       true_length=st.none() | st.integers(0, 10**9))
def test_dead_letter_records_always_fit_and_say_when_truncated(
    raw: bytes, reason: str, key: bytes | None, limit: int, true_length: int | None
) -> None:
    async def go() -> None:
        dlq = DeadLetterProducer("127.0.0.1:1", "dlq", max_record_bytes=limit)
        rec = _Recorder(limit)
        real, dlq._producer = dlq._producer, rec  # type: ignore[assignment]
        try:
            await dlq.send_bad(BadRecord("access:3", 7, reason, raw, true_length, 1234))
            assert await dlq.flush() == 1
        finally:
            await real.stop()
        _, value, headers = rec.sent[0]
        h = dict(headers)
        length = len(raw) if true_length is None else max(true_length, len(raw))
        assert raw.startswith(value)
        assert h[LENGTH_HEADER] == str(length).encode()
        assert (TRUNCATED_HEADER in h) == (len(value) < length)
        assert h["detector.source.offset"] == b"7" and h["detector.source.timestamp"] == b"1234"

    asyncio.run(go())


async def test_a_failed_dead_letter_keeps_failing_every_flush() -> None:
    dlq = DeadLetterProducer("127.0.0.1:1", "dlq")
    real = dlq._producer

    async def refuse(*a: Any, **k: Any) -> Any:
        raise TopicAuthorizationFailedError("dlq")

    dlq._producer = type("P", (), {"send": staticmethod(refuse)})()
    try:
        with pytest.raises(DeadLetterError, match="dlq"):
            await dlq.send_bad(BadRecord("access:0", 1, "bad", b"x"))
        for _ in range(2):  # never reports success after a record may have been lost
            with pytest.raises(DeadLetterError):
                await dlq.flush()
    finally:
        await real.stop()


async def test_transient_failures_are_sent_again_not_fatal() -> None:
    dlq = DeadLetterProducer("127.0.0.1:1", "dlq", max_record_bytes=4096)
    rec = _Recorder(4096)
    calls = 0

    async def flaky(topic: str, value: bytes, key: bytes | None = None,
                    headers: list[tuple[str, bytes]] | None = None) -> Any:
        nonlocal calls
        calls += 1
        if calls <= 2:  # a leader election, then an expired batch
            fut = asyncio.get_running_loop().create_future()
            fut.set_exception(KafkaTimeoutError("batch expired") if calls == 2
                              else NotLeaderForPartitionError())
            return fut
        return await rec.send(topic, value, key, headers)

    real, dlq._producer = dlq._producer, type("P", (), {"send": staticmethod(flaky)})()
    try:
        await dlq.send_bad(BadRecord("access:0", 5, "bad", b"payload"))
        assert await dlq.flush() == 1
        assert calls == 3 and [v for _, v, _ in rec.sent] == [b"payload"]
        assert await dlq.flush() == 0 and dlq.error is None
    finally:
        await real.stop()
