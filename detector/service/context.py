"""What the parts of the service share: owned partitions, clients, reachability, stop.

The role of aiokafka's ``SubscriptionState``: one object the consume loop,
the assignment, the model refresh and health all read and update, so none
of them reaches into another. :class:`ServiceRuntime` composes them over it.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka import TopicPartition

from detector.config import Settings
from detector.events import DeploymentEvent
from detector.kafka import DeadLetterProducer, KafkaSource
from detector.service.config import ServiceSettings
from detector.service.fanout import FanOutSink
from detector.service.jsonlog import JsonLog
from detector.service.metrics import Metrics
from detector.service.releases import ReleaseBook
from detector.service.retrain import Reservoir
from detector.sinks.base import Sink
from detector.state.checkpointing import partition_key

if TYPE_CHECKING:
    from detector.pipeline import Pipeline

EXIT_FAILED = 3  # stopped on its own: a record could not be dead-lettered (see ``fail``)
EXIT_REFUSED = 2  # no version of the model the registry accepts


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


class ServiceContext:
    """The service's shared state; the stop decision lives here too.

    >>> import io
    >>> from detector.config import Settings
    >>> from detector.service.config import ServiceSettings
    >>> ctx = ServiceContext(ServiceSettings(topics=("access",)), Settings(), [],
    ...                      log=JsonLog(io.StringIO()))
    >>> ctx.stop("no model", EXIT_REFUSED, "model refused")
    >>> ctx.failure, ctx.exit_code, ctx.stop_reason, ctx.stopping.is_set()
    ('no model', 2, 'model refused', True)
    """

    def __init__(self, cfg: ServiceSettings, settings: Settings, sinks: list[Sink], *,
                 log: JsonLog | None = None) -> None:
        self.cfg = cfg
        self.settings = settings
        self.log = log or JsonLog()
        self.metrics = Metrics()
        # A scrape always names these, even mid-rebalance with no lag known (see health).
        self.metrics.declare("detector_records_total", "counter", "Records consumed.")
        self.metrics.declare("detector_consumer_lag", "gauge",
                             "Records behind the partition end (>= 0).")
        # Sinks are called by delivery threads, never by the pipelines (see fanout).
        self.sink = FanOutSink(sinks, self.metrics, max_pending=cfg.sink_max_pending,
                               failing_after=cfg.sink_failing_after, log=self.log)
        self.parts: dict[TopicPartition, PartitionState] = {}
        # Deployments judged as their windows close (release records, POST /verdict).
        self.releases = ReleaseBook(cfg.records_dir, cfg.policies, log=self.log) \
            if cfg.verdicts else None
        self.deployments: list[DeploymentEvent] = []
        self.source: KafkaSource | None = None
        self.dlq: DeadLetterProducer | None = None
        self.lag: dict[TopicPartition, int] = {}
        now = time.monotonic()
        self.last_loop = now  # the consume loop's last turn
        self.last_contact = 0.0  # the broker's last answer
        self.reachable = True
        self.started = False  # connected once
        self.restoring = 0  # assignments being restored right now
        self.stopping = asyncio.Event()
        self.stop_reason = ""
        # Why the service stopped on its own (``run()`` then returns ``exit_code``), and
        # whether checkpoints are off: a record that could not be dead-lettered is read again.
        self.failure: str | None = None
        self.exit_code = 0
        self.frozen = False

    def origin(self, tp: TopicPartition) -> str:
        """The partition's key: in the state store and in the delivery ledger."""
        return partition_key(self.cfg.group_id, tp.topic, tp.partition)

    def request_stop(self, reason: str = "signal") -> None:
        if not self.stopping.is_set():
            self.stop_reason = reason
            self.stopping.set()

    def stop(self, why: str, code: int, event: str) -> None:
        """Stop on our own with exit ``code``; the first reason is the one reported."""
        if self.failure is None:
            self.failure, self.exit_code = why, code
            self.log(event, level="error", error=why)
        self.request_stop(event)

    def fail(self, exc: Exception) -> None:
        """A bad record may be lost: stop, and commit nothing from now on, so the
        records since the last checkpoint (that one included) are read again."""
        self.frozen = True
        self.stop(f"{exc}; stopped without committing past it, it is read again on restart",
                  EXIT_FAILED, "dead-letter failed")

    def unreachable(self, why: str) -> None:
        if self.reachable:
            self.log("broker unreachable", level="warning", error=why[:300])
        self.reachable = False
