"""The service (``detector run``): a thin front composing the parts of the service.

Why a pipeline per partition: the input topic is keyed by service, so a
partition holds whole services. Its state then moves with it on a rebalance,
and its event-time watermark is its own maximum event time (the pipeline's
internal watermark), so an idle partition never holds the others back and the
result depends only on the records of the partition, in offset order: a
restored pipeline fed the same records gives the same incidents.

The parts, as aiokafka splits its consumer (a facade over fetcher,
coordinator and subscription state), all over one :class:`ServiceContext`:

* :class:`~detector.service.loop.ConsumeLoop`: poll, process, periodic work;
* :class:`~detector.service.records.Records`: records into pipelines, dead letters;
* :class:`~detector.service.assignment.Assignment`: restore on assign, save on revoke;
* :class:`~detector.state.checkpointing.Checkpointer`: the checkpoint sequence
  (capture, flush dead letters, save state with offset and ledger, commit);
* :class:`~detector.service.refresh.ModelRefresh`: model choice, reload, retraining;
* :class:`~detector.service.health.Health`: /healthz, /readyz, gauges, backpressure;
* :class:`~detector.service.fanout.FanOutSink`: delivery off the loop, with a ledger.

This front connects the clients (retrying while the broker is unreachable),
runs the loop, and shuts down within the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from detector.config import Settings
from detector.decoding.base import SCHEMA_PREFIX_LEN
from detector.gc_tuning import throughput_gc
from detector.kafka import (
    DeadLetterProducer,
    KafkaSource,
    KafkaSourceConfig,
    TopicAdmin,
    TopicSpec,
)
from detector.kafka.errors import retriable
from detector.kafka.tail import assign_all, read_to_end
from detector.service.assignment import Assignment
from detector.service.config import ServiceSettings
from detector.service.context import EXIT_FAILED as EXIT_FAILED
from detector.service.context import EXIT_REFUSED as EXIT_REFUSED
from detector.service.context import PartitionState, ServiceContext
from detector.service.fanout import FanOutSink
from detector.service.health import Health
from detector.service.jsonlog import JsonLog as JsonLog  # re-exported: its old home
from detector.service.loop import ConsumeLoop
from detector.service.metrics import HttpEndpoints, Metrics
from detector.service.records import Records
from detector.service.refresh import ModelRefresh
from detector.service.webhook import Judge, VerdictWebhook
from detector.sinks.base import Sink
from detector.state.checkpointing import (
    Checkpointer,
    DirectoryStore,
    KafkaChangelogStore,
    StateStore,
)


def connect_error(exc: BaseException) -> str | None:
    """How a failed connect attempt is logged when trying again may help, else None
    (the error propagates: a programming or configuration error).

    >>> from aiokafka.errors import KafkaConnectionError, KafkaConfigurationError
    >>> connect_error(KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]"))
    "KafkaConnectionError: Unable to bootstrap from [('127.0.0.1', 9)]"
    >>> connect_error(ConnectionRefusedError(111, "refused"))
    'ConnectionRefusedError: [Errno 111] refused'
    >>> connect_error(KafkaConfigurationError()) is None
    True
    """
    if not retriable(exc):
        return None
    name = type(exc).__name__
    if isinstance(exc, KafkaError):
        return str(exc) if str(exc).startswith(name) else f"{name}: {exc}"
    return f"{name}: {exc}" if str(exc) else name


class ServiceRuntime:
    """``detector run``: consume, detect, checkpoint, serve health and metrics.

    ``await ServiceRuntime(service_settings, settings, sinks).run()`` returns
    the exit code; ``request_stop()`` (or SIGTERM/SIGINT) ends it gracefully.

    >>> import io
    >>> rt = ServiceRuntime(ServiceSettings(topics=("access",)), Settings(), [],
    ...                     log=JsonLog(io.StringIO()))
    >>> rt.healthy(), rt.ready()
    ((True, 'ok'), (False, 'not connected'))
    """

    def __init__(
        self,
        service: ServiceSettings,
        settings: Settings,
        sinks: list[Sink],
        *,
        store: StateStore | None = None,
        log: JsonLog | None = None,
        handle_signals: bool = False,
        analysis: bool = True,
        judge: Judge | None = None,
    ) -> None:
        self.cfg = service
        # Answers POST /verdict (Flagger); None: the release book (CONTRACTS §6) when
        # verdicts are on, else every call is 503 "no judge".
        self.judge = judge
        self.settings = settings
        self.ctx = ctx = ServiceContext(service, settings, sinks, log=log)
        self.conn = service.kafka_connection()
        self.handle_signals = handle_signals
        self.http: HttpEndpoints | None = None
        self.records = Records(ctx)
        self.checkpointer: Checkpointer[PartitionState] = Checkpointer(
            ctx.parts, ctx.sink, ctx.origin, flush=self.records.flush_dead_letters,
            commit=self._commit, frozen=lambda: ctx.frozen, log=ctx.log,
            timed=lambda took: ctx.metrics.observe("detector_checkpoint_seconds",
                                                   "Checkpoint duration.", took))
        self.checkpointer.store = store
        self.refresh = ModelRefresh(ctx, analysis=analysis)
        self.assignment = Assignment(ctx, self.refresh, self.checkpointer,
                                     dead_letter=self.records.dead_letter)
        self.health = Health(ctx, last_checkpoint=lambda: self.checkpointer.last_success)
        self.loop = ConsumeLoop(ctx, self.records, self.health, self.refresh, self.checkpointer)

    # ---- the parts' state, as the front shows it -------------------------
    @property
    def log(self) -> JsonLog:
        return self.ctx.log

    @property
    def metrics(self) -> Metrics:
        return self.ctx.metrics

    @property
    def sink(self) -> FanOutSink:
        return self.ctx.sink

    @property
    def parts(self) -> dict[TopicPartition, PartitionState]:
        return self.ctx.parts

    @property
    def source(self) -> KafkaSource | None:
        return self.ctx.source

    @source.setter
    def source(self, source: KafkaSource | None) -> None:
        self.ctx.source = source

    @property
    def store(self) -> StateStore | None:
        return self.checkpointer.store

    @property
    def _lag(self) -> dict[TopicPartition, int]:
        return self.ctx.lag

    @_lag.setter
    def _lag(self, lag: dict[TopicPartition, int]) -> None:
        self.ctx.lag = lag

    @property
    def stopping(self) -> asyncio.Event:
        return self.ctx.stopping

    @property
    def stop_reason(self) -> str:
        return self.ctx.stop_reason

    @property
    def failure(self) -> str | None:
        return self.ctx.failure

    @property
    def exit_code(self) -> int:
        return self.ctx.exit_code

    def healthy(self) -> tuple[bool, str]:
        return self.health.healthy()

    def ready(self) -> tuple[bool, str]:
        return self.health.ready()

    def _apply_backpressure(self) -> None:
        self.health.apply_backpressure()

    def handle(self, poll: dict[TopicPartition, list[Any]]) -> None:
        self.records.handle(poll)

    def drain(self) -> None:
        self.loop.drain()

    async def checkpoint(
        self, tps: frozenset[TopicPartition] | None = None, *, reason: str = "interval",
        drop: bool = False,
    ) -> int:
        """Checkpoint ``tps`` (default: all owned partitions); returns how many were saved."""
        return await self.checkpointer.checkpoint(tps, reason=reason, drop=drop)

    async def _commit(self, offsets: Mapping[TopicPartition, int]) -> bool:
        if self.ctx.source is None:
            return False
        await self.ctx.source.commit(offsets)
        return True

    # ---- lifecycle -------------------------------------------------------
    def request_stop(self, reason: str = "signal") -> None:
        self.ctx.request_stop(reason)

    async def run(self) -> int:
        ctx = self.ctx
        if self.refresh.models is not None:
            # Before joining the group: a model the registry refuses is a start
            # failure (ModelRefused, exit 2), not a ready service that does nothing.
            await asyncio.to_thread(self.refresh.models.check)
        loop = asyncio.get_running_loop()
        if self.handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
        ctx.log("started", group=self.cfg.group_id, topics=list(self.cfg.topics),
                bootstrap=self.cfg.bootstrap_servers)
        # Overlaps the group join (waiting on the broker) instead of delaying the first restore.
        warm = asyncio.ensure_future(asyncio.to_thread(self.refresh.warm_up))
        try:
            if self.cfg.metrics_port:
                await self._start_http()
            if not await self._start():
                return ctx.exit_code
            with throughput_gc():
                await self.loop.run()
        finally:
            ctx.log("stopping", reason=ctx.stop_reason or "end")
            try:
                await asyncio.wait_for(self._shutdown(), self.cfg.grace_period)
            except TimeoutError:
                ctx.log("grace period exceeded", level="error",
                        grace_period=self.cfg.grace_period)
            if self.http is not None:
                await self.http.stop()
            await warm  # never raises; a thread cannot be cancelled, so it ends here
            if self.handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        return ctx.exit_code

    async def _start_http(self) -> None:
        self.http = HttpEndpoints(self.metrics, self.healthy, self.ready, log=self.log,
                                  verdict=self._verdict_webhook())
        await self.http.start(self.cfg.metrics_host, self.cfg.metrics_port)
        self.log("metrics", host=self.cfg.metrics_host, port=self.http.port)

    def _verdict_webhook(self) -> VerdictWebhook:
        """POST /verdict: the judge given, else the service's own release book (its
        records and interim judgements read the pipelines' state: on the loop)."""
        if self.judge is None and self.ctx.releases is not None:
            return VerdictWebhook(self.ctx.releases.judge, on_loop=True)
        return VerdictWebhook(self.judge)

    async def _start(self) -> bool:
        """Connect (retrying while the broker is unreachable); False if stopped meanwhile
        or, with ``connect_timeout``, given up (exit 2). One log line per attempt."""
        ctx = self.ctx
        delay = 0.5
        limit = self.cfg.connect_timeout
        t0 = time.monotonic()
        attempt = 0
        while not ctx.stopping.is_set():
            attempt += 1
            left = None if limit is None else max(0.1, limit - (time.monotonic() - t0))
            try:
                async with asyncio.timeout(left):
                    await self._connect()
                ctx.started = True
                if attempt > 1:
                    ctx.log("broker reachable", attempts=attempt)
                return True
            except Exception as exc:
                why = connect_error(exc)
                if why is None:
                    raise
            ctx.reachable = False
            ctx.log("broker unreachable", level="warning", attempt=attempt,
                    bootstrap=self.cfg.bootstrap_servers, error=why[:300])
            await self._close_clients()
            if limit is not None and time.monotonic() - t0 >= limit:
                ctx.stop(f"cannot reach the broker at {self.cfg.bootstrap_servers} within "
                         f"{limit:g} s ({attempt} attempts; last: {why[:200]})", 2,
                         "connect timeout")
                return False
            if limit is not None:
                delay = min(delay, max(0.0, limit - (time.monotonic() - t0)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.stopping.wait(), delay)
            delay = min(delay * 2, 10.0)
        return False

    async def _connect(self) -> None:
        cfg, ctx = self.cfg, self.ctx
        specs = []
        if cfg.dead_letter_topic:
            specs.append(TopicSpec(cfg.dead_letter_topic, 1))
        if cfg.deployments_topic:
            specs.append(TopicSpec(cfg.deployments_topic, 1))
        if self.checkpointer.store is None and cfg.state_dir is None:
            specs.append(TopicSpec(cfg.changelog(), 1, configs={"cleanup.policy": "compact"}))
        async with TopicAdmin(self.conn) as admin:
            await admin.ensure_topics(specs)
        if self.checkpointer.store is None:
            self.checkpointer.store = (
                DirectoryStore(cfg.state_dir) if cfg.state_dir is not None
                else KafkaChangelogStore(self.conn, cfg.changelog(), timeout=10.0))
        if cfg.dead_letter_topic:
            ctx.dlq = await DeadLetterProducer(
                self.conn, cfg.dead_letter_topic,
                request_timeout_ms=cfg.request_timeout_ms).__aenter__()
        if cfg.deployments_topic:
            # Every instance reads every deployment (no group): each pipeline
            # attributes incidents of its own services. Read what exists first,
            # so a backfill attributes like a replay with --deployments.
            self.records.deps_consumer = await assign_all(self.conn, cfg.deployments_topic)
            await read_to_end(self.records.deps_consumer, self.records.on_deployment_record, 30.0)
        cap = max([cfg.max_record_bytes, *cfg.topic_max_record_bytes.values()])
        source_cfg = KafkaSourceConfig(
            topics=cfg.topics, group_id=cfg.group_id, strip_schema_prefix=False,
            max_record_bytes=cap + SCHEMA_PREFIX_LEN, poll_timeout_ms=cfg.poll_timeout_ms,
            session_timeout_ms=cfg.session_timeout_ms,
            heartbeat_interval_ms=cfg.heartbeat_interval_ms,
            request_timeout_ms=cfg.request_timeout_ms,
        )
        ctx.source = KafkaSource(source_cfg, self.conn, on_assigned=self.assignment.on_assigned,
                                 on_revoked=self.assignment.on_revoked)
        await ctx.source.start()
        ctx.last_contact = time.monotonic()

    async def _close_clients(self) -> None:
        ctx = self.ctx
        if ctx.source is not None:
            with contextlib.suppress(Exception):
                await ctx.source.stop()
            ctx.source = None
        if ctx.dlq is not None:
            with contextlib.suppress(Exception):
                await ctx.dlq.__aexit__(None, None, None)
            ctx.dlq = None
        if self.records.deps_consumer is not None:
            with contextlib.suppress(Exception):
                await self.records.deps_consumer.stop()
            self.records.deps_consumer = None

    async def _shutdown(self) -> None:
        ctx = self.ctx
        # Give the sinks a bounded time to catch up, then stop delivering: what is
        # still undelivered goes into the last checkpoint's ledger, exactly.
        budget = min(self.cfg.grace_period / 3, 10.0)
        if not await asyncio.to_thread(ctx.sink.drain, budget):
            ctx.log("sinks not caught up", level="warning", seconds=budget,
                    pending=ctx.sink.pending())
        await asyncio.to_thread(ctx.sink.stop)
        # Leaving the group revokes every partition, but KafkaSource.stop() can
        # no longer commit by then: checkpoint first, the revoke finds nothing new.
        if ctx.source is not None:
            if ctx.started and not ctx.frozen:
                await self.checkpoint(reason="shutdown")
            try:
                await ctx.source.stop()
            except Exception as exc:
                ctx.log("leave failed", level="warning", error=f"{type(exc).__name__}: {exc}")
            ctx.source = None
        await self._close_clients()
        await asyncio.to_thread(ctx.sink.close)
        close = getattr(self.checkpointer.store, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
