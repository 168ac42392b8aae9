"""The dead-letter producer: poison records, with why and where they came from.

A dead-letter record must never be the reason a bad record is lost: it is
capped to what Kafka takes by default, retried while the failure is transient,
and otherwise reported (:class:`DeadLetterError`) so that the caller does not
commit past the record it was for.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from detector.events import BadRecord
from detector.kafka.config import KafkaConnection
from detector.kafka.errors import DeadLetterError

REASON_HEADER = "detector.reason"
TOPIC_HEADER = "detector.source.topic"
PARTITION_HEADER = "detector.source.partition"
OFFSET_HEADER = "detector.source.offset"
TIMESTAMP_HEADER = "detector.source.timestamp"  # the source record's timestamp, epoch ms
LENGTH_HEADER = "detector.source.length"  # the input's true size in bytes
TRUNCATED_HEADER = "detector.truncated"  # "true": the value is a prefix of the input
SOURCE_HEADER = "detector.source"  # non-Kafka sources: the file name
MAX_REASON_CHARS = 1000
MAX_KEY_BYTES = 1024
# Kafka's default max.message.bytes (and aiokafka's max_request_size): a
# dead-letter record must fit whatever the broker defaults are.
MAX_DEAD_LETTER_BYTES = 1024 * 1024
SIZE_MARGIN = 64  # the estimate counts one record batch; a little slack for the request
# A transient failure (timeout, leader moving, broker unreachable) is retried
# this long before it counts as a failure: a broker blip must not stop a service.
RETRY_FOR_S = 120.0
RETRY_BACKOFF_S = 0.5


def _transient(exc: BaseException) -> bool:
    # aiokafka fails a batch it could not deliver in time with KafkaTimeoutError
    # (not marked retriable); broker answers carry ``retriable`` themselves.
    return isinstance(exc, KafkaTimeoutError) or bool(getattr(exc, "retriable", False))


@dataclass
class _Queued:
    """One dead-letter record until the broker acknowledged it (kept for a re-send)."""

    value: bytes
    key: bytes | None
    headers: list[tuple[str, bytes]]
    where: str  # the source position, for the error message
    fut: asyncio.Future[Any] | None = None
    failing_since: float | None = None


class DeadLetterProducer:
    """Sends poison records, raw bytes untouched, to a dead-letter topic with
    why and where they came from in headers (``detector.reason``,
    ``detector.source.topic``, ``.partition``, ``.offset``, ``.timestamp``,
    ``.length``)::

        async with DeadLetterProducer(connection, "access.dlq") as dlq:
            await dlq.send_bad(bad_record)
            await dlq.flush()  # part of a checkpoint: before committing offsets

    A record never exceeds ``max_record_bytes`` (the producer's request limit
    and Kafka's default ``max.message.bytes``): a larger input is sent as its
    longest prefix that fits, with ``detector.truncated: true`` and its true
    size in ``detector.source.length``. Transient failures are re-sent for up
    to ``retry_for_s``; any other failure (topic not authorised, broker
    refusal, retries exhausted) raises :class:`DeadLetterError`, from then on
    on every call: the caller must not commit past a record that may not have
    been dead-lettered.
    """

    def __init__(self, connection: str | KafkaConnection, topic: str, *,
                 max_record_bytes: int = MAX_DEAD_LETTER_BYTES,
                 request_timeout_ms: int | None = None,
                 retry_for_s: float = RETRY_FOR_S) -> None:
        self.topic = topic
        self.max_record_bytes = max_record_bytes
        self.retry_for_s = retry_for_s
        conn = (KafkaConnection(bootstrap_servers=connection) if isinstance(connection, str)
                else connection)
        extra: dict[str, Any] = {}
        if request_timeout_ms is not None:
            extra["request_timeout_ms"] = request_timeout_ms
        self._producer = AIOKafkaProducer(**conn.client_kwargs(), acks="all",
                                          max_request_size=max_record_bytes, **extra)
        self._pending: list[_Queued] = []
        self.error: str | None = None  # the first failure; sticky

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
        length: int | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one dead-letter record from a Kafka position (``length``: the
        input's true size when ``raw`` is already a prefix of it)."""
        headers = [
            (TOPIC_HEADER, topic.encode()),
            (PARTITION_HEADER, str(partition).encode()),
            (OFFSET_HEADER, str(offset).encode()),
        ]
        if timestamp_ms is not None:
            headers.append((TIMESTAMP_HEADER, str(timestamp_ms).encode()))
        await self._send(raw, reason, headers, key, length, f"{topic}:{partition}:{offset}")

    async def send_bad(self, bad: BadRecord, key: bytes | None = None) -> None:
        """Queue a :class:`BadRecord`; a ``topic:partition`` source fills the
        Kafka headers, any other source (a file) goes to ``detector.source``."""
        topic, sep, part = bad.source.rpartition(":")
        if sep and topic and part.isdigit():
            await self.send(bad.raw, bad.reason, topic=topic, partition=int(part),
                            offset=bad.offset, key=key, length=bad.length,
                            timestamp_ms=bad.timestamp_ms)
            return
        headers = [(SOURCE_HEADER, bad.source.encode()), (OFFSET_HEADER, str(bad.offset).encode())]
        await self._send(bad.raw, bad.reason, headers, key, bad.length,
                         f"{bad.source}:{bad.offset}")

    async def _send(self, raw: bytes, reason: str, headers: list[tuple[str, bytes]],
                    key: bytes | None, length: int | None, where: str) -> None:
        if self.error is not None:
            raise DeadLetterError(self.error)
        # Headers are single-line and bounded: they end up in tooling output.
        line = " ".join(reason.split())[:MAX_REASON_CHARS]
        headers.insert(0, (REASON_HEADER, line.encode()))
        size = len(raw) if length is None else max(length, len(raw))
        headers.append((LENGTH_HEADER, str(size).encode()))
        key = None if key is None else key[:MAX_KEY_BYTES]
        if len(raw) > self._room(key, headers) or size > len(raw):
            headers.append((TRUNCATED_HEADER, b"true"))
            raw = raw[:self._room(key, headers)]
        # A null value would read as a tombstone; dead-letter an empty record as b"".
        queued = _Queued(raw, key, headers, where)
        await self._submit(queued)
        self._pending.append(queued)

    async def _submit(self, q: _Queued) -> None:
        try:
            q.fut = await self._producer.send(self.topic, q.value, key=q.key, headers=q.headers)
        except Exception as exc:
            if not _transient(exc):
                raise self._failed(exc, q.where) from exc
            q.fut = asyncio.get_running_loop().create_future()
            q.fut.set_exception(exc)  # retried by flush() like a failed delivery

    def _room(self, key: bytes | None, headers: list[tuple[str, bytes]]) -> int:
        """Value bytes that fit in one record with this key and these headers."""
        overhead: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, b"", headers)
        return max(0, self.max_record_bytes - overhead - SIZE_MARGIN)

    def _failed(self, exc: BaseException, where: str) -> DeadLetterError:
        why = str(exc) if type(exc).__name__ in str(exc) else f"{type(exc).__name__}: {exc}"
        if self.error is None:
            self.error = (f"dead-letter topic {self.topic!r} did not take the record of "
                          f"{where}: {why.rstrip(': ')}")[:500]
        return DeadLetterError(self.error)

    async def flush(self) -> int:
        """Wait until every queued record is acknowledged; return how many were.

        Records stay queued while waiting, so a caller's timeout loses none;
        transient failures are re-sent (for up to ``retry_for_s`` per record);
        any other failure raises :class:`DeadLetterError`, and keeps raising.
        """
        acked = 0
        while True:
            if self.error is not None:
                raise DeadLetterError(self.error)
            batch = list(self._pending)
            if not batch:
                return acked
            await asyncio.wait([q.fut for q in batch if q.fut is not None])
            retry: list[_Queued] = []
            for q in batch:
                assert q.fut is not None
                exc = asyncio.CancelledError() if q.fut.cancelled() else q.fut.exception()
                if exc is None:
                    continue
                now = time.monotonic()
                q.failing_since = q.failing_since or now
                if not _transient(exc) or now - q.failing_since > self.retry_for_s:
                    raise self._failed(exc, q.where)
                retry.append(q)
            done = {id(q) for q in batch} - {id(q) for q in retry}
            acked += len(done)
            self._pending = [q for q in self._pending if id(q) not in done]
            if retry:
                await asyncio.sleep(RETRY_BACKOFF_S)
                for q in retry:
                    await self._submit(q)
