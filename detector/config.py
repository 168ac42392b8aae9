"""Configuration: one frozen settings root, from defaults < config file < environment < flags.

Environment variables are ``DETECTOR_<SECTION>__<KEY>`` (for example
``DETECTOR_WINDOWS__SIZE_SECONDS=30``, nested sections with more ``__``); a
config file (TOML or YAML) uses the same sections and keys. The order of the
sources is :meth:`Settings.settings_customise_sources`; the reference of every
key is ``docs/CONFIGURATION.md`` (generated from these models by
``scripts/settings_reference.py``).

:class:`Settings` holds the pipeline's sections; ``detector run`` loads
:class:`detector.service.config.RunSettings`, the same root with the
``service`` section (and its nested Kafka connection) added.

Environment variables read outside this model, on purpose: secrets and their
``*_FILE`` variants (``DETECTOR_STATE_KEY``, ``DETECTOR_MODEL_KEY``, the
``env:VAR`` secrets of sink specs), process conventions (``COLUMNS``,
``XDG_CACHE_HOME``, ``DETECTOR_CACHE_DIR``), test and tool locations
(``DETECTOR_TANSU_BIN``, ``DETECTOR_SHARED_DATA``) and the sinks' own knobs
(``DETECTOR_SINKS__ALLOW_PRIVATE``, ``DETECTOR_PAGERDUTY__URL``, and
``DETECTOR_KAFKA__BOOTSTRAP_SERVERS`` for a ``kafka:`` sink outside ``detector
run``); ``docs/CONFIGURATION.md`` lists them.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)


class _Section(BaseModel):
    # Field docstrings are the descriptions docs/CONFIGURATION.md is generated from.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class WindowSettings(_Section):
    """Event-time tumbling windows and the watermark."""

    size_seconds: int = Field(60, ge=5, le=3600)
    """Length of the event-time tumbling windows, seconds."""
    allowed_lateness_seconds: float = Field(30.0, ge=0, le=3600)
    """How long a window waits for late events (watermark = latest event time minus this)."""


class DetectorSettings(_Section):
    """Thresholds of the detectors (each key says the detector it applies to)."""

    warmup_windows: int = Field(30, ge=1)
    """Windows a series must have seen before any detector judges it."""
    alpha: float = Field(1e-6, gt=0, lt=0.1)
    """Significance of each statistical test (small: many series are tested every window)."""
    spike_min_ratio: float = Field(2.0, gt=1)
    """`traffic_spike`: the count must be at least this multiple of the expected level."""
    spike_min_count: int = Field(20, ge=1)
    """`traffic_spike`: ... and at least this many requests (times the root of the span)."""
    drop_max_ratio: float = Field(0.4, gt=0, lt=1)
    """`traffic_drop`: the count must be at most this fraction of the expected level."""
    drop_min_expected: float = Field(15.0, gt=0)
    """`traffic_drop`: only series expecting at least this many requests per window."""
    ratio_min_requests: int = Field(20, ge=1)
    """Rate detectors (`error_surge`, `client_error_surge`, `auth_failure_burst` per route,
    `latency_regression`): requests a window needs to be judged."""
    ratio_min_hits: int = Field(5, ge=1)
    """... and failing (or slow) requests it needs."""
    error_min_increase: float = Field(0.04, gt=0, lt=1)
    """`error_surge`: the 5xx share must exceed the baseline by at least this much (absolute)."""
    client_error_min_increase: float = Field(0.08, gt=0, lt=1)
    """`client_error_surge`: the same for 4xx other than 401/403/404."""
    auth_min_increase: float = Field(0.15, gt=0, lt=1)
    """`auth_failure_burst` per route: the same for 401/403."""
    latency_min_ratio: float = Field(1.5, gt=1)
    """`latency_regression`: p95 at least this multiple of the baseline p95."""
    latency_min_delta_seconds: float = Field(0.02, ge=0)
    """`latency_regression`: ... and at least this many seconds slower."""
    latency_drift_seconds: float = Field(8 * 3600.0, ge=0)
    """`latency_regression`: after a deploy, windows are also compared with the previous
    version's frozen baseline this long (a CUSUM that finds slow drifts)."""
    auth_client_min_failures: int = Field(20, ge=1)
    """`auth_failure_burst` per client: failures needed (in a window, or decayed over several)."""
    auth_client_min_share: float = Field(0.5, gt=0, le=1)
    """`auth_failure_burst` per client: share of its requests that failed."""
    relearn_after_windows: int = Field(120, ge=10)
    """A change sustained this many windows becomes the new baseline."""
    scan_min_paths: int = Field(15, ge=2)
    """`scanning`: distinct paths one client got a 404 for."""
    new_endpoint_learning_windows: int = Field(60, ge=1)
    """`new_endpoint`: windows a service learns its routes before a new one is reported."""
    new_endpoint_min_requests: int = Field(10, ge=1)
    """`new_endpoint`: requests a new route needs in a window (mostly successful)."""
    attack_min_client_findings: int = Field(2, ge=1)
    """`attack_payload`: signature findings of one client before an incident."""
    unusual_min_client_findings: int = Field(5, ge=1)
    """`unusual_payload`: profile findings of one client before an incident."""
    payload_min_route_clients: int = Field(3, ge=2)
    """Payload incidents keyed by route (a distributed campaign): clients with findings."""


