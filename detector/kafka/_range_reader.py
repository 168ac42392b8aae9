"""The I/O behind :func:`detector.kafka.time_range.read_time_range`: one
group-less consumer, one small state per partition."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from detector.decoding.records import RecordDecoder, deployment_record
from detector.events import BadRecord, Item
from detector.kafka.admin import TopicAdmin
from detector.kafka.config import KafkaConnection
from detector.kafka.range_query import TimeRangeError, TimeRangeQuery, TimeRangeRead
from detector.kafka.range_rules import end_reached, event_time, merge_key, seek_offset

POLL_RECORDS = 10_000


@dataclass(frozen=True)
class _Decoding:
    """The query's decoding settings in the shape RecordDecoder reads (TopicDecoding)."""

    topic_format: Mapping[str, str]
    strip_schema_prefix: Sequence[str]
    max_record_bytes: int
    topic_max_record_bytes: Mapping[str, int]
    default_service: str

    @classmethod
    def of(cls, q: TimeRangeQuery) -> _Decoding:
        fmt = {} if q.fmt == "auto" else dict.fromkeys(q.topics, q.fmt)
        strip = q.topics if q.strip_schema_prefix else ()
        return cls(fmt, strip, q.max_record_bytes, {}, q.service)

    def topic_default_service(self, topic: str) -> str:
        return self.default_service


@dataclass
class _Partition:
    tp: TopicPartition
    seek_ms: int | None  # None: the deployments topic, read whole
    end_offset: int = 0
    started: bool = False  # a record at or after seek_ms was met
    stopped: bool = False  # an event past the range was met
    kept: list[Item] = field(default_factory=list)


