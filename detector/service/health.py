"""Health, readiness, the service's own gauges, and backpressure from a full sink."""

from __future__ import annotations

import time
from collections.abc import Callable

from detector.service.context import ServiceContext
from detector.service.metrics import Metrics

LOOP_STALL = 90.0  # /healthz fails when the loop has not turned for this long


class Health:
    """``/healthz`` (alive: the loop turns, no sink failing) and ``/readyz`` (connected,
    restored, the broker answers); gauges filled at each scrape.

    >>> import io
    >>> from detector.config import Settings
    >>> from detector.service.config import ServiceSettings
    >>> from detector.service.jsonlog import JsonLog
    >>> ctx = ServiceContext(ServiceSettings(topics=("access",)), Settings(), [],
    ...                      log=JsonLog(io.StringIO()))
    >>> h = Health(ctx, last_checkpoint=time.monotonic)
    >>> h.healthy(), h.ready()
    ((True, 'ok'), (False, 'not connected'))
    """

    def __init__(self, ctx: ServiceContext, *, last_checkpoint: Callable[[], float]) -> None:
        self.ctx = ctx
        self._last_checkpoint = last_checkpoint
        self.backpressure = False
        ctx.metrics.collectors.append(self.collect)

    def healthy(self) -> tuple[bool, str]:
        stalled = time.monotonic() - self.ctx.last_loop
        if stalled > LOOP_STALL:
            return False, f"loop stalled for {stalled:.0f} s"
        failing = self.ctx.sink.failing()
        if failing:
            return False, "; ".join(f"sink {name} failing for {secs:.0f} s: {why}"
                                    for name, secs, why in failing)
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        ctx = self.ctx
        if not ctx.started:
            return False, "not connected"
        if ctx.restoring:
            return False, "restoring partitions"
        silent = time.monotonic() - ctx.last_contact
        if silent > ctx.cfg.ready_timeout:
            return False, f"broker silent for {silent:.0f} s"
        return True, f"ok: {len(ctx.parts)} partitions"

    def collect(self, m: Metrics) -> None:
        ctx = self.ctx
        m.clear("detector_consumer_lag")
        for tp, lag in ctx.lag.items():
            if tp in ctx.parts:  # a probe from before a rebalance may name others
                m.set("detector_consumer_lag", "Records behind the partition end (>= 0).",
                      max(0, lag), topic=tp.topic, partition=str(tp.partition))
        m.set("detector_last_checkpoint_age_seconds",
              "Seconds since the last successful checkpoint (or since start).",
              time.monotonic() - self._last_checkpoint())
        m.set("detector_sink_backpressure", "1 while consumption is paused because a sink "
              "holds sink_max_pending undelivered changes.", float(self.backpressure))
        m.set("detector_assigned_partitions", "Partitions owned by this instance.",
              len(ctx.parts))

    def apply_backpressure(self) -> None:
        """Pause consumption while a sink holds ``sink_max_pending`` undelivered changes.

        Beyond the bound nothing is dropped: detection waits for the sink (visible
        as ``detector_sink_backpressure``, a log line, and /healthz once the sink
        has failed for ``sink_failing_after``), and resumes when it caught up.
        """
        ctx = self.ctx
        assert ctx.source is not None
        ctx.sink.failing()  # logs a sink turning unhealthy even when nobody asks /healthz
        over = ctx.sink.over_bound()
        if over:
            ctx.source.pause_all()  # every turn: partitions assigned meanwhile too
        if over == self.backpressure:
            return
        self.backpressure = over
        if over:
            ctx.metrics.inc("detector_sink_backpressure_total",
                            "Times consumption paused on a full sink backlog.")
            ctx.log("sink backlog full: consumption paused", level="warning",
                    pending=ctx.sink.pending(), bound=ctx.cfg.sink_max_pending)
        else:
            ctx.source.resume_all()
            ctx.log("sink backlog drained: consumption resumed", pending=ctx.sink.pending())
