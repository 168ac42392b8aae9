"""The service loop: one pipeline per assigned partition, checkpoints, health, shutdown.

Why a pipeline per partition: the input topic is keyed by service, so a
partition holds whole services. Its state then moves with it on a rebalance,
and its event-time watermark is its own maximum event time (the pipeline's
internal watermark), so an idle partition never holds the others back and the
result depends only on the records of the partition, in offset order: a
restored pipeline fed the same records gives the same incidents.

Checkpoint, per partition (see ``checkpoint``): capture (snapshot, next offset)
in memory, then flush the dead-letter producer and the sinks, then save the
checkpoint, then commit the offset. Capturing first means no incident emitted
after the flush can be missing from a restart: everything the saved state
has emitted was flushed before it was saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition

from detector.config import Settings
from detector.decoding.base import SCHEMA_PREFIX_LEN
from detector.decoding.records import RecordDecoder, as_deployment
from detector.deployments.registry import DeploymentRegistry
from detector.durations import parse_duration
from detector.events import BadRecord, DeploymentEvent
from detector.gc_tuning import throughput_gc
from detector.kafka import (
    DeadLetterError,
    DeadLetterProducer,
    KafkaSource,
    KafkaSourceConfig,
    TopicAdmin,
    TopicSpec,
)
from detector.pipeline import Pipeline
from detector.service.checkpoint import (
    CheckpointError,
    DirectoryStore,
    KafkaChangelogStore,
    StateStore,
    pack,
    partition_key,
    unpack,
    unpack_ledger,
)
from detector.service.config import ServiceSettings
from detector.service.fanout import FanOutSink
from detector.service.jsonlog import JsonLog as JsonLog  # re-exported: its old home
from detector.service.metrics import HttpEndpoints, Metrics
from detector.service.models import ModelLoader, ModelRefused
from detector.service.retrain import (
    MIN_TRAIN_EVENTS,
    Reservoir,
    partition_model_name,
    train_in_child,
)
from detector.service.tail import assign_all, read_to_end
from detector.sinks.base import Sink

PROBE_EVERY = 2.0  # seconds between broker probes (lag, readiness)
PROBE_TIMEOUT = 3.0
LOOP_STALL = 90.0  # /healthz fails when the loop has not turned for this long
EXIT_FAILED = 3  # stopped on its own: a record could not be dead-lettered (see ``failure``)
EXIT_REFUSED = 2  # no version of the model the registry accepts



if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.analysis.signatures import SignatureEngine

@dataclass
class PartitionState:
    tp: TopicPartition
    pipeline: Pipeline
    next_offset: int | None = None  # next offset the pipeline has not seen
    version: int = 0  # bumped whenever the pipeline state changes
    saved_version: int = 0
    saved_offset: int | None = None
    committed: int | None = None
    last_activity: float = field(default_factory=time.monotonic)
    activity_ts: float = -math.inf  # the pipeline's event time when records last came
    model_name: str | None = None  # registry model its analyzer was loaded from
    sample: Reservoir | None = None  # events since the last retraining (--retrain-every)
    ready: bool = True  # False until restored; its records are dropped and re-read


class ServiceSource(KafkaSource):
    """KafkaSource plus the seek a checkpointed consumer needs on assignment."""

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._live().seek(tp, offset)

    async def seek_to_start(self, tp: TopicPartition) -> None:
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


class ServiceRuntime:
    """``detector run``: consume, detect, checkpoint, serve health and metrics.

    ``await ServiceRuntime(service_settings, settings, sinks).run()`` returns
    the exit code; ``request_stop()`` (or SIGTERM/SIGINT) ends it gracefully.
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
    ) -> None:
        self.cfg = service
        self.settings = settings
        self.metrics = Metrics()
        # A scrape always names these, even mid-rebalance with no lag known (see _collect).
        self.metrics.declare("detector_records_total", "counter", "Records consumed.")
        self.metrics.declare("detector_consumer_lag", "gauge",
                             "Records behind the partition end (>= 0).")
        self.conn = service.kafka_connection()
        self.store = store
        self.log = log or JsonLog()
        # Sinks are called by delivery threads, never by the pipelines (see fanout).
        self.sink = FanOutSink(sinks, self.metrics, max_pending=service.sink_max_pending,
                               failing_after=service.sink_failing_after, log=self.log)
        self._backpressure = False
        self.handle_signals = handle_signals
        self.decoder = RecordDecoder(service)
        self.analysis = analysis
        self._signatures: SignatureEngine | None = None  # compiled once, shared by partitions
        self._last_model_check = time.monotonic()
        self._reloading = False
        self._retrain_period = (parse_duration(service.retrain_every)
                                if service.retrain_every is not None else None)
        self._next_retrain = time.monotonic() + (self._retrain_period or 0.0)
        self._retrain_task: asyncio.Task[None] | None = None
        self.parts: dict[TopicPartition, PartitionState] = {}
        self.deployments: list[DeploymentEvent] = []
        self.pending_dead: list[BadRecord] = []
        self.stopping = asyncio.Event()
        self.stop_reason = ""
        # Why the service stopped on its own (``run()`` then returns ``exit_code``), and
        # whether checkpoints are off: a record that could not be dead-lettered is read again.
        self.failure: str | None = None
        self.exit_code = 0
        self._frozen = False
        self.models = (ModelLoader(service.models, self.log)
                       if service.models is not None and analysis else None)
        self.http: HttpEndpoints | None = None
        self.source: ServiceSource | None = None
        self.dlq: DeadLetterProducer | None = None
        self._deps_consumer: Any = None
        self._ck_lock = asyncio.Lock()
        self._restoring = 0
        self._started = False
        now = time.monotonic()
        self._last_loop = now
        self._last_contact = 0.0
        self._reachable = True
        self._last_checkpoint = now  # the last *successful* checkpoint (age metric)
        self._last_ck_attempt = now
        self._last_probe = 0.0
        self._lag: dict[TopicPartition, int] = {}
        self.metrics.collectors.append(self._collect)

    # ---- lifecycle -------------------------------------------------------
    def request_stop(self, reason: str = "signal") -> None:
        if not self.stopping.is_set():
            self.stop_reason = reason
            self.stopping.set()

    async def run(self) -> int:
        if self.models is not None:
            # Before joining the group: a model the registry refuses is a start
            # failure (ModelRefused, exit 2), not a ready service that does nothing.
            await asyncio.to_thread(self.models.check)
        loop = asyncio.get_running_loop()
        if self.handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
        self.log("started", group=self.cfg.group_id, topics=list(self.cfg.topics),
                 bootstrap=self.cfg.bootstrap_servers)
        try:
            if self.cfg.metrics_port:
                await self._start_http()
            if not await self._start():
                return self.exit_code
            with throughput_gc():
                await self._consume()
        finally:
            self.log("stopping", reason=self.stop_reason or "end")
            try:
                await asyncio.wait_for(self._shutdown(), self.cfg.grace_period)
            except TimeoutError:
                self.log("grace period exceeded", level="error",
                         grace_period=self.cfg.grace_period)
            if self.http is not None:
                await self.http.stop()
            if self.handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        return self.exit_code

    async def _start_http(self) -> None:
        self.http = HttpEndpoints(self.metrics, self.healthy, self.ready, log=self.log)
        await self.http.start(self.cfg.metrics_host, self.cfg.metrics_port)
        self.log("metrics", host=self.cfg.metrics_host, port=self.http.port)

    async def _start(self) -> bool:
        """Connect (retrying while the broker is unreachable); False if stopped meanwhile
        or, with ``connect_timeout``, given up (exit 2). One log line per attempt."""
        delay = 0.5
        limit = self.cfg.connect_timeout
        t0 = time.monotonic()
        attempt = 0
        while not self.stopping.is_set():
            attempt += 1
            left = None if limit is None else max(0.1, limit - (time.monotonic() - t0))
            try:
                async with asyncio.timeout(left):
                    await self._connect()
                self._started = True
                if attempt > 1:
                    self.log("broker reachable", attempts=attempt)
                return True
            except (OSError, ConnectionError, TimeoutError) as exc:
                why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except Exception as exc:  # aiokafka's KafkaConnectionError and friends
                if "Kafka" not in type(exc).__name__:
                    raise
                name = type(exc).__name__
                why = str(exc) if str(exc).startswith(name) else f"{name}: {exc}"
            self._reachable = False
            self.log("broker unreachable", level="warning", attempt=attempt,
                     bootstrap=self.cfg.bootstrap_servers, error=why[:300])
            await self._close_clients()
            if limit is not None and time.monotonic() - t0 >= limit:
                self._stop(f"cannot reach the broker at {self.cfg.bootstrap_servers} within "
                           f"{limit:g} s ({attempt} attempts; last: {why[:200]})", 2,
                           "connect timeout")
                return False
            if limit is not None:
                delay = min(delay, max(0.0, limit - (time.monotonic() - t0)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            delay = min(delay * 2, 10.0)
        return False

    async def _connect(self) -> None:
        cfg = self.cfg
        specs = []
        if cfg.dead_letter_topic:
            specs.append(TopicSpec(cfg.dead_letter_topic, 1))
        if cfg.deployments_topic:
            specs.append(TopicSpec(cfg.deployments_topic, 1))
        if self.store is None and cfg.state_dir is None:
            specs.append(TopicSpec(cfg.changelog(), 1, configs={"cleanup.policy": "compact"}))
        async with TopicAdmin(self.conn) as admin:
            await admin.ensure_topics(specs)
        if self.store is None:
            self.store = (DirectoryStore(cfg.state_dir) if cfg.state_dir is not None
                          else KafkaChangelogStore(self.conn, cfg.changelog(), timeout=10.0))
        if cfg.dead_letter_topic:
            self.dlq = await DeadLetterProducer(
                self.conn, cfg.dead_letter_topic,
                request_timeout_ms=cfg.request_timeout_ms).__aenter__()
        if cfg.deployments_topic:
            # Every instance reads every deployment (no group): each pipeline
            # attributes incidents of its own services. Read what exists first,
            # so a backfill attributes like a replay with --deployments.
            self._deps_consumer = await assign_all(self.conn, cfg.deployments_topic)
            await read_to_end(self._deps_consumer, self._on_deployment_record, 30.0)
        cap = max([cfg.max_record_bytes, *cfg.topic_max_record_bytes.values()])
        source_cfg = KafkaSourceConfig(
            topics=cfg.topics, group_id=cfg.group_id, strip_schema_prefix=False,
            max_record_bytes=cap + SCHEMA_PREFIX_LEN, poll_timeout_ms=cfg.poll_timeout_ms,
            session_timeout_ms=cfg.session_timeout_ms,
            heartbeat_interval_ms=cfg.heartbeat_interval_ms,
            request_timeout_ms=cfg.request_timeout_ms,
        )
        self.source = ServiceSource(source_cfg, self.conn, on_assigned=self._on_assigned,
                                    on_revoked=self._on_revoked)
        await self.source.start()
        self._last_contact = time.monotonic()

    async def _close_clients(self) -> None:
        if self.source is not None:
            with contextlib.suppress(Exception):
                await self.source.stop()
            self.source = None
        if self.dlq is not None:
            with contextlib.suppress(Exception):
                await self.dlq.__aexit__(None, None, None)
            self.dlq = None
        if self._deps_consumer is not None:
            with contextlib.suppress(Exception):
                await self._deps_consumer.stop()
            self._deps_consumer = None

    async def _shutdown(self) -> None:
        # Give the sinks a bounded time to catch up, then stop delivering: what is
        # still undelivered goes into the last checkpoint's ledger, exactly.
        budget = min(self.cfg.grace_period / 3, 10.0)
        if not await asyncio.to_thread(self.sink.drain, budget):
            self.log("sinks not caught up", level="warning", seconds=budget,
                     pending=self.sink.pending())
        await asyncio.to_thread(self.sink.stop)
        # Leaving the group revokes every partition, but KafkaSource.stop() can
        # no longer commit by then: checkpoint first, the revoke finds nothing new.
        if self.source is not None:
            if self._started and not self._frozen:
                await self.checkpoint(reason="shutdown")
            try:
                await self.source.stop()
            except Exception as exc:
                self.log("leave failed", level="warning", error=f"{type(exc).__name__}: {exc}")
            self.source = None
        await self._close_clients()
        await asyncio.to_thread(self.sink.close)
        close = getattr(self.store, "close", None)
        if close is not None:
            await asyncio.to_thread(close)

    # ---- health ----------------------------------------------------------
    def healthy(self) -> tuple[bool, str]:
        stalled = time.monotonic() - self._last_loop
        if stalled > LOOP_STALL:
            return False, f"loop stalled for {stalled:.0f} s"
        failing = self.sink.failing()
        if failing:
            return False, "; ".join(f"sink {name} failing for {secs:.0f} s: {why}"
                                    for name, secs, why in failing)
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        if not self._started:
            return False, "not connected"
        if self._restoring:
            return False, "restoring partitions"
        silent = time.monotonic() - self._last_contact
        if silent > self.cfg.ready_timeout:
            return False, f"broker silent for {silent:.0f} s"
        return True, f"ok: {len(self.parts)} partitions"

    def _unreachable(self, why: str) -> None:
        if self._reachable:
            self.log("broker unreachable", level="warning", error=why[:300])
        self._reachable = False

    def _collect(self, m: Metrics) -> None:
        m.clear("detector_consumer_lag")
        for tp, lag in self._lag.items():
            if tp in self.parts:  # a probe from before a rebalance may name others
                m.set("detector_consumer_lag", "Records behind the partition end (>= 0).",
                      max(0, lag), topic=tp.topic, partition=str(tp.partition))
        m.set("detector_last_checkpoint_age_seconds",
              "Seconds since the last successful checkpoint (or since start).",
              time.monotonic() - self._last_checkpoint)
        m.set("detector_sink_backpressure", "1 while consumption is paused because a sink "
              "holds sink_max_pending undelivered changes.", float(self._backpressure))
        m.set("detector_assigned_partitions", "Partitions owned by this instance.",
              len(self.parts))

    # ---- rebalance -------------------------------------------------------
    def _new_pipeline(self, analyzer: RequestAnalyzer | None,
                      tp: TopicPartition | None = None) -> Pipeline:
        """A fresh pipeline (no analyzer: a placeholder that never processes, or analysis off).
        Its changes go to the fan-out tagged with the partition: its delivery ledger."""
        sink = self.sink.origin(self._origin(tp) if tp is not None else "")
        return Pipeline(self.settings, [sink], registry=DeploymentRegistry(),
                        dead_letter=self._dead_letter, analyzer=analyzer)

    def _origin(self, tp: TopicPartition) -> str:
        return partition_key(self.cfg.group_id, tp.topic, tp.partition)

    def _model_name(self, tp: TopicPartition) -> str:
        """The partition's own model (--retrain-every) when published, else the shared one."""
        from detector.analysis.request_model import MODEL_NAME
        from detector.models.registry import ModelRegistry, RegistryError

        assert self.cfg.models is not None
        own = partition_model_name(MODEL_NAME, tp.topic, tp.partition)
        try:
            if (ModelRegistry(self.cfg.models).current(own) is not None
                    and not (self.models is not None and self.models.is_refused(own))):
                return own
        except RegistryError:
            pass  # a broken pointer: the shared model
        return MODEL_NAME

    def _new_analyzer(self, model_name: str | None) -> RequestAnalyzer | None:
        """Per-partition request analysis (its profiles are part of the partition's state),
        from ``model_name`` in the registry (see :meth:`_model_name`) when there is one;
        the compiled signature database is shared."""
        if not self.analysis:
            return None
        from detector.analysis.analyzer import RequestAnalyzer
        from detector.analysis.signatures import SignatureEngine

        if self.models is not None and model_name is not None:
            return self.models.load(model_name)[1]  # refused versions: see ModelLoader.load
        if self._signatures is None:
            self._signatures = SignatureEngine.default()
        return RequestAnalyzer(signatures=self._signatures, learn_online=True)

    async def _on_assigned(self, tps: frozenset[TopicPartition]) -> None:
        assert self.source is not None and self.store is not None
        # Placeholders first, before any await: the fetcher may already deliver
        # records of these partitions; they are dropped until the partition is
        # restored, and the seek below makes the consumer read them again.
        for tp in tps:
            self.parts[tp] = PartitionState(tp, self._new_pipeline(None), ready=False)
        self._restoring += 1
        try:
            for tp in sorted(tps):
                await self._restore(tp)
        finally:
            self._restoring -= 1

    async def _restore(self, tp: TopicPartition) -> None:
        assert self.source is not None and self.store is not None
        name = (await asyncio.to_thread(self._model_name, tp)
                if self.cfg.models is not None and self.analysis else None)
        try:
            analyzer = self._new_analyzer(name)
        except ModelRefused as exc:  # no version at all it accepts: stopping beats a dead partition
            self._stop(str(exc), EXIT_REFUSED, "model refused")
            return
        st = PartitionState(tp, self._new_pipeline(analyzer, tp), ready=False, model_name=name)
        key = partition_key(self.cfg.group_id, tp.topic, tp.partition)
        data = await asyncio.to_thread(self.store.load, key)
        restored = None
        ledger = b""
        if data is not None:
            try:
                offset, snap, ledger = unpack_ledger(data)
                st.pipeline.restore(snap)
                restored = offset
            except (CheckpointError, ValueError) as exc:
                self.log("checkpoint unusable", level="error", partition=str(tp),
                         error=str(exc)[:200])
                st = PartitionState(tp, self._new_pipeline(self._new_analyzer(name), tp),
                                    ready=False, model_name=name)
                ledger = b""
        if restored is None:
            # No state: start where the group left off (or where auto reset says).
            committed = await self.source.committed(tp)
            if committed is not None:
                self.source.seek(tp, committed)
                st.next_offset = committed
            else:
                await self.source.seek_to_start(tp)
        else:
            # The snapshot's offset, not the committed one: they differ after a
            # crash between saving and committing.
            self.source.seek(tp, restored)
            st.next_offset = st.saved_offset = restored
        for dep in self.deployments:
            st.pipeline.add_deployment(dep)
        st.activity_ts = st.pipeline.max_ts  # a restored partition may stay silent
        if self._retrain_period is not None:
            st.sample = Reservoir(self.cfg.retrain_sample)
        st.last_activity = time.monotonic()
        st.ready = True
        if self.parts.get(tp) is not None:  # not revoked meanwhile
            self.parts[tp] = st
            try:  # re-deliver what the previous owner had not delivered
                self.sink.restore(self._origin(tp), ledger)
            except (ValueError, KeyError, TypeError) as exc:
                self.log("delivery ledger unusable", level="error", partition=str(tp),
                         error=f"{type(exc).__name__}: {exc}"[:200])
        self.log("assigned", topic=tp.topic, partition=tp.partition, restored_offset=restored,
                 state="snapshot" if restored is not None else "empty")

    async def _on_revoked(self, tps: frozenset[TopicPartition]) -> None:
        await self.checkpoint(tps, reason="revoke", drop=True)
        for tp in tps:  # the new owner delivers from the saved ledger
            self.sink.forget(self._origin(tp))
        self.log("revoked", partitions=[f"{tp.topic}:{tp.partition}" for tp in sorted(tps)])

    # ---- records ---------------------------------------------------------
    def _dead_letter(self, rec: BadRecord) -> None:
        self.metrics.inc("detector_bad_records_total", "Records sent to the dead-letter output.",
                         reason=rec.reason.split(":")[0][:60])
        self.pending_dead.append(rec)

    def _on_deployment_record(self, r: Any) -> None:
        source = f"{r.topic}:{r.partition}"
        try:
            dep = as_deployment(r.value or b"", source, r.offset)
        except ValueError as exc:  # DecodeError
            self._dead_letter(BadRecord(source, r.offset, str(exc), r.value or b"",
                                        timestamp_ms=r.timestamp))
            return
        if dep is None:
            self._dead_letter(BadRecord(source, r.offset, "not a deployment event",
                                        r.value or b"", timestamp_ms=r.timestamp))
            return
        self._broadcast(dep, None)

    def _broadcast(self, dep: DeploymentEvent, skip: TopicPartition | None) -> None:
        self.deployments.append(dep)
        self.metrics.inc("detector_deployments_total", "Deployment events received.",
                         service=dep.service)
        for tp, st in self.parts.items():
            if tp != skip:
                st.pipeline.add_deployment(dep)
                st.version += 1

    def handle(self, poll: dict[TopicPartition, list[Any]]) -> None:
        """Process one poll synchronously: no await, so no rebalance cuts through it."""
        now = time.monotonic()
        for tp, recs in poll.items():
            st = self.parts.get(tp)
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
                    self._broadcast(it, tp)
            if st.sample is not None:
                st.sample.offer(items)
            before = st.pipeline.summary.windows_closed
            st.pipeline.process(items)
            st.next_offset = recs[-1].offset + 1
            st.version += 1
            st.last_activity = now
            st.activity_ts = st.pipeline.max_ts
            self.metrics.inc("detector_records_total", "Records consumed.", len(recs),
                             topic=tp.topic)
            if st.pipeline.summary.windows_closed > before:
                self.metrics.observe("detector_window_close_latency_seconds",
                                     "From fetching the closing record to incidents at the sinks.",
                                     time.monotonic() - now)

    async def _reload_model(self) -> None:
        """Swap in new ``current`` versions from the registry (CONTRACTS §5).

        Per partition: its own model (published by --retrain-every) when there
        is one, else the shared ``request`` model. A partition whose model
        changed gets the new version's profiles, model and threshold; its
        windows, baselines and incidents are untouched. A version that fails to
        load is logged (once per version) and the running one kept.
        """
        from detector.models.registry import ModelRegistry

        self._last_model_check = time.monotonic()
        models = self.cfg.models
        assert models is not None
        reg = ModelRegistry(models)
        loader = self.models
        assert loader is not None

        def stale() -> list[tuple[TopicPartition, str]]:
            out = []
            for tp, st in list(self.parts.items()):
                if not st.ready or st.pipeline.analyzer is None:
                    continue
                name = self._model_name(tp)
                if loader.is_refused(name):
                    continue  # refused (and logged) before: keep the running version
                if name != st.model_name or reg.changed_since(name, st.pipeline.analyzer.version):
                    out.append((tp, name))
            return out

        todo = await asyncio.to_thread(stale)
        if not todo:
            return
        self._reloading = True
        try:
            fresh = await asyncio.to_thread(
                lambda: [loader.load_current(name) for _, name in todo])
        finally:
            self._reloading = False
        for (tp, name), analyzer in zip(todo, fresh, strict=True):
            st = self.parts.get(tp)
            if analyzer is None or st is None or not st.ready:  # refused; revoked meanwhile
                continue
            previous = st.pipeline.analyzer.version if st.pipeline.analyzer else None
            st.pipeline.use_analyzer(analyzer)
            st.model_name = name
            st.version += 1
            self.metrics.inc("detector_model_reloads_total", "Model versions swapped in.")
            self.log("model reloaded", topic=tp.topic, partition=tp.partition, model=name,
                     previous=previous, version=analyzer.version)

    async def _retrain(self) -> None:
        """Train each owned partition's model on its sample since the last training."""
        from detector.analysis.request_model import MODEL_NAME

        models = self.cfg.models
        assert models is not None
        for tp, st in list(self.parts.items()):
            if st.sample is None or not st.ready:
                continue
            events = st.sample.take()
            where = {"topic": tp.topic, "partition": tp.partition}
            if len(events) < MIN_TRAIN_EVENTS:
                self.log("retrain skipped", **where, events=len(events),
                         reason=f"fewer than {MIN_TRAIN_EVENTS} events since the last training")
                continue
            name = partition_model_name(MODEL_NAME, tp.topic, tp.partition)
            t0 = time.monotonic()
            try:
                version = await train_in_child(models, name, events)
            except (RuntimeError, OSError, TimeoutError) as exc:
                self.metrics.inc("detector_retrain_total", "Scheduled retrainings.",
                                 outcome="failed")
                self.log("retrain failed", level="error", **where, model=name,
                         error=str(exc)[:300])
                continue
            self.metrics.inc("detector_retrain_total", "Scheduled retrainings.",
                             outcome="published")
            self.log("model retrained", **where, model=name, version=version,
                     events=len(events), seconds=round(time.monotonic() - t0, 1))
        self._last_model_check = -math.inf  # swap the new versions in at the next turn

    def _maybe_retrain(self) -> None:
        period = self._retrain_period
        if period is None or self._last_loop < self._next_retrain:
            return
        if self._retrain_task is not None and not self._retrain_task.done():
            return  # the previous round is still training: the next period waits
        self._next_retrain = self._last_loop + period
        self._retrain_task = asyncio.create_task(self._retrain())

    def _idle_close_after(self) -> float:
        after = self.cfg.idle_close_after
        if after is None:
            w = self.settings.windows
            return float(w.size_seconds + w.allowed_lateness_seconds)
        return after

    def _advance_idle(self) -> None:
        """Let event time run on with the wall clock in caught-up partitions gone silent.

        A partition's windows close when a later record arrives; a service that
        stops sending would leave its last windows open for good and its drop
        unseen. Once a partition has no lag and no record for
        ``idle_close_after`` seconds, its event time moves on by the wall time
        elapsed since its last record (the offset between the two clocks, from
        live traffic or a backfill, is kept), closing the windows it passes.
        """
        after = self._idle_close_after()
        if after <= 0 or not self._reachable:
            return
        now = time.monotonic()
        for tp, st in self.parts.items():
            idle = now - st.last_activity
            if (idle < after or not st.ready or st.activity_ts == -math.inf
                    or self._lag.get(tp) != 0):
                continue
            closed = st.pipeline.advance(st.activity_ts + idle)
            if closed:
                st.version += 1
                self.metrics.inc("detector_idle_windows_closed_total",
                                 "Windows closed by wall-clock time in silent partitions.",
                                 closed, topic=tp.topic)

    async def _send_dead_letters(self) -> None:
        """Hand pending bad records to the dead-letter producer. A record it does
        not take stops the service without any further commit (see ``_fail``)."""
        if self.dlq is None:
            self.pending_dead.clear()
            return
        sent = 0
        try:
            for rec in self.pending_dead:
                await self.dlq.send_bad(rec)
                sent += 1
        except DeadLetterError as exc:
            self._fail(exc)
        finally:
            del self.pending_dead[:sent]

    def _fail(self, exc: DeadLetterError) -> None:
        """A bad record may be lost: stop, and commit nothing from now on, so the
        records since the last checkpoint (that one included) are read again."""
        self._frozen = True
        self._stop(f"{exc}; stopped without committing past it, it is read again on restart",
                   EXIT_FAILED, "dead-letter failed")

    def _stop(self, why: str, code: int, event: str) -> None:
        """Stop on our own with exit ``code``; the first reason is the one reported."""
        if self.failure is None:
            self.failure, self.exit_code = why, code
            self.log(event, level="error", error=why)
        self.request_stop(event)

    async def _poll_deployments(self) -> None:
        c = self._deps_consumer
        if c is None:
            return
        got = await c.getmany(timeout_ms=0)
        for recs in got.values():
            for r in recs:
                self._on_deployment_record(r)

    # ---- checkpoints -----------------------------------------------------
    async def checkpoint(
        self, tps: frozenset[TopicPartition] | None = None, *, reason: str = "interval",
        drop: bool = False,
    ) -> int:
        """Checkpoint ``tps`` (default: all owned partitions); returns how many were saved."""
        async with self._ck_lock:
            t0 = time.monotonic()
            wanted = sorted(self.parts if tps is None else tps)
            # 1. capture (snapshot, offset) pairs together, before any await, and the
            # change sequence number they reflect (the delivery ledger's cut).
            seq = self.sink.seq
            captured: list[tuple[PartitionState, int, bytes]] = []
            for tp in wanted:
                st = self.parts.pop(tp, None) if drop else self.parts.get(tp)
                if st is None or st.next_offset is None or not st.ready:
                    continue
                if (st.version != st.saved_version or st.saved_offset is None
                        or self.sink.changed(self._origin(tp))):
                    captured.append((st, st.version, pack(st.next_offset, st.pipeline.snapshot())))
                elif st.committed != st.saved_offset:
                    captured.append((st, st.version, b""))  # saved, commit still behind
            if self._frozen:
                return 0  # after a dead-letter failure nothing may be saved or committed
            if not captured:
                if tps is None:
                    self._last_checkpoint = time.monotonic()  # the stored state is current
                return 0
            try:
                # 2. flush the dead letters of the captured states. Sinks are not
                # flushed (a hanging one would stall us): the ledger saved with each
                # state holds what is not delivered yet (see fanout).
                await self._send_dead_letters()
                if self.dlq is not None:
                    await asyncio.wait_for(self.dlq.flush(), 15)
                # 3. save state with its offset and ledger, 4. then commit the offsets.
                store = self.store
                assert store is not None
                offsets: dict[TopicPartition, int] = {}
                for st, version, data in captured:
                    offset = unpack(data)[0] if data else st.saved_offset
                    assert offset is not None
                    if data:
                        origin = self._origin(st.tp)
                        ledger, dirty = self.sink.ledger(origin, seq)
                        blob = pack(offset, unpack(data)[1], ledger)
                        await asyncio.to_thread(store.save, origin, blob)
                        self.sink.saved(origin, seq, dirty)
                        st.saved_version, st.saved_offset = version, offset
                    offsets[st.tp] = offset
                if self.source is not None:
                    await self.source.commit(offsets)
                    for st, _, _ in captured:
                        st.committed = offsets.get(st.tp)
            except Exception as exc:
                if isinstance(exc, DeadLetterError):
                    self._fail(exc)
                    return 0
                # Nothing is lost: the previous checkpoint stays valid, and what
                # was flushed will be emitted again (same ids) after a restart.
                self.log("checkpoint failed", level="warning", reason=reason,
                         error=f"{type(exc).__name__}: {exc}"[:300])
                return 0
            took = time.monotonic() - t0
            self._last_checkpoint = time.monotonic()
            self.metrics.observe("detector_checkpoint_seconds", "Checkpoint duration.", took)
            self.log("checkpoint", reason=reason, partitions=len(captured),
                     offsets={f"{tp.topic}:{tp.partition}": o for tp, o in offsets.items()},
                     seconds=round(took, 3))
            return len(captured)

    # ---- main loop -------------------------------------------------------
    async def _probe(self) -> None:
        assert self.source is not None
        self._last_probe = time.monotonic()
        try:
            self._lag = await asyncio.wait_for(self.source.lag(), PROBE_TIMEOUT)
        except Exception as exc:
            self._unreachable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return
        self._last_contact = time.monotonic()
        if not self._reachable:
            self._reachable = True
            self.log("broker reachable")
            # An outage is not silence: no partition counts as idle (for the drain
            # of a backfill, or to move event time on) for the time it lasted.
            now = time.monotonic()
            for st in self.parts.values():
                st.last_activity = now

    def _idle_for(self) -> float:
        now = time.monotonic()
        return min((now - st.last_activity for st in self.parts.values()), default=0.0)

    async def _consume(self) -> None:
        assert self.source is not None
        # Probing runs beside the loop: a poll can block while the broker is frozen.
        prober = asyncio.create_task(self._probe_forever())
        try:
            await self._consume_loop()
        finally:
            prober.cancel()
            if self._retrain_task is not None and not self._retrain_task.done():
                self._retrain_task.cancel()  # kills the training child; the sample is dropped
                await asyncio.wait({self._retrain_task}, timeout=PROBE_TIMEOUT)
            # aiokafka's offset lookups may swallow a cancellation mid-request:
            # never let a probe hold up the shutdown.
            await asyncio.wait({prober}, timeout=PROBE_TIMEOUT)

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(PROBE_EVERY)
            if self.source is not None:
                await self._probe()

    async def _consume_loop(self) -> None:
        assert self.source is not None
        polls = self.source.polls()
        drain = self.cfg.drain_when_idle
        every = self.cfg.checkpoint_every
        while not self.stopping.is_set():
            poll = await polls.__anext__()
            self._last_loop = time.monotonic()
            if poll:
                self._last_contact = self._last_loop
            self.handle(poll)
            self._apply_backpressure()
            self._advance_idle()
            if (self.cfg.models is not None and self.analysis and not self._reloading
                    and self._last_loop - self._last_model_check >= self.cfg.model_check_every):
                await self._reload_model()
            self._maybe_retrain()
            await self._send_dead_letters()
            await self._poll_deployments()
            now = time.monotonic()
            # Scheduled from the last attempt; the age metric counts from the last success.
            if now - self._last_ck_attempt >= every and self._reachable:
                self._last_ck_attempt = now
                await self.checkpoint()
            if (drain is not None and self.parts and not self._restoring
                    and self._idle_for() >= drain):
                await self._probe()
                # Re-check after the await: a rebalance may have changed ownership.
                if (self.parts and not self._restoring and self._reachable
                        and self._idle_for() >= drain
                        and all(v == 0 for v in self._lag.values())
                        and set(self._lag) >= set(self.parts)):
                    self.drain()
                    self.request_stop("drained")

    def _apply_backpressure(self) -> None:
        """Pause consumption while a sink holds ``sink_max_pending`` undelivered changes.

        Beyond the bound nothing is dropped: detection waits for the sink (visible
        as ``detector_sink_backpressure``, a log line, and /healthz once the sink
        has failed for ``sink_failing_after``), and resumes when it caught up.
        """
        assert self.source is not None
        self.sink.failing()  # logs a sink turning unhealthy even when nobody asks /healthz
        over = self.sink.over_bound()
        if over:
            self.source.pause_all()  # every turn: partitions assigned meanwhile too
        if over == self._backpressure:
            return
        self._backpressure = over
        if over:
            self.metrics.inc("detector_sink_backpressure_total",
                             "Times consumption paused on a full sink backlog.")
            self.log("sink backlog full: consumption paused", level="warning",
                     pending=self.sink.pending(), bound=self.cfg.sink_max_pending)
        else:
            self.source.resume_all()
            self.log("sink backlog drained: consumption resumed", pending=self.sink.pending())

    def drain(self) -> None:
        """Close every open window of every owned partition (end of a backfill)."""
        for st in self.parts.values():
            st.pipeline.finish()
            st.version += 1
        self.log("drained", partitions={
            f"{tp.topic}:{tp.partition}": {"events": st.pipeline.summary.events,
                                           "windows": st.pipeline.summary.windows_closed,
                                           "incidents": sum(st.pipeline.summary.incidents.values())}
            for tp, st in sorted(self.parts.items())})
