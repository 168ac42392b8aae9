"""Producing: streaming lines (files) into a topic; dead-letter records (re-exported
from :mod:`detector.kafka.dead_letter`)."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from detector.kafka.config import KafkaConnection
from detector.kafka.dead_letter import (
    LENGTH_HEADER,
    MAX_DEAD_LETTER_BYTES,
    OFFSET_HEADER,
    PARTITION_HEADER,
    REASON_HEADER,
    SOURCE_HEADER,
    TIMESTAMP_HEADER,
    TOPIC_HEADER,
    TRUNCATED_HEADER,
    DeadLetterProducer,
)

__all__ = [  # the dead-letter names this module always had, and its own
    "LENGTH_HEADER", "MAX_DEAD_LETTER_BYTES", "OFFSET_HEADER", "PARTITION_HEADER",
    "REASON_HEADER", "SOURCE_HEADER", "TIMESTAMP_HEADER", "TOPIC_HEADER", "TRUNCATED_HEADER",
    "DeadLetterProducer", "key_partition", "produce_lines",
]


def _connection(target: str | KafkaConnection) -> KafkaConnection:
    return KafkaConnection(bootstrap_servers=target) if isinstance(target, str) else target


def key_partition(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner picks for ``key``,
    so a topic filled here is keyed like one filled by a Java or Go shipper.

    >>> key_partition(b"payments", 4) == key_partition(b"payments", 4)
    True
    """
    return (murmur2(key) & 0x7FFFFFFF) % partitions  # type: ignore[no-any-return]


async def produce_lines(
    bootstrap: str | KafkaConnection,
    topic: str,
    lines: Iterable[bytes],
    key_fn: Callable[[bytes], bytes | None] | None = None,
    partitions: int | None = None,
    *,
    max_batch_bytes: int = 512 * 1024,
    max_in_flight: int = 16,
    compression_type: str | None = None,
) -> int:
    """Stream lines (a file's, without their newline) into ``topic``; return the count.

    Records are keyed by ``key_fn(line)`` and placed with the Java client's
    partitioner; unkeyed lines go round-robin. Lines are packed into
    per-partition batches (``send_batch``) with a bounded number in flight,
    much faster than one ``send`` per line. ``partitions`` defaults to the
    topic's partition count. Empty lines are skipped.
    """
    producer = AIOKafkaProducer(
        **_connection(bootstrap).client_kwargs(),
        max_batch_size=max_batch_bytes,
        compression_type=compression_type,
        acks="all",
    )
    await producer.start()
    try:
        n_parts = partitions or len(await producer.partitions_for(topic))
        batches: dict[int, Any] = {}
        in_flight: deque[asyncio.Future[Any]] = deque()
        placed: dict[bytes, int] = {}  # murmur2 is pure Python: once per distinct key
        rr = itertools.cycle(range(n_parts))
        count = 0

        async def ship(part: int, batch: Any) -> None:
            batch.close()
            in_flight.append(await producer.send_batch(batch, topic, partition=part))
            while len(in_flight) > max_in_flight:
                await in_flight.popleft()

        for raw in lines:
            line = raw.rstrip(b"\r\n")
            if not line:
                continue
            key = key_fn(line) if key_fn is not None else None
            if key is None:
                part = next(rr)
            else:
                part = placed.get(key, -1)
                if part < 0:
                    part = placed[key] = key_partition(key, n_parts)
            batch = batches.get(part)
            if batch is None:
                batch = batches[part] = producer.create_batch()
            if batch.append(key=key, value=line, timestamp=None) is None:
                await ship(part, batch)
                batch = batches[part] = producer.create_batch()
                if batch.append(key=key, value=line, timestamp=None) is None:
                    raise ValueError(f"a line of {len(line)} bytes exceeds max_batch_bytes")
            count += 1
        for part, batch in batches.items():
            if batch.record_count():
                await ship(part, batch)
        while in_flight:
            await in_flight.popleft()
        return count
    finally:
        await producer.stop()
