"""Deployments registry: which version of a service ran when (CONTRACTS §2)."""

from __future__ import annotations

import bisect
from typing import Any, NamedTuple

from detector.events import DeploymentEvent
from detector.state.component import assign, fields, stamp, unstamp


class Deployment(NamedTuple):
    ts: float
    version: str
    previous_version: str | None
    explicit: bool
    environment: str | None
    revision: str | None


class DeploymentRegistry:
    """Deployments per service, from explicit events and from new versions seen in traffic.

    The first version seen for a service is what was already running, not a
    deployment; each later first sighting of a new version is an inferred
    deployment at that event's time, unless an explicit event names the same
    version (explicit events win, whenever they arrive).

    >>> reg = DeploymentRegistry()
    >>> reg.observe_version("pay", "1.0", 0.0)
    >>> reg.observe_version("pay", "1.1", 100.0)
    >>> reg.latest("pay", 150.0).version
    '1.1'
    >>> reg.add(DeploymentEvent(90.0, "pay", "1.1"))
    >>> reg.latest("pay", 95.0).previous_version
    '1.0'
    """

    def __init__(self) -> None:
        self._by_service: dict[str, list[Deployment]] = {}
        self._traffic_seen: dict[str, set[str]] = {}
        self._initial: dict[str, str] = {}

    def add(self, event: DeploymentEvent) -> None:
        """Record an explicit (or inferred) deployment event."""
        deps = self._by_service.setdefault(event.service, [])
        for i, d in enumerate(deps):
            if d.version == event.version:
                if not event.explicit or (d.explicit and d.ts <= event.ts):
                    return  # already known; an explicit event is never replaced by a guess
                del deps[i]
                break
        dep = Deployment(
            event.ts, event.version, None, event.explicit, event.environment, event.revision
        )
        bisect.insort(deps, dep, key=lambda d: d.ts)
        self._relink(event.service)

    def observe_version(self, service: str, version: str, ts: float) -> None:
        """Note a version seen in access events (slow path: called on a change only)."""
        seen = self._traffic_seen.get(service)
        if seen is None:
            self._traffic_seen[service] = {version}
            if not self._has_version(service, version):
                self._initial[service] = version  # what was running before any deploy
                if service in self._by_service:
                    self._relink(service)
            return
        if version in seen:
            return
        seen.add(version)
        if not self._has_version(service, version):
            self.add(DeploymentEvent(ts, service, version, explicit=False))

    def _has_version(self, service: str, version: str) -> bool:
        return any(d.version == version for d in self._by_service.get(service, ()))

    def knows_version(self, service: str, version: str) -> bool:
        """True once ``version`` was seen in traffic or announced for ``service``."""
        seen = self._traffic_seen.get(service)
        return (seen is not None and version in seen) or self._has_version(service, version)

    def _relink(self, service: str) -> None:
        deps = self._by_service[service]
        prev = self._initial.get(service)
        for i, d in enumerate(deps):
            deps[i] = d._replace(previous_version=prev if prev != d.version else None)
            prev = d.version

    def latest(self, service: str, at: float) -> Deployment | None:
        """The latest deployment of ``service`` at or before event time ``at``."""
        deps = self._by_service.get(service)
        if not deps:
            return None
        i = bisect.bisect_right(deps, at, key=lambda d: d.ts)
        return deps[i - 1] if i else None

    def all(self, service: str) -> list[Deployment]:
        return list(self._by_service.get(service, ()))

    def services(self) -> list[str]:
        return sorted(self._by_service)

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1
    _STATE = ("_by_service", "_traffic_seen", "_initial")

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        what = "registry"
        assign(self, unstamp(data, self.STATE_VERSION, {}, what), self._STATE, what)
