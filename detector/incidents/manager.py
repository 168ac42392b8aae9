"""Signals -> incidents: grouping, open/update/resolve lifecycle, deployment attribution."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from detector.config import IncidentSettings
from detector.deployments.registry import DeploymentRegistry
from detector.detectors.base import Signal
from detector.incidents.model import DeploymentRef, Incident
from detector.incidents.redact import sample_line
from detector.incidents.summary import SEVERITY_RANK, describe, severity
from detector.incidents.timefmt import iso
from detector.kinds import Kind
from detector.state.component import assign, fields, stamp, unstamp

IncidentKey = tuple[str, Kind, str | None, str | None]  # service, kind, route, client
# Kinds a deployment can cause. Scanners, attackers, credential stuffing and
# odd client payloads come from outside: the latest deploy is attached for
# context but is never the suspect.
DEPLOY_CAUSED_KINDS: frozenset[Kind] = frozenset({"traffic_spike", "traffic_drop", "error_surge",
                                 "client_error_surge", "latency_regression", "new_endpoint",
                                 "authorization_drift", "data_exposure"})


def incident_id(key: IncidentKey, start: float) -> str:
    """Deterministic id: the same input gives the same ids (replay = live).

    >>> incident_id(("pay", "error_surge", "/r", None), 60.0)
    'inc-...'
    """
    raw = "\x1f".join([key[0], key[1], key[2] or "", key[3] or "", str(int(start))])
    return "inc-" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class _Tracked:
    __slots__ = (
        "id",
        "key",
        "route",
        "method",
        "start",
        "end",
        "detected_at",
        "score",
        "severity",
        "summary",
        "evidence",
        "deployment",
        "quiet",
        "last_emit",
        "resolved_at",
        "samples",
        "version",
        "sent",
    )

    def __init__(self, inc_id: str, key: IncidentKey, start: float) -> None:
        self.id = inc_id
        self.key = key
        self.route: str | None = key[2]
        self.method: str | None = None
        self.start = start
        self.end = start
        self.detected_at = 0.0
        self.score = 0.0
        self.severity = "low"
        self.summary = ""
        self.evidence: dict[str, Any] = {}
        self.deployment: DeploymentRef | None = None
        self.quiet = 0
        self.last_emit = 0.0
        self.resolved_at: float | None = None
        self.samples: list[str] = []
        self.version: str | None = None  # the one version it is confined to (a canary)
        self.sent = ""  # what the last line said (:func:`_visible`): updates only on a change


def _visible(inc: _Tracked) -> str:
    """What a reader of the incident stream sees change: an update says one of these moved.
    Its end and evidence counts grow every window; they ride along with the next line."""
    dep = inc.deployment.model_dump_json() if inc.deployment is not None else ""
    return "\x1f".join([inc.severity, inc.summary, inc.route or "", inc.method or "",
                        getattr(inc, "version", None) or "", dep])


def _drift_of(sigs: list[Signal], start: float) -> tuple[float, float | None]:
    """(when the anomaly began, the deploy a drift began with) from the signals' extras.

    A drift found hours after it began says so (``change_start``, ``drift_since``):
    the incident then spans the drift and names the deploy, not the latest one.
    """
    begun, since = start, None
    for s in sigs:
        c = s.extra.get("change_start")
        if isinstance(c, int | float):
            begun = min(begun, float(c))
        d = s.extra.get("drift_since")
        if isinstance(d, int | float):
            since = float(d)
    return begun, since


class IncidentManager:
    """Groups window signals into incidents and emits their state changes.

    Grouping is by (service, kind, route or client). An incident resolves after
    ``resolve_after_windows`` quiet windows; a signal for the same key within
    ``reopen_within_seconds`` of resolving reopens it (an ``update`` with the
    same id) instead of paging again. While it lasts, an ``update`` goes out when
    its severity rises, or at most every ``update_every_seconds`` when what it
    says (summary, severity, route, method, version, deployment) changed: never
    a line repeating the one before.

    >>> from detector.config import IncidentSettings
    >>> from detector.deployments.registry import DeploymentRegistry
    >>> from detector.detectors.base import Signal
    >>> out = []
    >>> m = IncidentManager(IncidentSettings(), DeploymentRegistry(), out.append)
    >>> sig = Signal(kind="error_surge", service="pay", route="/r", method="POST", client=None,
    ...              start=0.0, end=60.0, score=0.9, observed=0.2, baseline=0.01, requests=100,
    ...              p_value=1e-9, extra={}, samples=[])
    >>> m.on_window(0.0, 60.0, 90.0, [sig])
    >>> out[0].status, out[0].kind, out[0].deployment
    ('open', 'error_surge', None)
    """

    def __init__(
        self,
        settings: IncidentSettings,
        registry: DeploymentRegistry,
        emit: Callable[[Incident], None],
        window_seconds: float = 60.0,
    ) -> None:
        self.s = settings
        self.registry = registry
        self.emit = emit
        self.window = window_seconds
        self.open: dict[IncidentKey, _Tracked] = {}
        self.resolved: dict[IncidentKey, _Tracked] = {}
        self.last_signal: dict[IncidentKey, float] = {}
        self.counts: dict[str, int] = {}
        # The event time of the changes being emitted (the watermark of the window that
        # closes): the service orders its stdout lines across partitions by it.
        self.clock = float("-inf")

    def on_window(self, start: float, end: float, watermark: float, signals: list[Signal]) -> None:
        self.clock = watermark
        grouped: dict[IncidentKey, list[Signal]] = {}
        for sig in signals:
            key = (sig.service, sig.kind, None if sig.client else sig.route, sig.client)
            grouped.setdefault(key, []).append(sig)
        for key in sorted(grouped, key=lambda k: (k[0], k[1], k[2] or "", k[3] or "")):
            self._on_signal(key, grouped[key], start, end, watermark)
            self.last_signal[key] = end
        for key in sorted(
            set(self.open) - set(grouped), key=lambda k: (k[0], k[1], k[2] or "", k[3] or "")
        ):
            inc = self.open[key]
            inc.quiet += 1
            if inc.quiet >= self.s.resolve_after_windows:
                del self.open[key]
                inc.resolved_at = watermark
                self.resolved[key] = inc
                self._emit(inc, "resolved", watermark)
        horizon = watermark - self.s.reopen_within_seconds
        for key in [k for k, v in self.resolved.items() if (v.resolved_at or 0) < horizon]:
            del self.resolved[key]

    def _on_signal(
        self, key: IncidentKey, sigs: list[Signal], start: float, end: float, watermark: float
    ) -> None:
        best = max(sigs, key=lambda s: (s.score, s.requests))
        inc = self.open.get(key)
        old = self.resolved.get(key)
        if (
            inc is None
            and old is not None
            and watermark - (old.resolved_at or 0.0) <= self.s.reopen_within_seconds
        ):
            inc = self.resolved.pop(key)
            inc.resolved_at = None
            self.open[key] = inc
            self._refresh(inc, sigs, best, end)
            self._emit(inc, "update", watermark)
            return
        if inc is None:
            begun, since = _drift_of(sigs, start)
            inc = _Tracked(incident_id(key, begun), key, begun)
            inc.detected_at = watermark
            related = any(s.extra.get("deploy_related") is True for s in sigs)
            inc.deployment = self._attribute(key, begun, end, since, related)
            self.open[key] = inc
            self._refresh(inc, sigs, best, end)
            self.counts[key[1]] = self.counts.get(key[1], 0) + 1
            self._emit(inc, "open", watermark)
            return
        before = SEVERITY_RANK[inc.severity]
        self._refresh(inc, sigs, best, end)
        # Never an update that repeats the line before it (snapshots from before ``sent``
        # was tracked compare as changed once).
        if SEVERITY_RANK[inc.severity] > before or (
            watermark - inc.last_emit >= self.s.update_every_seconds
            and _visible(inc) != getattr(inc, "sent", None)
        ):
            self._emit(inc, "update", watermark)

    def _refresh(self, inc: _Tracked, sigs: list[Signal], best: Signal, end: float) -> None:
        inc.quiet = 0
        inc.end = max(inc.end, end)
        inc.score = max(inc.score, best.score)
        if inc.route is None and best.route:
            inc.route = best.route  # client-keyed: the route the client hit most
        methods = {s.method for s in sigs if s.method}
        if not inc.summary and len(methods) == 1:  # the first window: its one method
            inc.method = methods.pop()
        elif inc.method is not None and methods - {inc.method}:
            inc.method = None  # several methods by now: the route's, not one method's
        sev = severity(best)
        if SEVERITY_RANK[sev] > SEVERITY_RANK[inc.severity]:
            inc.severity = sev
        for s in sigs:
            for ev in s.samples:
                if len(inc.samples) >= self.s.max_samples:
                    break
                inc.samples.append(sample_line(ev))
        # The summary names the incident's route and method, those of its own fields, not
        # whichever signal scored highest this window (another route a client hit,
        # one of several methods).
        text = describe(replace(best, route=inc.route or best.route, method=inc.method),
                        inc.start)
        dep = inc.deployment
        if dep is not None and dep.suspect:
            text += f", {dep.seconds_since_deploy} s after deploy {dep.version}"
        inc.summary = text
        scoped = {s.version for s in sigs if s.version}
        if len(scoped) == 1:
            inc.version = scoped.pop()
        inc.evidence = {
            "observed": best.observed,
            "baseline": best.baseline,
            "requests": sum(s.requests for s in sigs),
            "p_value": float(f"{best.p_value:.3g}"),
            **{k: v for k, v in best.extra.items() if k != "window_seconds"},
            "samples": list(inc.samples),
        }

    def _attribute(self, key: IncidentKey, start: float, end: float,
                   drift_since: float | None = None,
                   related: bool = False) -> DeploymentRef | None:
        # A deploy inside the first anomalous window counts: the window start is
        # only the resolution of the detector, not when the anomaly began.
        dep = self.registry.latest(key[0], end)
        # A drift the detector measured against the version before a deploy began
        # with that deploy, however long it took to grow past the thresholds.
        drifted = self.registry.latest(key[0], drift_since) if drift_since is not None else None
        if drifted is not None:
            dep = drifted
        if dep is None:
            return None
        since = max(0.0, start - dep.ts)
        absent_before = self.last_signal.get(key, float("-inf")) < dep.ts - self.window
        soon = since <= self.s.suspect_window_seconds or drifted is not None
        # ``related``: a detector found this anomaly of an outside-caused kind to come
        # from the route's own traffic (auth failures of its usual callers after a deploy).
        suspect = soon and absent_before and (key[1] in DEPLOY_CAUSED_KINDS or related)
        return DeploymentRef(
            version=dep.version,
            previous_version=dep.previous_version,
            deployed_at=iso(dep.ts),
            seconds_since_deploy=int(since),
            suspect=suspect,
        )

    def _emit(self, inc: _Tracked, status: str, watermark: float) -> None:
        inc.last_emit = watermark
        inc.sent = _visible(inc)
        key = inc.key
        self.emit(
            Incident(
                id=inc.id,
                status=status,
                kind=key[1],
                severity=inc.severity,
                service=key[0],
                route=inc.route,
                method=inc.method,
                client=key[3],
                start=iso(inc.start),
                end=iso(inc.end),
                detected_at=iso(inc.detected_at),
                score=inc.score,
                summary=inc.summary,
                evidence=inc.evidence,
                deployment=inc.deployment,
                # Incidents kept in snapshots from before versions were tracked lack it.
                version=getattr(inc, "version", None),
            )
        )

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1
    _STATE = ("open", "resolved", "last_signal", "counts")

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        what = "incidents"
        assign(self, unstamp(data, self.STATE_VERSION, {}, what), self._STATE, what)
