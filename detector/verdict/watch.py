"""Deployments under evaluation, fed by the pipeline's closed windows and incidents.

For each watched service, a rolling buffer of its recent windows gives the
baseline when a deployment shows up (the policy's window length before the
deploy); the windows after ``deploy + delay`` are the candidate. When event time
passes the candidate window's end (or the next deploy of the service cuts it
short), the deployment is judged and its record handed to ``on_record``: in a
replay and in the live service alike, at the same event time, from the same
windows (replay = live).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any

from detector.state.component import stamp, unstamp
from detector.state.snapshot import SnapshotError
from detector.verdict.collect import WindowView, route_aggregates
from detector.verdict.judge import Evaluation, IncidentRef, judge
from detector.verdict.policy import Policy
from detector.verdict.sides import WinAgg

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.deployments.registry import DeploymentRegistry
    from detector.incidents.model import Incident

KNOWN_ROUTES_MAX = 20_000  # routes remembered per service (new_endpoints)
KNOWN_PARAMS_MAX = 256  # parameter names remembered per route (new_parameters)
INCIDENTS_KEPT = 5_000  # recent incidents per service
BUFFER_SLACK = 900.0  # seconds of windows kept beyond the baseline's length


def analyzer_models(analyzer: RequestAnalyzer | None) -> dict[str, str]:
    """The model versions behind the findings, for the record's producer."""
    if analyzer is None or not getattr(analyzer, "version", None):
        return {}
    return {"request": str(analyzer.version)}


DAY = 86400.0


class _ServiceState:
    __slots__ = ("buffer", "day", "evaluations", "first", "incidents", "known_params",
                 "known_routes", "route_ids", "started")

    def __init__(self) -> None:
        # Start of the first window this watch saw of the service: deployments before it
        # (a restarted service's history, a deployments file older than the logs) have no
        # traffic of the previous version here to be judged against.
        self.first: float | None = None
        self.buffer: deque[WinAgg] = deque()
        # A day of requests per window and route (compact: route ids, an array per window),
        # for the request rate's same-hours-yesterday correction.
        self.route_ids: dict[str, int] = {}
        self.day: deque[tuple[float, array[int]]] = deque()
        self.known_routes: set[str] = set()
        self.known_params: dict[str, set[str]] = {}
        self.incidents: deque[IncidentRef] = deque(maxlen=INCIDENTS_KEPT)
        self.evaluations: list[Evaluation] = []
        self.started: set[tuple[str, float]] = set()  # (version, deployed_at) taken on


