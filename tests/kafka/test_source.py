"""KafkaSource against a real broker: groups, commits, rebalances, bad records."""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaProducer, TopicPartition

from detector.events import BadRecord
from detector.kafka import KafkaConnection, KafkaRecord, KafkaSource, key_partition, produce_lines

from .conftest import NewTopic, collect, source_config, unique

SERVICES = [b"shop", b"payments", b"search", b"auth", b"catalog", b"cart"]


def lines(n: int, start: int = 0) -> list[bytes]:
    return [
        json.dumps({"service": SERVICES[i % len(SERVICES)].decode(), "i": i}).encode()
        for i in range(start, start + n)
    ]


def service_key(line: bytes) -> bytes:
    return json.loads(line)["service"].encode()  # type: ignore[no-any-return]


def ids(items: list[KafkaRecord | BadRecord]) -> list[int]:
    return [json.loads(r.value)["i"] for r in items if isinstance(r, KafkaRecord)]


async def test_consume_commit_and_resume_in_group(
    connection: KafkaConnection, new_topic: NewTopic
) -> None:
    topic = await new_topic(4)
    assert await produce_lines(connection, topic, lines(200), service_key) == 200
    group = unique("g")

    first: list[KafkaRecord | BadRecord] = []
    async with KafkaSource(source_config(topic, group), connection) as a:

        async def read_120() -> None:
            async for rec in a:  # one record at a time
                first.append(rec)
                if len(first) == 120:
                    return

        await asyncio.wait_for(read_120(), 15)
        committed = await a.commit()
        assert sum(committed.values()) == 120
        assert a.positions() == committed

    # Keyed by service with the Java partitioner: one service, one partition.
    for r in first:
        assert isinstance(r, KafkaRecord) and r.key is not None
        assert r.partition == key_partition(r.key, 4)

    await produce_lines(connection, topic, lines(50, start=200), service_key)
    async with KafkaSource(source_config(topic, group), connection) as b:
        rest = await collect(b, 130)
        await asyncio.sleep(0.5)  # anything extra (re-read) would show up now
        rest += await collect(b, 0, timeout=1)
        assert all(v == 0 for v in (await b.lag()).values())
    got = ids(first) + ids(rest)
    assert sorted(got) == list(range(250)), "records lost or read twice"


async def test_two_members_split_partitions(
    connection: KafkaConnection, new_topic: NewTopic
) -> None:
    topic = await new_topic(4)
    group = unique("g")
    events: dict[str, list[tuple[str, frozenset[TopicPartition]]]] = {"a": [], "b": []}

    def source(name: str) -> KafkaSource:
        async def assigned(tps: frozenset[TopicPartition]) -> None:
            events[name].append(("assigned", tps))

        async def revoked(tps: frozenset[TopicPartition]) -> None:
            events[name].append(("revoked", tps))

        return KafkaSource(
            source_config(topic, group), connection, on_assigned=assigned, on_revoked=revoked
        )

    seen: dict[str, list[KafkaRecord | BadRecord]] = {"a": [], "b": []}

    async def pump(name: str, src: KafkaSource) -> None:
        async for batch in src.batches():
            seen[name].extend(batch)

    everything = frozenset(TopicPartition(topic, p) for p in range(4))
    async with source("a") as a:
        tasks = [asyncio.create_task(pump("a", a))]
        async with asyncio.timeout(15):
            while a.assignment() != everything:
                await asyncio.sleep(0.05)
        async with source("b") as b:
            tasks.append(asyncio.create_task(pump("b", b)))
            async with asyncio.timeout(15):
                while not (a.assignment() and b.assignment()):
                    await asyncio.sleep(0.05)
            assert a.assignment() | b.assignment() == everything
            assert not a.assignment() & b.assignment()
            # a gave everything back (eager rebalance), then got its share.
            assert events["a"] == [
                ("assigned", everything),
                ("revoked", everything),
                ("assigned", a.assignment()),
            ]
            assert events["b"] == [("assigned", b.assignment())]

            await produce_lines(connection, topic, lines(300), service_key)
            async with asyncio.timeout(15):
                while len(seen["a"]) + len(seen["b"]) < 300:
                    await asyncio.sleep(0.05)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            owned = {"a": a.assignment(), "b": b.assignment()}
    for name in ("a", "b"):
        parts = {
            TopicPartition(r.topic, r.partition) for r in seen[name] if isinstance(r, KafkaRecord)
        }
        assert parts <= owned[name], "a member read a partition it does not own"
    assert sorted(ids(seen["a"]) + ids(seen["b"])) == list(range(300))
    # stop() handed the partitions back through on_revoked
    assert events["a"][-1] == ("revoked", owned["a"])
    assert events["b"][-1] == ("revoked", owned["b"])


async def test_oversize_null_and_schema_prefix(
    connection: KafkaConnection, new_topic: NewTopic
) -> None:
    topic = await new_topic(1)
    producer = AIOKafkaProducer(**connection.client_kwargs())
    await producer.start()
    try:
        for value in (
            b'{"ok": 1}',
            b"x" * 500,
            None,
            b"\x00\x00\x00\x00\x2a" + b'{"framed": 1}',
            b"\x00\x01",
        ):
            await producer.send_and_wait(topic, value, key=b"k", partition=0)
    finally:
        await producer.stop()
    config = source_config(topic, max_record_bytes=100, strip_schema_prefix=True)
    async with KafkaSource(config, connection) as source:
        items = await collect(source, 5)
    ok, big, null, framed, short = items
    assert isinstance(ok, KafkaRecord) and ok.value == b'{"ok": 1}'
    assert isinstance(big, BadRecord) and "500 bytes over the 100-byte cap" in big.reason
    assert big.source == f"{topic}:0" and big.offset == 1 and len(big.raw) == 100
    assert isinstance(null, BadRecord) and "tombstone" in null.reason
    assert isinstance(framed, KafkaRecord) and framed.value == b'{"framed": 1}'
    assert isinstance(short, BadRecord) and "prefix" in short.reason


async def test_lag_is_never_negative_on_tansu(
    connection: KafkaConnection, new_topic: NewTopic
) -> None:
    topic = await new_topic(2)
    # Multi-record batches: Tansu's ListOffsets(latest) then trails the real end.
    await produce_lines(connection, topic, lines(400), service_key)
    async with KafkaSource(source_config(topic), connection) as source:
        await collect(source, 400)
        lag = await source.lag()
    assert set(lag) == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
    assert all(v == 0 for v in lag.values())
