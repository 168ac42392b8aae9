"""A service's verdict policy: windows, routes, thresholds and critical checks.

Read from a TOML or YAML file (``--policy FILE``); every key is optional::

    window = "30m"          # candidate window after the deploy
    delay = "2m"            # skipped right after the deploy (rollout, warm-up)
    baseline = "auto"       # previous | concurrent | auto
    include_routes = ["* /v2/*"]     # globs on "METHOD /template" or "/template"
    ignore_routes = ["GET /health*"]
    critical = ["error_share", "latency_p95"]   # replaces the default critical set
    alpha = 0.05            # false-discovery rate across routes (Benjamini-Hochberg)
    pass_score = 95
    fail_score = 60

    [checks.error_share]
    tolerance = 0.005       # a change within the band is acceptable
    ratio = 1.5             # ... and so is one below 1.5x the baseline
    min_effect = 0.01       # the change the gate must be able to see (else inconclusive)
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detector.config import ConfigError, read_config_file
from detector.durations import parse_duration

CHECK_NAMES = ("error_share", "client_error_share", "auth_denial_share", "not_found_share",
               "latency_p50", "latency_p95", "request_rate", "response_size",
               "attack_findings", "unusual_payload_findings", "new_endpoints",
               "new_parameters", "scanning", "authorization_drift", "data_exposure",
               "object_enumeration")


class CheckPolicy(BaseModel):
    """Overrides for one check (None: the check's default)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    critical: bool | None = None
    tolerance: float | None = Field(None, ge=0)
    ratio: float | None = Field(None, ge=1)
    min_effect: float | None = Field(None, gt=0)
    min_delta: float | None = Field(None, ge=0)


class Policy(BaseModel):
    """What a verdict judges and how strictly.

    >>> p = Policy(window="1h", ignore_routes=["GET /health*"])
    >>> p.window, p.route_included("GET /health/live"), p.route_included("POST /orders")
    (3600.0, False, True)
    """

    model_config = ConfigDict(extra="forbid")
    window: float = 1800.0
    delay: float = 120.0
    baseline: Literal["previous", "concurrent", "auto"] = "auto"
    include_routes: list[str] = Field(default_factory=list)
    ignore_routes: list[str] = Field(default_factory=list)
    critical: list[str] | None = None
    alpha: float = Field(0.05, gt=0, lt=1)
    pass_score: int = Field(95, ge=0, le=100)
    fail_score: int = Field(60, ge=0, le=100)
    min_route_requests: int = Field(30, ge=1)  # candidate requests before a route is judged
    concurrent_min_requests: int = Field(200, ge=1)  # old-version requests for a canary baseline
    checks: dict[str, CheckPolicy] = Field(default_factory=dict)

    @field_validator("window", "delay", mode="before")
    @classmethod
    def _duration(cls, v: object) -> object:
        if isinstance(v, str):
            if v.strip().lower() in ("0", "0s", "0m", "0h"):
                return 0.0  # no delay: parse_duration wants a positive one
            return parse_duration(v)
        return v

    @field_validator("window")
    @classmethod
    def _window_positive(cls, v: float) -> float:
        if v < 60:
            raise ValueError("window must be at least 60 s")
        return v

    @field_validator("delay")
    @classmethod
    def _delay_positive(cls, v: float) -> float:
        if v < 0:
            raise ValueError("delay must not be negative")
        return v

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, v: dict[str, CheckPolicy]) -> dict[str, CheckPolicy]:
        for name in v:
            if name not in CHECK_NAMES:
                raise ValueError(f"unknown check {name!r} (one of {', '.join(CHECK_NAMES)})")
        return v

    @field_validator("critical")
    @classmethod
    def _known_critical(cls, v: list[str] | None) -> list[str] | None:
        for name in v or ():
            if name not in CHECK_NAMES:
                raise ValueError(f"unknown check {name!r} in critical")
        return v

    def route_included(self, route: str) -> bool:
        """Whether ``route`` ("METHOD /template") is judged under this policy."""
        path = route.split(" ", 1)[-1]

        def hit(globs: list[str]) -> bool:
            return any(fnmatch.fnmatchcase(route, g) or fnmatch.fnmatchcase(path, g)
                       for g in globs)

        if self.include_routes and not hit(self.include_routes):
            return False
        return not hit(self.ignore_routes)

    def check(self, name: str) -> CheckPolicy:
        return self.checks.get(name) or CheckPolicy()


def load_policy(path: Path | None, **overrides: object) -> Policy:
    """The policy in ``path`` (defaults without one), command-line ``overrides`` on top
    (None values ignored); a bad file or value is a one-line ConfigError."""
    data: dict[str, object] = dict(read_config_file(path)) if path is not None else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        src = f"policy {path}" if path is not None else "policy"
        raise ConfigError(f"{src}: {where}: {msg}" if where else f"{src}: {msg}") from None
