"""KafkaSource: a consumer-group member handing out raw records in batches.

Delivery contract (ARCHITECTURE "State, delivery, scale"): offsets are never
committed behind the pipeline's back (``enable_auto_commit=False``); the
pipeline commits at checkpoints, after flushing sinks and saving state, with
``commit()``. On a rebalance the pipeline's ``on_revoked`` runs first (still
allowed to commit), then ``on_assigned`` for the new partitions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from detector.decoding.base import SCHEMA_PREFIX_LEN
from detector.events import BadRecord
from detector.kafka._leave import leave_generation_zero, membership
from detector.kafka.config import KafkaConnection, KafkaSourceConfig
from detector.kafka.errors import SourceClosedError
from detector.kafka.records import KafkaRecord, partition_lag
from detector.kafka.watermarks import PartitionWatermarks

Item = KafkaRecord | BadRecord
RebalanceCallback = Callable[[frozenset[TopicPartition]], Awaitable[None]]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._source._handle_revoked(frozenset(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._source._handle_assigned(frozenset(assigned))


class KafkaSource:
    """Async iterator over the records of a consumer group's partitions.

    ``batches()`` yields lists (one ``getmany`` each, empty when the poll timed
    out so the caller can still advance idle watermarks and checkpoints);
    iterating the source itself yields one record at a time. Records over
    ``max_record_bytes`` and null values come out as :class:`BadRecord` with a
    reason. ``positions()`` are the next offsets after the records handed out
    so far: a checkpoint taken between two records (or two batches) commits
    exactly what was processed. Process a batch without awaiting in between
    (a rebalance callback may run at any await), or commit explicit offsets::

        config = KafkaSourceConfig(topics=("access",), group_id="detector")
        async with KafkaSource(config, KafkaConnection(bootstrap_servers=servers),
                               on_revoked=checkpoint) as source:
            async for batch in source.batches():
                handle(batch)
                if checkpoint_due():
                    await checkpoint(source.assignment())  # flush, save, then:
                    await source.commit()
    """

    def __init__(
        self,
        config: KafkaSourceConfig,
        connection: KafkaConnection | None = None,
        *,
        on_assigned: RebalanceCallback | None = None,
        on_revoked: RebalanceCallback | None = None,
        watermarks: PartitionWatermarks | None = None,
        **consumer_overrides: Any,
    ) -> None:
        self.config = config
        self.connection = connection or KafkaConnection()
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.watermarks = watermarks or PartitionWatermarks()
        self._overrides = consumer_overrides
        self._consumer: Any = None
        self._assigned: frozenset[TopicPartition] = frozenset()
        self._positions: dict[TopicPartition, int] = {}
        # Bumped on every revoke: records fetched before it must not be handed out.
        self.generation = 0

    # lifecycle

    async def start(self) -> KafkaSource:
        c = self.config
        kw: dict[str, Any] = {
            **self.connection.client_kwargs(),
            "group_id": c.group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": c.auto_offset_reset,
            "session_timeout_ms": c.session_timeout_ms,
            "heartbeat_interval_ms": c.heartbeat_interval_ms,
            "max_poll_interval_ms": c.max_poll_interval_ms,
            "request_timeout_ms": c.request_timeout_ms,
            **self._overrides,
        }
        self._consumer = AIOKafkaConsumer(**kw)
        await self._consumer.start()
        self._consumer.subscribe(list(c.topics), listener=_Listener(self))
        return self

    async def stop(self) -> None:
        """Leave the group; ``on_revoked`` runs first so the owner can checkpoint."""
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            if self._assigned:
                await self._handle_revoked(self._assigned)
        finally:
            member = membership(consumer)
            await consumer.stop()
            await leave_generation_zero(self.connection, self.config.group_id, *member)

    async def __aenter__(self) -> KafkaSource:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _live(self) -> Any:
        if self._consumer is None:
            raise SourceClosedError("KafkaSource is not started")
        return self._consumer

    # rebalance

    async def _handle_revoked(self, revoked: frozenset[TopicPartition]) -> None:
        if not revoked:
            return
        try:
            if self.on_revoked is not None:
                await self.on_revoked(revoked)
        finally:
            self.generation += 1
            self._assigned = self._assigned - revoked
            self.watermarks.revoke(revoked)
            for tp in revoked:
                self._positions.pop(tp, None)

    async def _handle_assigned(self, assigned: frozenset[TopicPartition]) -> None:
        self._assigned = self._assigned | assigned
        self.watermarks.assign(assigned)
        if self.on_assigned is not None and assigned:
            await self.on_assigned(assigned)

    def assignment(self) -> frozenset[TopicPartition]:
        return self._assigned

    # positioning and flow, for an owner that keeps its own checkpoints

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` on (a restored checkpoint's offset)."""
        self._live().seek(tp, offset)
        # Records of a poll dropped before the restore moved the position on: they are
        # read again from here, and the lag must say so (a partition caught up by a
        # dropped poll would pass for one with nothing to read).
        self._positions[tp] = offset

    async def seek_to_start(self, tp: TopicPartition) -> None:
        """Where ``auto_offset_reset`` says a partition without state begins."""
        self._positions.pop(tp, None)  # unknown until read: lag() asks the consumer
        if self.config.auto_offset_reset == "earliest":
            await self._live().seek_to_beginning(tp)
        else:
            await self._live().seek_to_end(tp)

    def pause_all(self) -> None:
        """Stop fetching every assigned partition (polls go on: the group membership stays)."""
        c = self._live()
        tps = c.assignment()
        if tps:
            c.pause(*tps)

    def resume_all(self) -> None:
        c = self._live()
        tps = c.paused()
        if tps:
            c.resume(*tps)

    # reading

    def _convert(self, tp: TopicPartition, records: list[Any]) -> list[Item]:
        cap = self.config.max_record_bytes
        strip = self.config.strip_schema_prefix
        topic, part = tp.topic, tp.partition
        source = f"{topic}:{part}"
        out: list[Item] = []
        append = out.append
        for r in records:
            v = r.value
            if v is None:
                append(BadRecord(source, r.offset, "null value (tombstone)", b"",
                                 timestamp_ms=r.timestamp))
                continue
            if len(v) > cap:
                reason = f"record of {len(v)} bytes over the {cap}-byte cap"
                append(BadRecord(source, r.offset, reason, v[:cap], len(v), r.timestamp))
                continue
            if strip and v[:1] == b"\x00":
                if len(v) < SCHEMA_PREFIX_LEN:
                    append(BadRecord(source, r.offset, "truncated schema-registry prefix", v,
                                     timestamp_ms=r.timestamp))
                    continue
                v = v[SCHEMA_PREFIX_LEN:]
            append(KafkaRecord(topic, part, r.offset, r.key, v, r.timestamp, r.headers))
        return out

    async def _poll(self) -> dict[TopicPartition, list[Any]]:
        """One ``getmany``: the partitions that delivered records, with aiokafka's records."""
        got = await self._live().getmany(
            timeout_ms=self.config.poll_timeout_ms, max_records=self.config.max_batch_records
        )
        return {tp: recs for tp, recs in got.items() if recs}

    async def _fetch(self) -> dict[TopicPartition, list[Item]]:
        return {tp: self._convert(tp, recs) for tp, recs in (await self._poll()).items()}

    async def batches(self) -> AsyncIterator[list[Item]]:
        """Yield one list per poll, partition by partition, in offset order."""
        positions = self._positions
        while True:
            chunks = await self._fetch()
            for tp, items in chunks.items():
                positions[tp] = items[-1].offset + 1
            yield [item for items in chunks.values() for item in items]

    async def polls(self) -> AsyncIterator[dict[TopicPartition, list[Any]]]:
        """Yield each poll as the consumer returned it: partition -> its records.

        The records are aiokafka's own (``offset``, ``key``, ``value``,
        ``timestamp``, ``headers``), not checked against the size cap nor
        stripped of a schema prefix: for a caller that does those checks in its
        own single pass over the records (the service does, per topic). An
        empty dict means the poll timed out.
        """
        positions = self._positions
        while True:
            got = await self._poll()
            for tp, recs in got.items():
                positions[tp] = recs[-1].offset + 1
            yield got

    async def __aiter__(self) -> AsyncIterator[Item]:
        positions = self._positions
        while True:
            chunks = await self._fetch()
            gen = self.generation
            for tp, items in chunks.items():
                for item in items:
                    if gen != self.generation:
                        break
                    positions[tp] = item.offset + 1
                    yield item
                if gen != self.generation:
                    # The rest of the poll may now belong to another member, or
                    # will be fetched again from the committed offsets.
                    break

    # progress

    def positions(self) -> dict[TopicPartition, int]:
        """Next offset to process, per assigned partition that delivered records."""
        return dict(self._positions)

    async def commit(
        self, offsets: Mapping[TopicPartition, int] | None = None
    ) -> dict[TopicPartition, int]:
        """Commit ``offsets`` (next offsets to read; default: ``positions()``).

        Partitions no longer assigned are skipped: their new owner's progress
        must not be overwritten. Returns what was committed. Raises aiokafka's
        ``CommitFailedError`` (not retriable) if the group rebalanced meanwhile.
        """
        consumer = self._live()
        todo = dict(self._positions if offsets is None else offsets)
        todo = {tp: off for tp, off in todo.items() if tp in self._assigned}
        if todo:
            await consumer.commit(todo)
        return todo

    async def committed(self, tp: TopicPartition) -> int | None:
        off = await self._live().committed(tp)
        return None if off is None else int(off)

    async def lag(self) -> dict[TopicPartition, int]:
        """Records behind the end of each assigned partition (never negative)."""
        consumer = self._live()
        tps = sorted(self._assigned)
        if not tps:
            return {}
        ends = await consumer.end_offsets(tps)
        out: dict[TopicPartition, int] = {}
        for tp in tps:
            pos = self._positions.get(tp)
            if pos is None:
                pos = int(await consumer.position(tp))
            out[tp] = partition_lag(pos, int(ends[tp]), consumer.highwater(tp))
        return out
