from __future__ import annotations

from detector.events import BadRecord
from detector.kafka import DeadLetterProducer, KafkaConnection, KafkaRecord, KafkaSource

from .conftest import NewTopic, collect, source_config


async def test_dead_letter_headers_round_trip(
    connection: KafkaConnection, new_topic: NewTopic
) -> None:
    dlq = await new_topic(1, prefix="dlq")
    async with DeadLetterProducer(connection, dlq) as producer:
        await producer.send(
            b"\xff not json", "invalid UTF-8\nat byte 0", topic="access", partition=3, offset=41
        )
        await producer.send_bad(BadRecord("access.log", 7, "missing timestamp", b"{}"))
        await producer.send_bad(BadRecord("my:topic:2", 9, "too big", b"x" * 10))
        assert await producer.flush() == 3
    async with KafkaSource(source_config(dlq), connection) as source:
        items = await collect(source, 3)
    records = [r for r in items if isinstance(r, KafkaRecord)]
    assert len(records) == 3
    first, second, third = (dict(r.headers) for r in records)
    assert records[0].value == b"\xff not json"  # raw bytes untouched
    assert first == {
        "detector.reason": b"invalid UTF-8 at byte 0",
        "detector.source.topic": b"access",
        "detector.source.partition": b"3",
        "detector.source.offset": b"41",
        "detector.source.length": b"10",  # the input's true size (here: all of it)
    }
    assert second == {
        "detector.reason": b"missing timestamp",
        "detector.source": b"access.log",
        "detector.source.offset": b"7",
        "detector.source.length": b"2",
    }
    assert third["detector.source.topic"] == b"my:topic"
    assert third["detector.source.partition"] == b"2"
