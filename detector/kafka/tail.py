"""Reading whole topics without a consumer group: the deployments feed and the changelog."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from detector.kafka.admin import TopicAdmin
from detector.kafka.config import KafkaConnection


async def assign_all(connection: KafkaConnection, topic: str, **kw: Any) -> Any:
    """A started group-less consumer assigned every partition of ``topic``, at the beginning."""
    c = AIOKafkaConsumer(**connection.client_kwargs(), enable_auto_commit=False, group_id=None,
                         auto_offset_reset="earliest", **kw)
    await c.start()
    try:
        parts = c.partitions_for_topic(topic)
        if not parts:  # created after the consumer started: not in its metadata yet
            async with TopicAdmin(connection) as admin:
                parts = set((await admin.describe([topic])).get(topic, []))
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        c.assign(tps)
        if tps:
            await c.seek_to_beginning(*tps)
    except BaseException:
        await c.stop()
        raise
    return c


async def read_to_end(consumer: Any, handle: Callable[[Any], None], timeout: float) -> int:
    """Feed every record up to the current end of the assigned partitions to ``handle``.

    Tansu 0.6 may answer ListOffsets(latest) with less than the true end (the
    base offset of the last batch + 1); the fetch high-watermark is exact, so
    a partition is done when the position reaches the larger of the two.
    """
    tps = sorted(consumer.assignment())
    if not tps:
        return 0
    ends = await consumer.end_offsets(tps)
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        todo = []
        for tp in tps:
            pos = await consumer.position(tp)
            hw = consumer.highwater(tp)
            end = int(ends[tp]) if hw is None else max(int(ends[tp]), int(hw))
            if pos < end or (hw is None and int(ends[tp]) > pos):
                todo.append(tp)
        if not todo:
            return n
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read {tps[0].topic} to its end in {timeout:.0f} s")
        got = await consumer.getmany(*todo, timeout_ms=200, max_records=10_000)
        for recs in got.values():
            for r in recs:
                handle(r)
                n += 1
        await asyncio.sleep(0)
