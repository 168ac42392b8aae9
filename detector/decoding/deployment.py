"""Deployment records (CONTRACTS §2): their own topic/file, or mixed into an access stream."""

from __future__ import annotations

from typing import Any

from detector.decoding._common import fail, flatten, opt_text
from detector.decoding.timestamps import TimestampParser, parse_timestamp
from detector.events import DeploymentEvent

# Alias lists, canonical name first. Deployments are rare, so a loop is fine here.
_SERVICE = ("service.name", "service", "app", "application")
_VERSION = ("service.version", "version", "app.version")
_TIME = ("timestamp", "ts", "time", "@timestamp", "deployed_at")
_ENVIRONMENT = (
    "deployment.environment.name",
    "deployment.environment",
    "environment",
    "env",
)
_REVISION = ("vcs.revision", "vcs.ref.head.revision", "commit", "revision", "git.commit", "sha")


def is_deployment(obj: dict[str, Any]) -> bool:
    return obj.get("type") == "deployment"


def _first(flat: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        v = opt_text(flat.get(name))
        if v:
            return v
    return None


def parse_deployment(
    obj: dict[str, Any],
    source: str = "",
    offset: int = 0,
    parser: TimestampParser | None = None,
) -> DeploymentEvent:
    """A DeploymentEvent (explicit) from a decoded JSON object, flat or nested names.

    >>> parse_deployment({"type": "deployment", "service": {"name": "payments"},
    ...                   "version": "2.32.0", "ts": "2026-03-17T09:06:00Z", "commit": "9f1c"})
    ... # doctest: +NORMALIZE_WHITESPACE
    DeploymentEvent(ts=1773738360.0, service='payments', version='2.32.0',
                    environment=None, revision='9f1c', explicit=True, source='', offset=0)
    """
    flat = flatten(obj)
    service = _first(flat, _SERVICE)
    if service is None:
        fail("deployment: missing service")
    version = _first(flat, _VERSION)
    if version is None:
        fail("deployment: missing version")
    for name in _TIME:
        raw_ts = flat.get(name)
        if raw_ts is not None:
            break
    else:
        fail("deployment: missing timestamp")
    ts = parser.parse(raw_ts) if parser is not None else parse_timestamp(raw_ts)
    return DeploymentEvent(
        ts,
        service,
        version,
        _first(flat, _ENVIRONMENT),
        _first(flat, _REVISION),
        True,
        source,
        offset,
    )
