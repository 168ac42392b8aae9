"""``RunSettings``: the settings root of ``detector run``, one frozen model.

It is :class:`detector.config.Settings` (the pipeline's sections, the same
ordered sources) plus the ``service`` section, :class:`ServiceSettings`, which
nests the Kafka connection's security settings as ``service.kafka``. Sources,
lowest first: defaults < config file (``[service]``, ``[service.kafka]``) <
``DETECTOR_SERVICE__<KEY>`` and ``DETECTOR_SERVICE__KAFKA__<KEY>`` environment
variables (lists and mappings as JSON) < command-line flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from detector.config import Settings
from detector.decoding.base import MAX_LINE_BYTES
from detector.kafka.config import DEFAULT_BOOTSTRAP, KafkaConnection, KafkaSecurity


class ServiceSettings(BaseModel):
    """Everything ``detector run`` needs besides the pipeline settings: the ``service`` section.

    >>> s = ServiceSettings(topics=("access",), group_id="g")
    >>> s.changelog(), s.metrics_port, s.checkpoint_every
    ('g-changelog', 9464, 10.0)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    """Kafka HOST:PORT[,HOST:PORT] (flag --bootstrap-servers)."""
    kafka: KafkaSecurity = KafkaSecurity()
    """How to authenticate to that cluster: TLS, SASL (the ``[service.kafka]`` section)."""
    topics: tuple[str, ...] = Field(default=("access",), min_length=1)
    """Access-log topics, keyed by service."""
    deployments_topic: str | None = "deployments"
    """Deployment events topic (`detector deploy record`); every instance reads all of it."""
    group_id: str = "detector"
    """Consumer group: the instances with the same one share the partitions."""
    sinks: tuple[str, ...] = ("stdout",)
    """Sink specs (stdout, jsonl:PATH, sqlite:PATH, kafka:TOPIC, webhook:URL, ...)."""
    models: Path | None = None
    """Model registry (`detector train --out`); None: profiles learned online only."""
    model_check_every: float = Field(default=10.0, gt=0)
    """Seconds between checks for a new `current` model version."""
    retrain_every: str | None = None
    """Retrain period (30m, 6h, 1d: see service/retrain.py); needs models."""
    retrain_sample: int = Field(default=50_000, ge=100)
    """Events kept per partition for retraining."""
    state_dir: Path | None = None
    """Checkpoints in this directory; None: the compacted Kafka changelog topic."""
    changelog_topic: str | None = None
    """Changelog topic name; None: <group_id>-changelog."""
    dead_letter_topic: str | None = "detector.dead-letter"
    """Records that cannot be decoded go here."""
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    """Port of /metrics, /healthz, /readyz (0: off)."""
    processes: int = Field(default=1, ge=1, le=64)
    """Consumer processes in this instance (one per core): members of the consumer group
    sharing its partitions, each checkpointing its own; process i serves the metrics port
    plus i. Not with retrain_every (retraining runs in one process)."""
    metrics_host: str = "127.0.0.1"
    """Bind address of the metrics port (0.0.0.0 in a container)."""
    checkpoint_every: float = Field(default=10.0, gt=0)
    """Seconds between checkpoints: the most work replayed after a crash."""
    grace_period: float = Field(default=30.0, gt=0)
    """Shutdown budget after SIGTERM, seconds (final checkpoint, sinks flushed)."""
    drain_when_idle: float | None = Field(default=None, gt=0)
    """Backfills: exit once every owned partition is idle this long with lag 0."""
    idle_close_after: float | None = Field(default=None, ge=0)
    """Seconds a caught-up partition may be silent before its event time moves on with the
    wall clock, so a service that stops sending still has its windows closed (and its drop
    detected). None: one window plus the allowed lateness; 0: never."""
    verdicts: bool = True
    """Judge every deployment when its evaluation window closes (release records, the
    ``POST /verdict`` webhook); the policy of each service comes from ``policies``."""
    records_dir: Path | None = None
    """Release records are written here, DIR/<service>/<version>.json (CONTRACTS §6); signed
    with the key in DETECTOR_RECORD_KEY[_FILE] when set. None: kept in memory only."""
    suppressions: Path | None = None
    """Suppression rules and maintenance windows (TOML or YAML, CONTRACTS §7); re-read
    when the file changes. None: none."""
    policies: Path | None = None
    """Verdict policies: <service>.toml|yaml per service, else default.toml|yaml, in this
    directory; None: the default policy."""
    topic_service: dict[str, str] = {}
    """Topic -> service name for formats that carry none (default: the topic name)."""
    topic_format: dict[str, str] = {}
    """Topic -> log format; absent: detected per record key."""
    strip_schema_prefix: tuple[str, ...] = ()
    """Topics whose values carry the 5-byte Confluent Schema Registry prefix."""
    max_record_bytes: int = Field(default=MAX_LINE_BYTES, gt=0)
    """Larger records are dead-lettered."""
    topic_max_record_bytes: dict[str, int] = {}
    """Topic -> its own max_record_bytes."""
    session_timeout_ms: int = Field(default=10_000, gt=0)
    """Consumer group session timeout (tests shorten the group timings)."""
    heartbeat_interval_ms: int = Field(default=3_000, gt=0)
    """Consumer group heartbeat interval."""
    poll_timeout_ms: int = Field(default=500, ge=0)
    """Longest wait of one poll for records."""
    request_timeout_ms: int = Field(default=40_000, gt=0)
    """Kafka request timeout."""
    ready_timeout: float = Field(default=6.0, gt=0)
    """/readyz turns 503 when the broker has not answered for this many seconds."""
    connect_timeout: float | None = Field(default=None, gt=0)
    """Give up (exit 2) when the broker cannot be reached at start within this many seconds;
    None: keep retrying."""
    sink_max_pending: int = Field(default=10_000, gt=0)
    """Undelivered incident changes one sink may hold before consumption pauses (nothing is
    dropped: see service/fanout.py)."""
    sink_failing_after: float = Field(default=300.0, gt=0)
    """Seconds a sink may fail (or hang in one delivery) before /healthz reports it."""

    @field_validator("retrain_every")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            from detector.durations import parse_duration

            parse_duration(v)  # ValueError with a one-line reason
        return v

    @model_validator(mode="after")
    def _retrain_needs_models(self) -> ServiceSettings:
        if self.retrain_every is not None and self.models is None:
            raise ValueError("retrain_every needs models: the registry the new versions go to")
        if self.retrain_every is not None and self.processes > 1:
            raise ValueError("retrain_every runs in one process: use processes = 1 (or retrain "
                             "with `detector train` on a schedule)")
        return self

    @model_validator(mode="after")
    def _kafka_usable(self) -> ServiceSettings:
        try:
            self.kafka.check_usable()
        except ValueError as exc:  # name the section: the message is about its keys
            raise ValueError(f"kafka: {exc}") from None
        return self

    def changelog(self) -> str:
        return self.changelog_topic or f"{self.group_id}-changelog"

    def kafka_connection(self) -> KafkaConnection:
        """The service's cluster and security settings, for every client it makes
        (consumer, producers, admin, and ``kafka:`` sinks without ``?bootstrap=``)."""
        return KafkaConnection.of(self.bootstrap_servers, self.kafka)

    def topic_default_service(self, topic: str) -> str:
        return self.topic_service.get(topic, topic)


class RunSettings(Settings):
    """The settings root of ``detector run``: the pipeline's sections and ``service``.

    >>> RunSettings.load(None, service={"group_id": "g"}).service.changelog()
    'g-changelog'
    """

    service: ServiceSettings = ServiceSettings()


def load_service_settings(
    config_file: Path | None = None, *, kafka: dict[str, Any] | None = None, **flags: Any
) -> tuple[ServiceSettings, Settings]:
    """(service section, pipeline sections) of the :class:`RunSettings` from the config
    file, env and flags, as the runtime takes them.

    ``flags`` are keys of the service section and ``kafka`` keys of its nested
    ``kafka`` section; None is "not given" and overrides no lower source.
    """
    root = RunSettings.load(config_file, service={**flags, "kafka": kafka or {}})
    # Already validated: only the pipeline's sections, without reading any source again.
    pipeline = Settings.model_construct(**{name: getattr(root, name)
                                           for name in Settings.model_fields})
    return root.service, pipeline
