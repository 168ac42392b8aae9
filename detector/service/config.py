"""``ServiceSettings``: the consumer service's configuration, one frozen model.

Sources, lowest first: defaults < the ``[service]`` section of the config file
< ``DETECTOR_SERVICE__<KEY>`` environment variables (lists and mappings as
JSON, as pydantic-settings reads them) < command-line flags, merged by
:func:`detector.config.build_settings` like the pipeline settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from detector.config import ConfigError, Settings, build_settings, load_settings, read_config_file
from detector.decoding.base import MAX_LINE_BYTES

if TYPE_CHECKING:
    from detector.kafka.config import KafkaConnection

SECTION = "service"


class ServiceSettings(BaseSettings):
    """Everything ``detector run`` needs besides the pipeline settings.

    >>> s = ServiceSettings(topics=("access",), group_id="g")
    >>> s.changelog(), s.metrics_port, s.checkpoint_every
    ('g-changelog', 9464, 10.0)
    """

    model_config = SettingsConfigDict(
        env_prefix="DETECTOR_SERVICE__", frozen=True, extra="forbid"
    )

    bootstrap_servers: str = "localhost:9092"
    topics: tuple[str, ...] = Field(default=("access",), min_length=1)
    deployments_topic: str | None = "deployments"
    group_id: str = "detector"
    sinks: tuple[str, ...] = ("stdout",)
    models: Path | None = None
    model_check_every: float = Field(default=10.0, gt=0)  # seconds between `current` checks
    retrain_every: str | None = None  # a duration (30m, 6h, 1d): see service/retrain.py
    retrain_sample: int = Field(default=50_000, ge=100)  # events kept per partition
    state_dir: Path | None = None  # None: the Kafka changelog topic
    changelog_topic: str | None = None  # default <group_id>-changelog
    dead_letter_topic: str | None = "detector.dead-letter"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    checkpoint_every: float = Field(default=10.0, gt=0)
    grace_period: float = Field(default=30.0, gt=0)
    drain_when_idle: float | None = Field(default=None, gt=0)
    # A caught-up partition that has been silent this long (seconds) moves its
    # event time on with the wall clock, so a service that stops sending still
    # has its windows closed (and its drop detected). None: one window plus the
    # allowed lateness; 0: never (event time only moves with records).
    idle_close_after: float | None = Field(default=None, ge=0)
    topic_service: dict[str, str] = {}
    topic_format: dict[str, str] = {}  # topic -> format; absent = auto (per record key)
    strip_schema_prefix: tuple[str, ...] = ()  # topics whose values carry the 5-byte prefix
    max_record_bytes: int = Field(default=MAX_LINE_BYTES, gt=0)
    topic_max_record_bytes: dict[str, int] = {}
    # Kafka group timings; tests shorten them (Tansu joins take ~session/2).
    session_timeout_ms: int = Field(default=10_000, gt=0)
    heartbeat_interval_ms: int = Field(default=3_000, gt=0)
    poll_timeout_ms: int = Field(default=500, ge=0)
    request_timeout_ms: int = Field(default=40_000, gt=0)
    # /readyz turns 503 when the broker has not answered for this long.
    ready_timeout: float = Field(default=6.0, gt=0)
    # Give up (exit 2) when the broker cannot be reached at start for this long
    # (seconds); None: keep retrying.
    connect_timeout: float | None = Field(default=None, gt=0)
    # Undelivered incident changes one sink may hold before consumption pauses
    # (nothing is dropped: see service/fanout.py), and how long a sink may fail
    # (or hang in one delivery) before /healthz reports it.
    sink_max_pending: int = Field(default=10_000, gt=0)
    sink_failing_after: float = Field(default=300.0, gt=0)

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
        return self

    def changelog(self) -> str:
        return self.changelog_topic or f"{self.group_id}-changelog"

    def kafka_connection(self) -> KafkaConnection:
        """The service's cluster and security settings, for every client it makes
        (consumer, producers, admin, and ``kafka:`` sinks without ``?bootstrap=``)."""
        from detector.kafka.config import KafkaConnection

        return KafkaConnection(bootstrap_servers=self.bootstrap_servers)

    def topic_default_service(self, topic: str) -> str:
        return self.topic_service.get(topic, topic)


def load_service_settings(
    config_file: Path | None = None, **flags: Any
) -> tuple[ServiceSettings, Settings]:
    """(service settings, pipeline settings) from the config file, env and flags.

    Flags that are None are "not given" and do not override lower sources.
    """
    data = read_config_file(config_file) if config_file else {}
    section = data.get(SECTION) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"config file {config_file}: [{SECTION}] must be a table/mapping")
    given = {k: v for k, v in flags.items() if v is not None}
    service = build_settings(ServiceSettings, section, given)
    return service, load_settings(config_file)
