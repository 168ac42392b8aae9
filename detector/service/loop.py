"""The consume loop: poll, process, and between polls the periodic work
(backpressure, idle windows, model reload and retraining, dead letters,
deployments, checkpoints, the drain at the end of a backfill); broker probes
run beside it."""

from __future__ import annotations

import asyncio
import math
import time

from detector.service.context import PartitionState, ServiceContext
from detector.service.health import Health
from detector.service.processes import Siblings
from detector.service.records import Records
from detector.service.refresh import ModelRefresh
from detector.state.checkpointing import Checkpointer

PROBE_EVERY = 2.0  # seconds between broker probes (lag, readiness)
PROBE_TIMEOUT = 3.0


class ConsumeLoop:
    """Turns until ``ctx.stopping``; one turn per poll (an empty poll still turns).

    >>> import io
    >>> from detector.config import Settings
    >>> from detector.service.config import ServiceSettings
    >>> from detector.service.jsonlog import JsonLog
    >>> from detector.service.runtime import ServiceRuntime
    >>> out = io.StringIO()
    >>> rt = ServiceRuntime(ServiceSettings(topics=("access",)), Settings(), [], log=JsonLog(out))
    >>> rt.loop.drain()  # the end of a backfill: every owned partition's windows close
    >>> '"drained"' in out.getvalue()
    True
    """

    def __init__(self, ctx: ServiceContext, records: Records, health: Health,
                 refresh: ModelRefresh, checkpointer: Checkpointer[PartitionState]) -> None:
        self.ctx = ctx
        self.records = records
        self.health = health
        self.refresh = refresh
        self.checkpointer = checkpointer
        self._last_ck_attempt = time.monotonic()
        self.siblings = Siblings.from_env()  # the other children of a --processes instance
        self.waiting = False  # drained, waiting for the siblings to drain too

    async def run(self) -> None:
        assert self.ctx.source is not None
        # Probing runs beside the loop: a poll can block while the broker is frozen.
        prober = asyncio.create_task(self._probe_forever())
        try:
            await self._turns()
        finally:
            prober.cancel()
            await self.refresh.cancel(PROBE_TIMEOUT)
            # aiokafka's offset lookups may swallow a cancellation mid-request:
            # never let a probe hold up the shutdown.
            await asyncio.wait({prober}, timeout=PROBE_TIMEOUT)

    async def probe(self) -> None:
        ctx = self.ctx
        assert ctx.source is not None
        try:
            ctx.lag = await asyncio.wait_for(ctx.source.lag(), PROBE_TIMEOUT)
        except Exception as exc:
            ctx.unreachable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return
        ctx.last_contact = time.monotonic()
        if not ctx.reachable:
            ctx.reachable = True
            ctx.log("broker reachable")
            # An outage is not silence: no partition counts as idle (for the drain
            # of a backfill, or to move event time on) for the time it lasted.
            now = time.monotonic()
            for st in ctx.parts.values():
                st.last_activity = now

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(PROBE_EVERY)
            if self.ctx.source is not None:
                await self.probe()

    def _idle_for(self) -> float:
        now = time.monotonic()
        return min((now - st.last_activity for st in self.ctx.parts.values()), default=0.0)

    async def _turns(self) -> None:
        ctx = self.ctx
        assert ctx.source is not None
        polls = ctx.source.polls()
        drain = ctx.cfg.drain_when_idle
        every = ctx.cfg.checkpoint_every
        records, refresh = self.records, self.refresh
        while not ctx.stopping.is_set():
            poll = await polls.__anext__()
            ctx.last_loop = time.monotonic()
            if poll:
                ctx.last_contact = ctx.last_loop
            records.handle(poll)
            self.health.apply_backpressure()
            self.advance_idle()
            ctx.sink.release(self.release_bound())
            if refresh.reload_due(ctx.last_loop):
                await refresh.reload()
            if ctx.suppressions is not None:
                ctx.suppressions.poll(ctx.last_loop)
            refresh.maybe_retrain()
            await records.send_dead_letters()
            await records.poll_deployments()
            now = time.monotonic()
            # Scheduled from the last attempt; the age metric counts from the last success.
            if now - self._last_ck_attempt >= every and ctx.reachable:
                self._last_ck_attempt = now
                await self.checkpointer.checkpoint()
            if self.waiting:
                self.wait_for_siblings()
            elif (drain is not None and ctx.parts and not ctx.restoring
                    and self._idle_for() >= drain):
                await self.probe()
                # Re-check after the await: a rebalance may have changed ownership.
                if (ctx.parts and not ctx.restoring and ctx.reachable
                        and self._idle_for() >= drain
                        and all(v == 0 for v in ctx.lag.values())
                        and set(ctx.lag) >= set(ctx.parts)):
                    self.drain()
                    if self.siblings is None:
                        ctx.request_stop("drained")
                    else:
                        self.siblings.mark()
                        self.waiting = True
                        ctx.log("drained: waiting for the other processes")
                        self.wait_for_siblings()

    def wait_for_siblings(self) -> None:
        """Drained in a ``--processes`` instance: stay in the group, reading nothing, until
        every child drained (then all leave at once, nobody works through a rebalance).
        New records for a drained partition end the wait: this is no backfill's end,
        and leaving hands the partition to a member that still runs, as before."""
        ctx = self.ctx
        assert self.siblings is not None and ctx.source is not None
        if self.siblings.all_drained() or any(ctx.lag.get(tp, 0) > 0 for tp in ctx.parts):
            ctx.request_stop("drained")
        else:
            ctx.source.pause_all()  # every turn: partitions assigned meanwhile too

    def _idle_close_after(self) -> float:
        after = self.ctx.cfg.idle_close_after
        if after is None:
            w = self.ctx.settings.windows
            return float(w.size_seconds + w.allowed_lateness_seconds)
        return after

    def release_bound(self) -> float:
        """The event time no partition can emit a change before any more: the lowest
        watermark of the partitions that may still emit (a caught-up partition that never
        had a record cannot; one being restored or behind may)."""
        ctx = self.ctx
        marks = [st.pipeline.watermark() for tp, st in ctx.parts.items()
                 if not (st.ready and st.activity_ts == -math.inf and ctx.lag.get(tp) == 0)]
        return min(marks, default=math.inf)

    def advance_idle(self) -> None:
        """Let event time run on with the wall clock in caught-up partitions gone silent.

        A partition's windows close when a later record arrives; a service that
        stops sending would leave its last windows open for good and its drop
        unseen. Once a partition has no lag and no record for
        ``idle_close_after`` seconds, its event time moves on by the wall time
        elapsed since its last record (the offset between the two clocks, from
        live traffic or a backfill, is kept), closing the windows it passes.
        """
        ctx = self.ctx
        after = self._idle_close_after()
        if after <= 0 or not ctx.reachable:
            return
        now = time.monotonic()
        for tp, st in ctx.parts.items():
            idle = now - st.last_activity
            if (idle < after or not st.ready or st.activity_ts == -math.inf
                    or ctx.lag.get(tp) != 0):
                continue
            closed = st.pipeline.advance(st.activity_ts + idle)
            if closed:
                st.version += 1
                ctx.metrics.inc("detector_idle_windows_closed_total",
                                "Windows closed by wall-clock time in silent partitions.",
                                closed, topic=tp.topic)

    def drain(self) -> None:
        """Close every open window of every owned partition (end of a backfill)."""
        ctx = self.ctx
        for st in ctx.parts.values():
            st.pipeline.finish()
            st.version += 1
        ctx.log("drained", partitions={
            f"{tp.topic}:{tp.partition}": {"events": st.pipeline.summary.events,
                                           "windows": st.pipeline.summary.windows_closed,
                                           "incidents": sum(st.pipeline.summary.incidents.values())}
            for tp, st in sorted(ctx.parts.items())})
