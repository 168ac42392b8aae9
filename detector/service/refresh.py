"""Which model each partition runs: choosing, hot reload, and scheduled retraining."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import TYPE_CHECKING

from aiokafka import TopicPartition

from detector.durations import parse_duration
from detector.service.context import ServiceContext
from detector.service.models import ModelLoader
from detector.service.retrain import MIN_TRAIN_EVENTS, partition_model_name, train_in_child

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.analysis.signatures import SignatureEngine


class ModelRefresh:
    """Per-partition analyzers from the registry, swapped when a new version is current.

    Without a registry (``--models``) every partition learns online from the
    shared signature database; with ``analysis=False`` there is no analyzer.

    >>> import io
    >>> from detector.config import Settings
    >>> from detector.service.config import ServiceSettings
    >>> from detector.service.jsonlog import JsonLog
    >>> ctx = ServiceContext(ServiceSettings(topics=("access",)), Settings(), [],
    ...                      log=JsonLog(io.StringIO()))
    >>> ModelRefresh(ctx, analysis=False).new_analyzer(None) is None
    True
    """

    def __init__(self, ctx: ServiceContext, *, analysis: bool = True) -> None:
        self.ctx = ctx
        cfg = ctx.cfg
        self.analysis = analysis
        self.models = (ModelLoader(cfg.models, ctx.log)
                       if cfg.models is not None and analysis else None)
        self._signatures: SignatureEngine | None = None  # compiled once, shared by partitions
        self._signatures_lock = threading.Lock()  # warm_up compiles them in a thread
        self.last_check = time.monotonic()
        self.reloading = False
        self.retrain_period = (parse_duration(cfg.retrain_every)
                               if cfg.retrain_every is not None else None)
        self._next_retrain = time.monotonic() + (self.retrain_period or 0.0)
        self._retrain_task: asyncio.Task[None] | None = None

    @property
    def registry(self) -> bool:
        """Analyzers come from a model registry."""
        return self.ctx.cfg.models is not None and self.analysis

    def model_name(self, tp: TopicPartition) -> str:
        """The partition's own model (--retrain-every) when published, else the shared one."""
        from detector.analysis.request_model import MODEL_NAME
        from detector.models.registry import ModelRegistry, RegistryError

        assert self.ctx.cfg.models is not None
        own = partition_model_name(MODEL_NAME, tp.topic, tp.partition)
        try:
            if (ModelRegistry(self.ctx.cfg.models).current(own) is not None
                    and not (self.models is not None and self.models.is_refused(own))):
                return own
        except RegistryError:
            pass  # a broken pointer: the shared model
        return MODEL_NAME

    def new_analyzer(self, model_name: str | None) -> RequestAnalyzer | None:
        """Per-partition request analysis (its profiles are part of the partition's state),
        from ``model_name`` in the registry (see :meth:`model_name`) when there is one;
        the compiled signature database is shared."""
        if not self.analysis:
            return None
        from detector.analysis.analyzer import RequestAnalyzer

        if self.models is not None and model_name is not None:
            return self.models.load(model_name)[1]  # refused versions: see ModelLoader.load
        return RequestAnalyzer(signatures=self._shared_signatures(), learn_online=True)

    def _shared_signatures(self) -> SignatureEngine:
        from detector.analysis.signatures import SignatureEngine

        with self._signatures_lock:
            if self._signatures is None:
                self._signatures = SignatureEngine.default()
            return self._signatures

    def warm_up(self) -> None:
        """Import request analysis and compile the shared signature database ahead of
        the first assignment (about 1 s of CPU, on a thread while the consumer waits
        for its group to form), so restoring a partition no longer adds it. A failure
        here is left to :meth:`new_analyzer`, which meets it again and reports it where
        a start failure is handled."""
        if not self.analysis:
            return
        try:
            import detector.analysis.analyzer  # noqa: F401, PLC0415 (the import is the work)

            if self.models is None:
                self._shared_signatures()
        except Exception:  # noqa: BLE001, S110 (raised again, and reported, on first use)
            pass

    def reload_due(self, now: float) -> bool:
        return (self.registry and not self.reloading
                and now - self.last_check >= self.ctx.cfg.model_check_every)

    async def reload(self) -> None:
        """Swap in new ``current`` versions from the registry (CONTRACTS §5).

        Per partition: its own model (published by --retrain-every) when there
        is one, else the shared ``request`` model. A partition whose model
        changed gets the new version's profiles, model and threshold; its
        windows, baselines and incidents are untouched. A version that fails to
        load is logged (once per version) and the running one kept.
        """
        from detector.models.registry import ModelRegistry

        ctx = self.ctx
        self.last_check = time.monotonic()
        models = ctx.cfg.models
        assert models is not None
        reg = ModelRegistry(models)
        loader = self.models
        assert loader is not None

        def stale() -> list[tuple[TopicPartition, str]]:
            out = []
            for tp, st in list(ctx.parts.items()):
                if not st.ready or st.pipeline.analyzer is None:
                    continue
                name = self.model_name(tp)
                if loader.is_refused(name):
                    continue  # refused (and logged) before: keep the running version
                if name != st.model_name or reg.changed_since(name, st.pipeline.analyzer.version):
                    out.append((tp, name))
            return out

        todo = await asyncio.to_thread(stale)
        if not todo:
            return
        self.reloading = True
        try:
            fresh = await asyncio.to_thread(
                lambda: [loader.load_current(name) for _, name in todo])
        finally:
            self.reloading = False
        for (tp, name), analyzer in zip(todo, fresh, strict=True):
            st = ctx.parts.get(tp)
            if analyzer is None or st is None or not st.ready:  # refused; revoked meanwhile
                continue
            previous = st.pipeline.analyzer.version if st.pipeline.analyzer else None
            st.pipeline.use_analyzer(analyzer)
            st.model_name = name
            st.version += 1
            ctx.metrics.inc("detector_model_reloads_total", "Model versions swapped in.")
            ctx.log("model reloaded", topic=tp.topic, partition=tp.partition, model=name,
                    previous=previous, version=analyzer.version)

    async def retrain(self) -> None:
        """Train each owned partition's model on its sample since the last training."""
        from detector.analysis.request_model import MODEL_NAME

        ctx = self.ctx
        models = ctx.cfg.models
        assert models is not None
        for tp, st in list(ctx.parts.items()):
            if st.sample is None or not st.ready:
                continue
            events = st.sample.take()
            where = {"topic": tp.topic, "partition": tp.partition}
            if len(events) < MIN_TRAIN_EVENTS:
                ctx.log("retrain skipped", **where, events=len(events),
                        reason=f"fewer than {MIN_TRAIN_EVENTS} events since the last training")
                continue
            name = partition_model_name(MODEL_NAME, tp.topic, tp.partition)
            t0 = time.monotonic()
            try:
                version = await train_in_child(models, name, events)
            except (RuntimeError, OSError, TimeoutError) as exc:
                ctx.metrics.inc("detector_retrain_total", "Scheduled retrainings.",
                                outcome="failed")
                ctx.log("retrain failed", level="error", **where, model=name,
                        error=str(exc)[:300])
                continue
            ctx.metrics.inc("detector_retrain_total", "Scheduled retrainings.",
                            outcome="published")
            ctx.log("model retrained", **where, model=name, version=version,
                    events=len(events), seconds=round(time.monotonic() - t0, 1))
        self.last_check = -math.inf  # swap the new versions in at the next turn

    def maybe_retrain(self) -> None:
        period = self.retrain_period
        if period is None or self.ctx.last_loop < self._next_retrain:
            return
        if self._retrain_task is not None and not self._retrain_task.done():
            return  # the previous round is still training: the next period waits
        self._next_retrain = self.ctx.last_loop + period
        self._retrain_task = asyncio.create_task(self.retrain())

    async def cancel(self, timeout: float) -> None:
        """Stop a retraining in flight: kills the training child; the sample is dropped."""
        task = self._retrain_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=timeout)
