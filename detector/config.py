"""Configuration: one frozen settings model, from defaults < config file < environment < flags.

Environment variables are ``DETECTOR_<SECTION>__<KEY>`` (for example
``DETECTOR_WINDOWS__SIZE_SECONDS=30``); a config file (TOML or YAML) uses the
same sections and keys.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowSettings(_Section):
    """Event-time tumbling windows and the watermark."""

    size_seconds: int = Field(60, ge=5, le=3600)
    allowed_lateness_seconds: float = Field(30.0, ge=0, le=3600)


class DetectorSettings(_Section):
    """Thresholds shared by the window detectors (see docs/DETECTORS.md)."""

    warmup_windows: int = Field(30, ge=1)
    alpha: float = Field(1e-6, gt=0, lt=0.1)  # per-test significance; many series x windows
    spike_min_ratio: float = Field(2.0, gt=1)
    spike_min_count: int = Field(20, ge=1)
    drop_max_ratio: float = Field(0.4, gt=0, lt=1)
    drop_min_expected: float = Field(15.0, gt=0)
    ratio_min_requests: int = Field(20, ge=1)
    ratio_min_hits: int = Field(5, ge=1)
    error_min_increase: float = Field(0.04, gt=0, lt=1)
    client_error_min_increase: float = Field(0.08, gt=0, lt=1)
    auth_min_increase: float = Field(0.15, gt=0, lt=1)
    latency_min_ratio: float = Field(1.5, gt=1)
    latency_min_delta_seconds: float = Field(0.02, ge=0)
    auth_client_min_failures: int = Field(20, ge=1)
    auth_client_min_share: float = Field(0.5, gt=0, le=1)
    relearn_after_windows: int = Field(120, ge=10)
    scan_min_paths: int = Field(15, ge=2)
    new_endpoint_learning_windows: int = Field(60, ge=1)
    new_endpoint_min_requests: int = Field(10, ge=1)
    attack_min_client_findings: int = Field(2, ge=1)
    unusual_min_client_findings: int = Field(5, ge=1)
    payload_min_route_clients: int = Field(3, ge=2)


class IncidentSettings(_Section):
    """Incident lifecycle and deployment attribution."""

    resolve_after_windows: int = Field(5, ge=1)
    reopen_within_seconds: float = Field(900.0, ge=0)
    update_every_seconds: float = Field(300.0, ge=0)
    suspect_window_seconds: float = Field(1800.0, ge=0)
    max_samples: int = Field(3, ge=0, le=20)
    db: str = "incidents.db"  # the sqlite incident store read by `detector incidents`


class Settings(BaseSettings):
    """All settings of one detector process.

    >>> Settings().windows.size_seconds
    60
    """

    model_config = SettingsConfigDict(
        env_prefix="DETECTOR_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )
    windows: WindowSettings = WindowSettings()
    detectors: DetectorSettings = DetectorSettings()
    incidents: IncidentSettings = IncidentSettings()


class ConfigError(ValueError):
    """The configuration file or values are unusable (exit code 2)."""


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
    return data


S = TypeVar("S", bound=BaseSettings)
# Config-file sections read by other settings models (detector.service.config).
OTHER_SECTIONS = frozenset({"service"})


def _merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def build_settings(cls: type[S], file_data: dict[str, Any], overrides: dict[str, Any]) -> S:
    """defaults < ``file_data`` < environment (the model's ``DETECTOR_…`` prefix) < overrides.

    >>> build_settings(Settings, {"windows": {"size_seconds": 30}}, {}).windows.size_seconds
    30
    """
    env = EnvSettingsSource(cls)()
    try:
        return cls.model_validate(_merge(_merge(file_data, env), overrides))
    except Exception as exc:  # pydantic ValidationError: report one line
        msg = str(exc).replace("\n", " ")
        raise ConfigError(f"invalid configuration: {msg[:300]}") from None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """The pipeline settings: defaults < config file < DETECTOR_* env < overrides."""
    data = read_config_file(config_file) if config_file else {}
    data = {k: v for k, v in data.items() if k not in OTHER_SECTIONS}
    return build_settings(Settings, data, overrides)
