"""Rebalance: a pipeline per assigned partition, restored from its checkpoint, and
checkpointed and forgotten on revoke (the role of aiokafka's coordinator callbacks)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiokafka import TopicPartition

from detector.deployments.registry import DeploymentRegistry
from detector.events import BadRecord
from detector.pipeline import Pipeline
from detector.service.context import EXIT_REFUSED, PartitionState, ServiceContext
from detector.service.models import ModelRefused
from detector.service.refresh import ModelRefresh
from detector.service.retrain import Reservoir
from detector.state.checkpointing import Checkpointer, CheckpointError, unpack_ledger

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer


class Assignment:
    """``on_assigned`` / ``on_revoked`` of the service's consumer.

    On assignment each partition first gets a placeholder (its records are
    dropped), then its snapshot is restored and the consumer seeks to the
    snapshot's offset; on revoke it is checkpointed and dropped.

    >>> import io
    >>> from detector.config import Settings
    >>> from detector.service.config import ServiceSettings
    >>> from detector.service.jsonlog import JsonLog
    >>> from detector.service.runtime import ServiceRuntime
    >>> rt = ServiceRuntime(ServiceSettings(topics=("access",)), Settings(), [],
    ...                     log=JsonLog(io.StringIO()), analysis=False)
    >>> rt.assignment.new_pipeline(None).analyzer is None  # a placeholder
    True
    """

    def __init__(self, ctx: ServiceContext, refresh: ModelRefresh,
                 checkpointer: Checkpointer[PartitionState], *,
                 dead_letter: Callable[[BadRecord], None]) -> None:
        self.ctx = ctx
        self.refresh = refresh
        self.checkpointer = checkpointer
        self.dead_letter = dead_letter
        # Partitions revoked with their state saved, until the next assignment: aiokafka
        # revokes every partition on any rebalance, and the ones given back need no
        # restore from the store when nobody saved there since (see ``restore``).
        self.parked: dict[TopicPartition, PartitionState] = {}

    def new_pipeline(self, analyzer: RequestAnalyzer | None,
                     tp: TopicPartition | None = None) -> Pipeline:
        """A fresh pipeline (no analyzer: a placeholder that never processes, or analysis off).
        Its changes go to the fan-out tagged with the partition: its delivery ledger."""
        sink = self.ctx.sink.origin(self.ctx.origin(tp) if tp is not None else "")
        pipeline = Pipeline(self.ctx.settings, [sink], registry=DeploymentRegistry(),
                            dead_letter=self.dead_letter, analyzer=analyzer)
        if self.ctx.suppressions is not None:
            from detector.incidents.suppressor import Suppressor

            pipeline.suppressor = Suppressor(self.ctx.suppressions.source)
        sink.clock = lambda: pipeline.incidents.clock  # ordered sinks get changes in this order
        if tp is not None and self.ctx.releases is not None:  # not for placeholders
            from detector.verdict.watch import analyzer_models

            self.ctx.releases.attach(pipeline, analysis=analyzer is not None,
                                     models=analyzer_models(analyzer))
        return pipeline

    async def on_assigned(self, tps: frozenset[TopicPartition]) -> None:
        ctx = self.ctx
        # Placeholders first, before any await: the fetcher may already deliver
        # records of these partitions; they are dropped until the partition is
        # restored, and the seek below makes the consumer read them again.
        for tp in tps:
            ctx.parts[tp] = PartitionState(tp, self.new_pipeline(None), ready=False)
        ctx.restoring += 1
        try:
            for tp in sorted(tps):
                await self.restore(tp)
        finally:
            ctx.restoring -= 1
            self.parked.clear()  # the others went to other members

    async def restore(self, tp: TopicPartition) -> None:
        ctx, refresh = self.ctx, self.refresh
        source, store = ctx.source, self.checkpointer.store
        assert source is not None and store is not None
        name = await asyncio.to_thread(refresh.model_name, tp) if refresh.registry else None
        data = await asyncio.to_thread(store.load, ctx.origin(tp))
        parked = self.parked.pop(tp, None)
        kept = (parked is not None and data is not None
                and self.checkpointer.saved_by_us(ctx.origin(tp), data))
        if parked is not None and kept:
            # Its pipeline is exactly the state saved (no record since, nobody saved
            # since): decoding the snapshot would rebuild the same objects.
            st = PartitionState(tp, parked.pipeline, ready=False, model_name=name)
        else:
            try:
                analyzer = refresh.new_analyzer(name)
            except ModelRefused as exc:  # no version it accepts: stopping beats a dead partition
                ctx.stop(str(exc), EXIT_REFUSED, "model refused")
                return
            st = PartitionState(tp, self.new_pipeline(analyzer, tp), ready=False,
                                model_name=name)
        restored = None
        ledger = b""
        if data is not None:
            try:
                offset, snap, ledger = unpack_ledger(data)
                if not kept:
                    st.pipeline.restore(snap)
                restored = offset
            except (CheckpointError, ValueError) as exc:
                ctx.log("checkpoint unusable", level="error", partition=str(tp),
                        error=str(exc)[:200])
                kept = False
                st = PartitionState(tp, self.new_pipeline(refresh.new_analyzer(name), tp),
                                    ready=False, model_name=name)
                ledger = b""
        if restored is None:
            # No state: start where the group left off (or where auto reset says).
            committed = await source.committed(tp)
            if committed is not None:
                source.seek(tp, committed)
                st.next_offset = committed
            else:
                await source.seek_to_start(tp)
        else:
            # The snapshot's offset, not the committed one: they differ after a
            # crash between saving and committing.
            source.seek(tp, restored)
            st.next_offset = st.saved_offset = restored
        for dep in ctx.deployments:
            st.pipeline.add_deployment(dep)
        st.activity_ts = st.pipeline.max_ts  # a restored partition may stay silent
        if refresh.retrain_period is not None:
            st.sample = Reservoir(ctx.cfg.retrain_sample)
        st.last_activity = time.monotonic()
        st.ready = True
        if ctx.parts.get(tp) is not None:  # not revoked meanwhile
            ctx.parts[tp] = st
            try:  # re-deliver what the previous owner had not delivered
                ctx.sink.restore(ctx.origin(tp), ledger)
            except (ValueError, KeyError, TypeError) as exc:
                ctx.log("delivery ledger unusable", level="error", partition=str(tp),
                        error=f"{type(exc).__name__}: {exc}"[:200])
        state = "kept" if kept else "snapshot" if restored is not None else "empty"
        ctx.log("assigned", topic=tp.topic, partition=tp.partition, restored_offset=restored,
                state=state)

    async def on_revoked(self, tps: frozenset[TopicPartition]) -> None:
        owned = {tp: self.ctx.parts.get(tp) for tp in tps}
        await self.checkpointer.checkpoint(tps, reason="revoke", drop=True)
        for tp in tps:  # the new owner delivers from the saved ledger
            self.ctx.sink.forget(self.ctx.origin(tp))
        # Registry models: a restore loads the version current then, so nothing is kept.
        if not self.refresh.registry:
            for tp, st in owned.items():
                if (st is not None and st.ready and st.version == st.saved_version
                        and st.saved_offset is not None and st.saved_offset == st.next_offset):
                    self.parked[tp] = st
        self.ctx.log("revoked", partitions=[f"{tp.topic}:{tp.partition}" for tp in sorted(tps)])