class ReleaseWatch:
    """Judge each deployment of the watched services once its window has passed.

    ``services``/``versions`` narrow what is evaluated (the ``verdict`` command
    watches one service and one version; the service watches all). ``on_record``
    receives each release record (unsealed) as it is judged.

    >>> from detector.deployments.registry import DeploymentRegistry
    >>> w = ReleaseWatch(lambda s: Policy(), DeploymentRegistry(), print)
    >>> w.pending()
    []

    Its state (buffers, evaluations under way) is part of the pipeline's checkpoint
    (``STATE_NAME`` among the pipeline's components): a service restarted in the middle
    of a candidate window still judges that deployment, on the same windows.
    """

    STATE_NAME = "release_watch"

    def __init__(self, policy_of: Callable[[str], Policy], registry: DeploymentRegistry,
                 on_record: Callable[[dict[str, Any]], None], *,
                 services: frozenset[str] | None = None, version: str | None = None,
                 analysis: bool = True, models: dict[str, str] | None = None) -> None:
        self.policy_of = policy_of
        self.registry = registry
        self.on_record = on_record
        self.services = services
        self.version = version
        self.analysis = analysis
        self.models = models or {}
        self._state: dict[str, _ServiceState] = {}
        self._policies: dict[str, Policy] = {}

    def _policy(self, service: str) -> Policy:
        p = self._policies.get(service)
        if p is None:
            p = self._policies[service] = self.policy_of(service)
        return p

    def pending(self) -> list[tuple[str, str]]:
        """(service, version) of the deployments under evaluation."""
        return [(s, e.version) for s, st in sorted(self._state.items()) for e in st.evaluations]

    # ---- fed by the pipeline ---------------------------------------------
    def incident(self, inc: Incident) -> None:
        """An incident state change (only the opening counts: its start and kind)."""
        if inc.status != "open" or (self.services is not None
                                    and inc.service not in self.services):
            return
        from detector.incidents.timefmt import parse_iso

        st = self._state.setdefault(inc.service, _ServiceState())
        st.incidents.append({
            "id": inc.id, "kind": inc.kind,
            "route": f"{inc.method} {inc.route}" if inc.route and inc.method else inc.route,
            "start": parse_iso(inc.start), "version": inc.version,
            "deployment": inc.deployment.version if inc.deployment else None})

    def window_closed(self, view: WindowView) -> None:
        """A closed window: buffer it, start and feed evaluations, judge the finished."""
        per_service = route_aggregates(view, self.services)
        for service, routes in per_service.items():
            st = self._state.setdefault(service, _ServiceState())
            if st.first is None:
                st.first = view.start
            win = WinAgg(view.start, view.end, routes)
            known = len(st.evaluations)
            self._buffer(st, win)  # before: a window ending at the deploy is baseline
            self._start_evaluations(service, st, view.end, view.end - view.start)
            for ev in st.evaluations[known:]:
                if ev.candidate and ev.candidate[-1] is win:
                    ev.candidate.pop()  # taken from the buffer: appended once below
            for ev in st.evaluations:
                if view.start >= ev.cand_start and view.end <= ev.cand_end:
                    ev.candidate.append(win)
            self._remember(st, win)  # after: what a deploy in this window ships is new
        # Deployments of services silent in this window still start (and end) on time.
        for service, st in self._state.items():
            if service not in per_service:
                self._start_evaluations(service, st, view.end, view.end - view.start)
        self._judge_due(view.end)

    def finish(self) -> None:
        """End of input: judge what is under evaluation with the windows it has."""
        for service in sorted(self._state):
            st = self._state[service]
            for ev in list(st.evaluations):
                self._judge(service, st, ev)

    # ---- internals -------------------------------------------------------
    def _buffer(self, st: _ServiceState, win: WinAgg) -> None:
        st.buffer.append(win)
        horizon = max(self._policy_for_buffer(), 0.0)
        while st.buffer and st.buffer[0].end < win.end - horizon:
            st.buffer.popleft()

    def _remember(self, st: _ServiceState, win: WinAgg) -> None:
        ids = st.route_ids
        for route in win.routes:
            if route not in ids and len(ids) < KNOWN_ROUTES_MAX:
                ids[route] = len(ids)
        counts = array("I", bytes(4 * len(ids)))
        for route, parts in win.routes.items():
            i = ids.get(route)
            if i is not None:
                counts[i] = min(sum(a.requests() for a in parts.values()), 0xFFFFFFFF)
        st.day.append((win.start, counts))
        while st.day and st.day[0][0] < win.start - DAY - self._policy_for_buffer():
            st.day.popleft()
        for route, parts in win.routes.items():
            if len(st.known_routes) < KNOWN_ROUTES_MAX:
                st.known_routes.add(route)
            for agg in parts.values():
                if agg.params:
                    names = st.known_params.setdefault(route, set())
                    for n in agg.params:
                        if len(names) >= KNOWN_PARAMS_MAX:
                            break
                        names.add(n)

    def _policy_for_buffer(self) -> float:
        longest = max((p.window + p.delay for p in self._policies.values()), default=1800.0)
        return 2 * longest + BUFFER_SLACK

    def _start_evaluations(self, service: str, st: _ServiceState, now: float,
                           size: float) -> None:
        for dep in self.registry.all(service):
            if dep.ts > now or (dep.version, dep.ts) in st.started:
                continue
            st.started.add((dep.version, dep.ts))
            if st.first is None or dep.ts < st.first:
                continue  # before anything this watch saw: nothing to judge it on
            if any(e.deployed_at >= dep.ts for e in st.evaluations):
                continue  # an older deploy showing up late
            for other in st.evaluations:  # a newer deploy ends the one before
                if other.cut_at is None and dep.ts < other.cand_end:
                    other.cut_at = dep.ts
                    other.cand_end = max(other.cand_start, math.floor(dep.ts / size) * size)
            if self.version is not None and dep.version != self.version:
                continue
            if any(v == dep.version for v, t in st.started if t != dep.ts):
                continue  # a version deployed again (a rollback to it): judged the first time
            policy = self._policy(service)
            # Whole windows: the candidate's first starts at or after deploy + delay, the
            # baseline's last ends at or before the deploy; both last the policy's window.
            cand_start = math.ceil((dep.ts + policy.delay) / size) * size
            base_end = math.floor(dep.ts / size) * size
            ev = Evaluation(
                service=service, version=dep.version, previous_version=dep.previous_version,
                deployed_at=dep.ts, cand_start=cand_start, cand_end=cand_start + policy.window,
                baseline=[w for w in st.buffer
                          if w.end <= base_end and w.start >= base_end - policy.window],
                candidate=[w for w in st.buffer
                           if w.start >= cand_start and w.end <= cand_start + policy.window],
                known_routes=frozenset(st.known_routes),
                day_before=self._day_before(st, base_end - policy.window, base_end, cand_start,
                                            cand_start + policy.window, size),
                known_params={r: frozenset(n) for r, n in st.known_params.items()},
            )
            st.evaluations.append(ev)

    @staticmethod
    def _day_before(st: _ServiceState, b0: float, b1: float, c0: float, c1: float,
                    size: float) -> tuple[list[dict[str, int]], list[dict[str, int]]] | None:
        """Requests per window and route at the baseline's and the candidate's hours the day
        before, when the history holds (nearly) all those windows; else None."""
        if not st.day or st.day[0][0] > b0 - DAY:
            return None
        names = {i: r for r, i in st.route_ids.items()}

        def cut(lo: float, hi: float) -> list[dict[str, int]]:
            return [{names[i]: n for i, n in enumerate(counts) if n}
                    for start, counts in st.day if lo - DAY <= start < hi - DAY]

        base, cand = cut(b0, b1), cut(c0, c1)
        want = round((c1 - c0) / size)
        if len(base) < 0.9 * want or len(cand) < 0.9 * want:
            return None  # a gap (an outage, a restart): no correction rather than a wrong one
        return base, cand

    def interim(self, service: str, version: str) -> dict[str, Any] | None:
        """The record ``service`` ``version`` would get on the windows so far (None when
        it is not under evaluation here); the evaluation goes on."""
        st = self._state.get(service)
        if st is None:
            return None
        for ev in st.evaluations:
            if ev.version == version:
                rec = judge(ev, self._policy(service), list(st.incidents),
                            analysis=self.analysis, models=self.models)
                rec.setdefault("notes", []).append("interim: the candidate window is not over")
                return rec
        return None

    def _judge_due(self, now: float) -> None:
        for service in sorted(self._state):
            st = self._state[service]
            for ev in list(st.evaluations):
                if now >= ev.cand_end:
                    self._judge(service, st, ev)

    def _judge(self, service: str, st: _ServiceState, ev: Evaluation) -> None:
        st.evaluations.remove(ev)
        policy = self._policy(service)
        record = judge(ev, policy, list(st.incidents), analysis=self.analysis,
                       models=self.models)
        self.on_record(record)

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1
    _EV_WINDOWS = ("baseline", "candidate")

    def snapshot(self) -> dict[str, Any]:
        """Buffers and evaluations; a window shared by a buffer and an evaluation is kept
        once (``windows``, referred to by index)."""
        windows: list[WinAgg] = []
        index: dict[int, int] = {}

        def ref(w: WinAgg) -> int:
            i = index.get(id(w))
            if i is None:
                i = index[id(w)] = len(windows)
                windows.append(w)
            return i

        services: dict[str, dict[str, Any]] = {}
        for name, st in self._state.items():
            evaluations = []
            for ev in st.evaluations:
                d = {f.name: getattr(ev, f.name) for f in dataclass_fields(ev)}
                for k in self._EV_WINDOWS:
                    d[k] = [ref(w) for w in d[k]]
                evaluations.append(d)
            services[name] = {
                "first": st.first, "buffer": [ref(w) for w in st.buffer],
                "route_ids": st.route_ids,
                "day": [(start, counts.tolist()) for start, counts in st.day],
                "known_routes": st.known_routes, "known_params": st.known_params,
                "incidents": list(st.incidents), "evaluations": evaluations,
                "started": st.started,
            }
        return stamp(self.STATE_VERSION, {"windows": windows, "services": services})

    def restore(self, data: Any) -> None:
        snap = unstamp(data, self.STATE_VERSION, {}, self.STATE_NAME)
        try:
            windows = snap["windows"]
            if not all(isinstance(w, WinAgg) for w in windows):
                raise SnapshotError(f"{self.STATE_NAME}: a window is not a window")
            state: dict[str, _ServiceState] = {}
            for name, d in snap["services"].items():
                st = _ServiceState()
                st.first = d["first"]
                st.buffer = deque(windows[i] for i in d["buffer"])
                st.route_ids = dict(d["route_ids"])
                st.day = deque((float(start), array("I", counts)) for start, counts in d["day"])
                st.known_routes = set(d["known_routes"])
                st.known_params = {r: set(n) for r, n in d["known_params"].items()}
                st.incidents.extend(d["incidents"])
                for e in d["evaluations"]:
                    e = dict(e)
                    for k in self._EV_WINDOWS:
                        e[k] = [windows[i] for i in e[k]]
                    e["known_routes"] = frozenset(e["known_routes"])
                    e["known_params"] = {r: frozenset(n) for r, n in e["known_params"].items()}
                    st.evaluations.append(Evaluation(**e))
                st.started = {(str(v), float(t)) for v, t in d["started"]}
                state[str(name)] = st
        except SnapshotError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError,
                OverflowError) as exc:
            raise SnapshotError(f"{self.STATE_NAME}: malformed snapshot "
                                f"({type(exc).__name__})") from None
        self._state = state