class IncidentSettings(_Section):
    """Incident lifecycle and deployment attribution."""

    resolve_after_windows: int = Field(5, ge=1)
    """An incident resolves after this many quiet windows."""
    reopen_within_seconds: float = Field(900.0, ge=0)
    """A signal this soon after resolution reopens the same incident."""
    update_every_seconds: float = Field(300.0, ge=0)
    """An open incident whose summary (or severity, route, version, deployment) changed is
    re-emitted (`update`) at most this often; a severity rise at once, no change never."""
    suspect_window_seconds: float = Field(1800.0, ge=0)
    """A deployment at most this long before an anomaly began is marked `suspect`."""
    max_samples: int = Field(3, ge=0, le=20)
    """Sample requests kept as evidence per incident."""
    db: str = "incidents.db"
    """The sqlite incident store `detector incidents` reads (the `sqlite:PATH` sink)."""


class Settings(BaseSettings):
    """All settings of one detector process: the root the sections hang from.

    >>> Settings().windows.size_seconds
    60
    >>> Settings.load(None, windows={"size_seconds": 30}).windows.size_seconds
    30
    """

    model_config = SettingsConfigDict(
        env_prefix="DETECTOR_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )
    windows: WindowSettings = WindowSettings()
    detectors: DetectorSettings = DetectorSettings()
    incidents: IncidentSettings = IncidentSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first: flags (keyword arguments), DETECTOR_* environment, the
        # config file; below them the fields' defaults. Nested sections merge
        # key by key, so a flag replaces one key, not its whole section.
        return init_settings, env_settings, ConfigFileSource(settings_cls, _FILE_DATA.get() or {})

    @classmethod
    def load(cls, config_file: Path | None = None, **flags: Any) -> Self:
        """defaults < ``config_file`` < environment < ``flags``; ConfigError (one line) if unusable.

        A flag (at any depth) that is None was not given and overrides nothing.
        """
        data = read_config_file(config_file) if config_file else {}
        token = _FILE_DATA.set(data)
        try:
            return cls(**_given(flags))
        except ValidationError as exc:
            raise ConfigError(f"invalid configuration: {_one_line(exc)}") from None
        except SettingsError as exc:  # an environment value that is not valid JSON
            first = str(exc).replace("\n", " ")[:300]
            raise ConfigError(f"invalid configuration: {first}") from None
        finally:
            _FILE_DATA.reset(token)


class ConfigError(ValueError):
    """The configuration file or values are unusable (exit code 2)."""


# The parsed config file of the Settings.load() in progress (empty otherwise, so
# a plain Settings() reads defaults and environment only).
_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("detector_config_file", default=None)
# Config-file sections of the ``detector run`` root (detector.service.config):
# valid in any config file, ignored by the roots that do not have them.
OTHER_SECTIONS = frozenset({"service"})


class ConfigFileSource(PydanticBaseSettingsSource):
    """The config file's sections, as one source of a settings root.

    >>> ConfigFileSource(Settings, {"windows": {"size_seconds": 30}, "service": {}})()
    {'windows': {'size_seconds': 30}}
    """

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        fields = settings_cls.model_fields
        # Unknown sections stay, so that validation names them (extra="forbid").
        self.data = {k: v for k, v in data.items() if k in fields or k not in OTHER_SECTIONS}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML or YAML config file into a plain dict."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"config file {path}: {first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: top level must be a table/mapping")
    for name in OTHER_SECTIONS:
        if not isinstance(data.get(name, {}), dict):
            raise ConfigError(f"config file {path}: [{name}] must be a table/mapping")
    return data


def _given(flags: dict[str, Any]) -> dict[str, Any]:
    """``flags`` without the None values, at any depth (a flag not given)."""
    out: dict[str, Any] = {}
    for key, value in flags.items():
        if isinstance(value, dict):
            value = _given(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out


def _one_line(exc: ValidationError) -> str:
    """The first problem as ``section.key: message`` (and how many more)."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    text = f"{where}: {msg}{more}" if where else f"{msg}{more}"
    return text.replace("\n", " ")[:300]


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """The pipeline settings: defaults < config file < DETECTOR_* env < overrides.

    >>> load_settings(None, incidents={"max_samples": 5}).incidents.max_samples
    5
    """
    return Settings.load(config_file, **overrides)
