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
    "DeadLetterProducer", "KeyedBatcher", "key_partition", "line_producer", "produce_lines",
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


class KeyedBatcher:
    """Packs keyed records into per-partition batches and ships them with a bounded
    number in flight: much faster than one ``send`` per record.

    Records are placed with the Java client's partitioner (:func:`key_partition`);
    unkeyed records go round-robin. :meth:`flush` ships what is pending and waits
    until the broker acknowledged everything (a follower calls it when its input
    goes quiet, so no line waits in a half-full batch). The producer is the
    caller's (started, with ``max_batch_size`` set as wanted).

    >>> KeyedBatcher.__name__  # exercised against a broker in tests/kafka/test_producer.py
    'KeyedBatcher'
    """

    def __init__(self, producer: AIOKafkaProducer, topic: str, partitions: int,
                 max_in_flight: int = 16) -> None:
        self.producer = producer
        self.topic = topic
        self.partitions = partitions
        self.max_in_flight = max_in_flight
        self.count = 0
        self._batches: dict[int, Any] = {}
        self._in_flight: deque[asyncio.Future[Any]] = deque()
        self._placed: dict[bytes, int] = {}  # murmur2 is pure Python: once per distinct key
        self._rr = itertools.cycle(range(partitions))

    async def _ship(self, part: int, batch: Any) -> None:
        batch.close()
        self._in_flight.append(await self.producer.send_batch(batch, self.topic, partition=part))
        while len(self._in_flight) > self.max_in_flight:
            await self._in_flight.popleft()

    def _partition(self, key: bytes | None) -> int:
        if key is None:
            return next(self._rr)
        part = self._placed.get(key, -1)
        if part < 0:
            part = self._placed[key] = key_partition(key, self.partitions)
        return part

    def try_add(self, key: bytes | None, line: bytes) -> bool:
        """Queue one record if its partition's batch has room (no await: the hot path);
        False: call :meth:`add`, which ships the full batch first."""
        part = self._placed.get(key, -1) if key is not None else -1
        if part < 0:
            return False
        batch = self._batches.get(part)
        if batch is None or batch.append(key=key, value=line, timestamp=None) is None:
            return False
        self.count += 1
        return True

    async def add(self, key: bytes | None, line: bytes) -> None:
        """Queue one record; ships its partition's batch when full."""
        part = self._partition(key)
        batch = self._batches.get(part)
        if batch is None:
            batch = self._batches[part] = self.producer.create_batch()
        if batch.append(key=key, value=line, timestamp=None) is None:
            await self._ship(part, batch)
            batch = self._batches[part] = self.producer.create_batch()
            if batch.append(key=key, value=line, timestamp=None) is None:
                raise ValueError(f"a line of {len(line)} bytes exceeds max_batch_bytes")
        self.count += 1

    async def flush(self) -> None:
        """Ship every pending batch and wait for the broker's acknowledgements."""
        batches, self._batches = self._batches, {}
        for part, batch in batches.items():
            if batch.record_count():
                await self._ship(part, batch)
        while self._in_flight:
            await self._in_flight.popleft()


def line_producer(target: str | KafkaConnection, *, max_batch_bytes: int = 512 * 1024,
                  compression_type: str | None = None) -> AIOKafkaProducer:
    """An (unstarted) producer tuned for streaming log lines with :class:`KeyedBatcher`."""
    return AIOKafkaProducer(
        **_connection(target).client_kwargs(),
        max_batch_size=max_batch_bytes,
        compression_type=compression_type,
        acks="all",
    )


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

    Records are keyed by ``key_fn(line)`` and batched by :class:`KeyedBatcher`.
    ``partitions`` defaults to the topic's partition count. Empty lines are skipped.
    """
    producer = line_producer(bootstrap, max_batch_bytes=max_batch_bytes,
                             compression_type=compression_type)
    await producer.start()
    try:
        n_parts = partitions or len(await producer.partitions_for(topic))
        batcher = KeyedBatcher(producer, topic, n_parts, max_in_flight)
        try_add, add = batcher.try_add, batcher.add
        for raw in lines:
            line = raw.rstrip(b"\r\n")
            if not line:
                continue
            key = key_fn(line) if key_fn is not None else None
            if not try_add(key, line):
                await add(key, line)
        await batcher.flush()
        return batcher.count
    finally:
        await producer.stop()
