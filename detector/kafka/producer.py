"""Producing: dead-letter records, and streaming lines (files) into a topic."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from detector.events import BadRecord
from detector.kafka.config import KafkaConnection

REASON_HEADER = "detector.reason"
TOPIC_HEADER = "detector.source.topic"
PARTITION_HEADER = "detector.source.partition"
OFFSET_HEADER = "detector.source.offset"
SOURCE_HEADER = "detector.source"  # non-Kafka sources: the file name
MAX_REASON_CHARS = 1000


def _connection(target: str | KafkaConnection) -> KafkaConnection:
    return KafkaConnection(bootstrap_servers=target) if isinstance(target, str) else target


def key_partition(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner picks for ``key``,
    so a topic filled here is keyed like one filled by a Java or Go shipper.

    >>> key_partition(b"payments", 4) == key_partition(b"payments", 4)
    True
    """
    return (murmur2(key) & 0x7FFFFFFF) % partitions  # type: ignore[no-any-return]


class DeadLetterProducer:
    """Sends poison records, raw bytes untouched, to a dead-letter topic with
    why and where they came from in headers (``detector.reason``,
    ``detector.source.topic``, ``.partition``, ``.offset``)::

        async with DeadLetterProducer(connection, "access.dlq") as dlq:
            await dlq.send_bad(bad_record)
            await dlq.flush()  # part of a checkpoint: before committing offsets
    """

    def __init__(self, connection: str | KafkaConnection, topic: str) -> None:
        self.topic = topic
        self._producer = AIOKafkaProducer(**_connection(connection).client_kwargs(), acks="all")
        self._pending: list[asyncio.Future[Any]] = []

    async def __aenter__(self) -> DeadLetterProducer:
        await self._producer.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if et is None:
                await self.flush()
        finally:
            await self._producer.stop()

    async def send(
        self,
        raw: bytes,
        reason: str,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None = None,
    ) -> None:
        """Queue one dead-letter record from a Kafka position."""
        headers = [
            (TOPIC_HEADER, topic.encode()),
            (PARTITION_HEADER, str(partition).encode()),
            (OFFSET_HEADER, str(offset).encode()),
        ]
        await self._send(raw, reason, headers, key)

    async def send_bad(self, bad: BadRecord, key: bytes | None = None) -> None:
        """Queue a :class:`BadRecord`; a ``topic:partition`` source fills the
        Kafka headers, any other source (a file) goes to ``detector.source``."""
        topic, sep, part = bad.source.rpartition(":")
        if sep and topic and part.isdigit():
            await self.send(
                bad.raw, bad.reason, topic=topic, partition=int(part), offset=bad.offset, key=key
            )
            return
        headers = [(SOURCE_HEADER, bad.source.encode()), (OFFSET_HEADER, str(bad.offset).encode())]
        await self._send(bad.raw, bad.reason, headers, key)

    async def _send(
        self, raw: bytes, reason: str, headers: list[tuple[str, bytes]], key: bytes | None
    ) -> None:
        # Headers are single-line and bounded: they end up in tooling output.
        line = " ".join(reason.split())[:MAX_REASON_CHARS]
        headers.insert(0, (REASON_HEADER, line.encode()))
        # A null value would read as a tombstone; dead-letter an empty record as b"".
        fut = await self._producer.send(self.topic, raw, key=key, headers=headers)
        self._pending.append(fut)

    async def flush(self) -> int:
        """Wait until every queued record is acknowledged; return how many."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
        return len(pending)


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
