"""What the service does with records: access records into their partition's
pipeline, deployment records to every pipeline, bad records to the dead letters."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition

from detector.decoding.records import RecordDecoder, deployment_record
from detector.events import BadRecord, DeploymentEvent
from detector.kafka import DeadLetterError
from detector.pipeline.batch_ingest import process_batched
from detector.service.context import ServiceContext

DEAD_LETTER_FLUSH = 15.0  # seconds a checkpoint waits for the dead letters' acknowledgements


class Records:
    """Processes polls (no await inside, so no rebalance cuts through one).

    >>> import io
    >>> from detector.config import Settings
    >>> from detector.service.config import ServiceSettings
    >>> from detector.service.jsonlog import JsonLog
    >>> ctx = ServiceContext(ServiceSettings(topics=("access",)), Settings(), [],
    ...                      log=JsonLog(io.StringIO()))
    >>> recs = Records(ctx)
    >>> recs.dead_letter(BadRecord("access:0", 5, "not a log line", b"?"))
    >>> len(recs.pending_dead)
    1
    """

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.decoder = RecordDecoder(ctx.cfg)
        self.pending_dead: list[BadRecord] = []
        self.deps_consumer: Any = None  # group-less reader of the deployments topic

    def dead_letter(self, rec: BadRecord) -> None:
        self.ctx.metrics.inc("detector_bad_records_total",
                             "Records sent to the dead-letter output.",
                             reason=rec.reason.split(":")[0][:60])
        self.pending_dead.append(rec)

    async def send_dead_letters(self) -> None:
        """Hand pending bad records to the dead-letter producer. A record it does
        not take stops the service without any further commit (``ctx.fail``)."""
        dlq = self.ctx.dlq
        if dlq is None:
            self.pending_dead.clear()
            return
        sent = 0
        try:
            for rec in self.pending_dead:
                await dlq.send_bad(rec)
                sent += 1
        except DeadLetterError as exc:
            self.ctx.fail(exc)
        finally:
            del self.pending_dead[:sent]

    async def flush_dead_letters(self) -> bool:
        """Send and wait for the pending dead letters (a checkpoint's step 2);
        False when one was refused: the service stops, nothing may be saved."""
        try:
            await self.send_dead_letters()
            if self.ctx.dlq is not None:
                await asyncio.wait_for(self.ctx.dlq.flush(), DEAD_LETTER_FLUSH)
        except DeadLetterError as exc:
            self.ctx.fail(exc)
            return False
        return True

    def on_deployment_record(self, r: Any) -> None:
        item = deployment_record(r, f"{r.topic}:{r.partition}")
        if isinstance(item, BadRecord):
            self.dead_letter(item)
            return
        self.broadcast(item, None)

    def broadcast(self, dep: DeploymentEvent, skip: TopicPartition | None) -> None:
        ctx = self.ctx
        ctx.deployments.append(dep)
        ctx.metrics.inc("detector_deployments_total", "Deployment events received.",
                        service=dep.service)
        for tp, st in ctx.parts.items():
            if tp != skip:
                st.pipeline.add_deployment(dep)
                st.version += 1

    async def poll_deployments(self) -> None:
        c = self.deps_consumer
        if c is None:
            return
        got = await c.getmany(timeout_ms=0)
        for recs in got.values():
            for r in recs:
                self.on_deployment_record(r)

    def handle(self, poll: dict[TopicPartition, list[Any]]) -> None:
        """Process one poll synchronously: no await, so no rebalance cuts through it."""
        ctx = self.ctx
        metrics = ctx.metrics
        now = time.monotonic()
        for tp, recs in poll.items():
            st = ctx.parts.get(tp)
            if st is None or not st.ready or not recs:
                # Revoked while this poll was in flight (the new owner reads it),
                # or not restored yet (the restore seeks back to re-read it).
                continue
            nxt = st.next_offset
            if nxt is not None and recs[0].offset < nxt:
                recs = [r for r in recs if r.offset >= nxt]
                if not recs:
                    continue
            items = self.decoder.decode_partition(tp.topic, tp.partition, recs)
            for it in items:
                if type(it) is DeploymentEvent:
                    self.broadcast(it, tp)
            if st.sample is not None:
                st.sample.offer(items)
            before = st.pipeline.summary.windows_closed
            process_batched(st.pipeline, items)
            st.next_offset = recs[-1].offset + 1
            st.version += 1
            st.last_activity = now
            st.activity_ts = st.pipeline.max_ts
            metrics.inc("detector_records_total", "Records consumed.", len(recs),
                        topic=tp.topic)
            if st.pipeline.summary.windows_closed > before:
                metrics.observe("detector_window_close_latency_seconds",
                                "From fetching the closing record to incidents at the sinks.",
                                time.monotonic() - now)