class RangeReader:
    """Reads one :class:`TimeRangeQuery`; ``progress()`` says how far it got.

    >>> q = TimeRangeQuery(topics=("access",), start=0, end=3600)
    >>> RangeReader(KafkaConnection(), q).progress()
    'no answer from the cluster (check its address and security_protocol)'
    """

    def __init__(self, connection: KafkaConnection, query: TimeRangeQuery) -> None:
        self.conn = connection
        self.q = query
        self.where = f"cannot read {', '.join(query.names())} from {connection.bootstrap_servers}"
        self.decoder = RecordDecoder(_Decoding.of(query))
        self.services = None if query.services is None else frozenset(query.services)
        self.parts: dict[TopicPartition, _Partition] = {}
        self.live: set[TopicPartition] = set()
        self.records = 0
        self.bytes = 0
        self.kept = 0
        self.kept_bytes = 0
        self.skipped = 0
        self.deployments_found = False
        self.answered = False  # the cluster described the topics

    def progress(self) -> str:
        if not self.answered:  # a TLS client on a plaintext port waits like this
            return "no answer from the cluster (check its address and security_protocol)"
        return (f"{self.records} records read, {len(self.live)} of {len(self.parts)} "
                "partitions not finished")

    async def run(self) -> TimeRangeRead:
        layout = await self._layout()
        if any(layout.values()):  # aiokafka's stop() fails after an empty assignment
            await self._consume(layout)
        items = list(heapq.merge(*(p.kept for _, p in sorted(self.parts.items())),
                                 key=merge_key))
        return TimeRangeRead(items, self.records, self.bytes, len(self.parts), self.skipped,
                             self.deployments_found)

    async def _consume(self, layout: dict[str, list[int]]) -> None:
        consumer = AIOKafkaConsumer(**self.conn.client_kwargs(), group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        try:
            await consumer.start()
            await self._position(consumer, layout)
            await self._drain(consumer)
        finally:
            await consumer.stop()

    async def _layout(self) -> dict[str, list[int]]:
        """Partition ids per topic; an unknown access topic is an error."""
        async with TopicAdmin(self.conn) as admin:  # lists first: Tansu creates what Metadata names
            layout = await admin.describe(self.q.names())
        self.answered = True
        missing = [t for t in self.q.topics if not layout.get(t)]
        if missing:
            raise TimeRangeError(f"{self.where}: unknown topic {', '.join(missing)} "
                                 "(or not authorised to describe it)")
        self.deployments_found = bool(self.q.deployments_topic
                                      and layout.get(self.q.deployments_topic))
        return layout

    async def _position(self, consumer: Any, layout: dict[str, list[int]]) -> None:
        q = self.q
        access = [TopicPartition(t, p) for t in q.topics for p in layout[t]]
        deps = [TopicPartition(q.deployments_topic, p)
                for p in layout.get(q.deployments_topic or "", [])]
        consumer.assign(access + deps)
        consumer.pause(*access, *deps)  # no fetch before each partition has its start
        seek_ms = max(0, int((q.start - q.lateness) * 1000))
        answers = await consumer.offsets_for_times(dict.fromkeys(access, seek_ms))
        for tp in access:
            offset = seek_offset(answers.get(tp))
            if offset is None:
                self.skipped += 1
                continue
            consumer.seek(tp, offset)
            self.parts[tp] = _Partition(tp, seek_ms)
        if deps:
            await consumer.seek_to_beginning(*deps)
            self.parts.update((tp, _Partition(tp, None, started=True)) for tp in deps)
        if not self.parts:
            return
        ends = await consumer.end_offsets(list(self.parts))
        for tp, part in self.parts.items():
            part.end_offset = int(ends[tp])
        self.live = set(self.parts)
        consumer.resume(*self.live)

    async def _drain(self, consumer: Any) -> None:
        while self.live:
            got = await consumer.getmany(*self.live, timeout_ms=self.q.poll_ms,
                                         max_records=POLL_RECORDS)
            for tp, recs in got.items():
                if recs:
                    self._take(self.parts[tp], recs)
            for tp in sorted(self.live):
                part = self.parts[tp]
                if part.stopped or end_reached(await consumer.position(tp), part.end_offset,
                                               consumer.highwater(tp)):
                    self.live.discard(tp)
                    consumer.pause(tp)

    def _keep(self, part: _Partition, items: Sequence[Item], recs: Sequence[Any],
              in_range: bool = True) -> None:
        """Count ``recs`` as read, keep the wanted of their ``items`` (one per record).

        The bounds are on what is kept, which is what stays in memory: records
        of other services or outside the range only cost time, and the
        deadline bounds that. Over a bound the read stops, in one line.
        """
        q = self.q
        self.records += len(recs)
        self.bytes += sum(len(r.value or b"") + len(r.key or b"") for r in recs)
        kept = part.kept
        for it, r in zip(items, recs, strict=False):  # recs may hold the stopping record too
            if self._wanted(it, in_range):
                kept.append(it)
                self.kept += 1
                self.kept_bytes += len(r.value or b"")
        if self.kept > q.max_records or self.kept_bytes > q.max_bytes:
            raise TimeRangeError(
                f"{self.where}: the range holds more than {q.max_records:,} records or "
                f"{q.max_bytes:,} bytes to keep ({self.kept:,} records, {self.kept_bytes:,} "
                "bytes so far); narrow the range or raise the bound")

    def _wanted(self, it: Item, in_range: bool = True) -> bool:
        """Bad records always; events of the query's services, in its range if asked."""
        if isinstance(it, BadRecord):
            return True
        if in_range and not self.q.start <= it.ts < self.q.end:
            return False
        return self.services is None or it.service in self.services

    def _take(self, part: _Partition, recs: list[Any]) -> None:
        if part.seek_ms is None:
            where = f"{part.tp.topic}:{part.tp.partition}"
            self._keep(part, [deployment_record(r, where) for r in recs], recs,
                       in_range=False)
            return
        if not part.started:
            # Kafka's answer is exact; an index by append time (Tansu) may start
            # earlier: skip what Kafka would have, so every broker gives the same.
            first = next((i for i, r in enumerate(recs) if r.timestamp >= part.seek_ms), None)
            if first is None:
                return
            part.started = True
            recs = recs[first:]
        horizon = self.q.end + self.q.lateness
        items = self.decoder.decode_partition(part.tp.topic, part.tp.partition, recs)
        for n, it in enumerate(items):  # one item per record
            t = event_time(it)
            if t is not None and t > horizon:
                part.stopped = True
                items, recs = items[:n], recs[:n + 1]  # the stopping record was read
                break
        self._keep(part, items, recs)
