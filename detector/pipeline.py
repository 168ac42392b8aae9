"""The event-time pipeline: the same code behind replay and the live service.

Per event (the hot path): route template lookup (cached), then counter updates
in the event's tumbling window. Everything heavier runs once per closed window.
The stages are composed here; windows (detector.windows), series and their
detectors' memory (windows.series), request analysis (analysis.screen) and
incidents live in their own modules, and each saves and loads its own state
(detector.state.component, the tree in detector.state.layout).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from detector.analysis.screen import RequestScreen
from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.detectors.auth_failure_burst import ClientAuthDetector, auth_route_detector
from detector.detectors.base import SeriesKey, Signal, WindowDetector
from detector.detectors.client_error_surge import client_error_surge_detector
from detector.detectors.error_surge import error_surge_detector
from detector.detectors.latency_regression import LatencyRegressionDetector
from detector.detectors.new_endpoint import NewEndpointDetector
from detector.detectors.payload import PayloadDetector
from detector.detectors.scanning import ScanDetector
from detector.detectors.traffic import TrafficDetector
from detector.events import AccessEvent, BadRecord, DeploymentEvent
from detector.incidents.manager import IncidentManager
from detector.incidents.model import Incident
from detector.routes import RouteTemplater
from detector.sinks.base import Sink
from detector.state.component import Stateful
from detector.windows.series import PathKey, SeriesIndex
from detector.windows.state import ServiceStarts, WindowState
from detector.windows.stats import (
    BOUNDS,
    C_COUNT,
    C_SAMPLES,
    COUNT,
    ERR_SAMPLES,
    HIST,
    LATEST,
    NBUCKETS,
    S4XX,
    S5XX,
    S404,
    SAMPLES,
    SAUTH,
    TIMED,
    client_failure,
    client_missing,
    new_client_stats,
)

if TYPE_CHECKING:
    from detector.analysis.analyzer import Finding, RequestAnalyzer

Item = AccessEvent | DeploymentEvent | BadRecord
FUTURE_SLACK = 86400.0  # events stamped more than a day after the wall clock are absurd
# AccessEvent fields by position: the hot path indexes the tuple (faster than attributes).
TS: Final = 0
SERVICE: Final = 1
VERSION: Final = 2
METHOD: Final = 3
PATH: Final = 4
QUERY: Final = 5
STATUS: Final = 6
DURATION: Final = 7
CLIENT: Final = 9
USER_AGENT: Final = 10
BODY: Final = 11
SOURCE: Final = 13
OFFSET: Final = 14


class RunSummary:
    """Counters for the end-of-run summary and the service's metrics."""

    def __init__(self) -> None:
        self.events = 0
        self.deployments = 0
        self.bad = 0
        self.bad_reasons: Counter[str] = Counter()
        self.late = 0
        self.incidents: Counter[str] = Counter()
        self.findings: Counter[str] = Counter()  # per-request findings by kind
        self.windows_closed = 0
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Pipeline:
    """Windows, detectors and incidents over a stream of decoded events.

    >>> from detector.sinks.base import MemorySink
    >>> from detector.events import AccessEvent
    >>> sink = MemorySink()
    >>> p = Pipeline(Settings(), [sink])
    >>> p.process([AccessEvent(float(i), "shop", None, "GET", f"/items/{i}", "", 200,
    ...            0.01, 10, "10.0.0.1", "ua", None, None, "f", i) for i in range(300)])
    >>> p.finish()
    >>> p.summary.events, sink.items
    (300, [])
    """

    def __init__(
        self,
        settings: Settings,
        sinks: list[Sink],
        *,
        registry: DeploymentRegistry | None = None,
        templater: RouteTemplater | None = None,
        dead_letter: Callable[[BadRecord], None] | None = None,
        wall_clock: Callable[[], float] | None = time.time,
        analyzer: RequestAnalyzer | None = None,
    ) -> None:
        self.settings = settings
        self.size = float(settings.windows.size_seconds)
        self.sinks = sinks
        self.registry = registry or DeploymentRegistry()
        self.templater = templater or RouteTemplater()
        self.dead_letter = dead_letter
        self.summary = RunSummary()
        ds = settings.detectors
        self.traffic = TrafficDetector(ds)
        self.detectors: list[WindowDetector] = [
            self.traffic,
            error_surge_detector(ds),
            client_error_surge_detector(ds),
            LatencyRegressionDetector(ds),
            auth_route_detector(ds),
        ]
        self.client_auth: ClientAuthDetector = ClientAuthDetector(ds)
        self.scanner = ScanDetector(ds)
        self.payload = PayloadDetector(ds)
        self.new_endpoint = NewEndpointDetector(ds)
        self.screen = RequestScreen(analyzer)
        self.windows = WindowState(self.size, float(settings.windows.allowed_lateness_seconds))
        self.starts = ServiceStarts()
        self.series = SeriesIndex(self.templater, self.detectors, self.traffic,
                                  self.new_endpoint, self.starts)
        self.incidents: IncidentManager = IncidentManager(
            settings.incidents, self.registry, self._emit, self.size
        )
        # The live service refuses event times far beyond its clock. A replay passes
        # None: a file is judged by its own times (sources.timeguard), never by when
        # it happens to be replayed.
        self.wall_clock = wall_clock
        self.future_limit: float = self._future_limit()  # renewed as the clock moves on

    @property
    def analyzer(self) -> RequestAnalyzer | None:
        return self.screen.analyzer

    @property
    def max_ts(self) -> float:
        """The latest event time seen (the watermark plus the allowed lateness)."""
        return self.windows.max_ts

    @property
    def svc_first(self) -> dict[str, float]:
        return self.starts.first

    @property
    def series_keys(self) -> list[SeriesKey]:
        return self.series.keys

    @property
    def path_cache(self) -> dict[PathKey, int]:
        return self.series.path_cache

    @property
    def path_cache_bytes(self) -> int:
        return self.series.path_cache_bytes

    # ---- per event -------------------------------------------------------
    def process(self, items: Iterable[Item]) -> None:
        """Feed decoded items (events, deployments, bad records) in arrival order."""
        size = self.size
        ae = AccessEvent
        ws = self.windows
        open_w = ws.open
        series_ix = self.series
        keys = series_ix.keys
        birth = series_ix.birth
        path_cache = series_ix.path_cache
        odd_paths = series_ix.odd_paths
        last_ver = ws.last_version
        bounds = BOUNDS
        bis = bisect_right
        cur_idx: float = math.nan
        cur_s: dict[int, list[Any]] = {}
        cur_c: dict[tuple[str, str], list[Any]] = {}
        cur_p: list[tuple[AccessEvent, int]] = []
        analyze = self.screen.analyzer is not None
        ua_benign = self.screen.ua_benign
        max_ts = ws.max_ts
        next_close = ws.next_close
        closed_upto = ws.closed_upto
        future = self.future_limit
        n = 0
        for ev in items:
            if ev.__class__ is not ae:
                self._slow_item(ev)  # type: ignore[arg-type]
                continue
            ts = ev[TS]
            if ts > max_ts:
                if ts > future:
                    # The limit was set a while ago (a service runs for days): renew it first.
                    future = self.future_limit = self._future_limit()
                    if ts > future:
                        self.reject(BadRecord(ev[SOURCE], ev[OFFSET], "timestamp in the future",
                                              b""))
                        continue
                max_ts = ts
                if ts >= next_close:
                    ws.max_ts = max_ts
                    self.summary.events += n
                    n = 0
                    self._close_due()
                    next_close = ws.next_close
                    closed_upto = ws.closed_upto
                    cur_idx = math.nan
            widx = ts // size
            if widx != cur_idx:
                if widx < closed_upto:
                    self.summary.late += 1
                    continue
                w = open_w.get(widx)
                if w is None:
                    w = ws.open_window(widx)
                    next_close = ws.next_close
                    if ts < ws.first_ts:
                        ws.first_ts = ts
                cur_idx = widx
                cur_s, cur_c, cur_p = w
            n += 1
            svc = ev[SERVICE]
            ver = ev[VERSION]
            if ver is not None and last_ver.get(svc) != ver:
                last_ver[svc] = ver
                self.registry.observe_version(svc, ver, ts)
            pk = (svc, ev[METHOD], ev[PATH])
            sid = path_cache.get(pk)
            if sid is None:
                sid = series_ix.resolve(pk, int(widx), ts)
            if analyze and (
                ev[QUERY] or ev[BODY] is not None or ev[USER_AGENT] not in ua_benign.get(svc, ())
                or pk in odd_paths
            ):
                cur_p.append((ev, sid))  # analysed in one batch when the window closes
            st = cur_s.get(sid)
            if st is None:
                # The series window layout of windows.stats, built inline (hot path):
                # count, 5xx, 4xx, auth, 404, timed, histogram, samples, error samples, latest.
                st = cur_s[sid] = [0, 0, 0, 0, 0, 0, [0] * NBUCKETS, [ev], [], ts]
                if birth[sid] > widx:
                    birth[sid] = int(widx)
            elif ts > st[LATEST]:
                st[LATEST] = ts
            st[COUNT] += 1
            ck = (svc, ev[CLIENT])
            cs = cur_c.get(ck)
            if cs is None:
                cs = cur_c[ck] = new_client_stats()
            else:
                cs[C_COUNT] += 1
            status = ev[STATUS]
            d = ev[DURATION]
            if status is not None and status >= 400:
                if status >= 500:
                    st[S5XX] += 1
                    d = None  # timeouts and crashes are error symptoms, not latency
                elif status == 401 or status == 403:
                    st[SAUTH] += 1
                    client_failure(cs, keys[sid].route, ev)
                elif status == 404:
                    st[S404] += 1
                    client_missing(cs, ev)
                else:
                    st[S4XX] += 1
                err = st[ERR_SAMPLES]
                if len(err) < 3:
                    err.append(ev)
            elif status is None:
                d = None  # no response was sent: nothing to time
            elif st[COUNT] == 2:
                st[SAMPLES].append(ev)
            if d is not None:
                st[TIMED] += 1
                st[HIST][bis(bounds, d)] += 1
        ws.max_ts = max_ts
        self.summary.events += n

    def _future_limit(self) -> float:
        return math.inf if self.wall_clock is None else self.wall_clock() + FUTURE_SLACK

    def _slow_item(self, item: DeploymentEvent | BadRecord) -> None:
        if isinstance(item, DeploymentEvent):
            self.add_deployment(item)
        elif isinstance(item, BadRecord):
            self.reject(item)

    def reject(self, rec: BadRecord) -> None:
        """Count a record that is no event (and hand it to the dead letter, if any)."""
        self.summary.bad += 1
        self.summary.bad_reasons[rec.reason.split(":")[0][:80]] += 1
        if self.dead_letter is not None:
            self.dead_letter(rec)

    def add_deployment(self, dep: DeploymentEvent) -> None:
        self.registry.add(dep)
        self.summary.deployments += 1

    def use_analyzer(self, analyzer: RequestAnalyzer) -> None:
        """Analyse from now on with ``analyzer`` (a new model version); windows stay."""
        self.screen.analyzer = analyzer

    def advance(self, ts: float) -> int:
        """Move event time on to ``ts`` without an event (a silent source's heartbeat).

        Windows that an event at ``ts`` would close are closed now, empty ones
        included, so a source that stopped sending is seen as silent rather
        than frozen. Returns how many windows closed. Later events before the
        new watermark count as late, as after any event.
        """
        ws = self.windows
        if not ts > ws.max_ts or ts > self._future_limit():
            return 0
        ws.max_ts = ts
        before = self.summary.windows_closed
        # next_close only knows open windows; with none open, the empty windows
        # after the last closed one are due once the watermark passes them.
        passed = math.floor(ws.watermark() / self.size) - 1 >= ws.closed_upto
        if ts >= ws.next_close or (ws.closed_upto != -math.inf and passed):
            self._close_due()
        return self.summary.windows_closed - before

    def watermark(self) -> float:
        return self.windows.watermark()

    # ---- checkpoints -----------------------------------------------------
    def _components(self) -> dict[str, Stateful]:
        """The stateful parts by their name in the snapshot tree (detector.state.layout)."""
        return {"windows": self.windows, "series": self.series, "svc_first": self.starts,
                "templater": self.templater, "registry": self.registry,
                "incidents": self.incidents, "client_auth": self.client_auth,
                "scanner": self.scanner, "new_endpoint": self.new_endpoint,
                "payload": self.payload, "ua_benign": self.screen}

    def state(self) -> dict[str, Any]:
        """Everything a restart needs to continue exactly where this pipeline is."""
        st: dict[str, Any] = {name: c.snapshot() for name, c in self._components().items()}
        analyzer = self.screen.analyzer
        st["profiles"] = analyzer.profiles.snapshot() if analyzer is not None else None
        return st

    def snapshot(self) -> bytes:
        """Serialised state, for a checkpoint (sinks flushed first, offsets committed after)."""
        from detector.state import dumps

        return dumps(self.state())

    def restore(self, data: bytes) -> None:
        """Continue from a snapshot written by :meth:`snapshot` or by an earlier version
        (SnapshotError if unusable)."""
        from detector.state import loads
        from detector.state.layout import upgrade

        st = upgrade(loads(data))
        for name, component in self._components().items():
            component.restore(st[name])
        analyzer = self.screen.analyzer
        if analyzer is not None and st["profiles"] is not None:
            from detector.analysis.profiles import ProfileStore

            profiles = ProfileStore()
            profiles.restore(st["profiles"])
            analyzer.profiles = profiles  # a new store: the analyzer may be shared

    # ---- per window ------------------------------------------------------
    def _close_due(self, final: bool = False) -> None:
        for w, (series, clients, pending), last in self.windows.due(final):
            self._evaluate(w, series, clients, pending, last)

    def _evaluate(
        self,
        w: int,
        series: dict[int, list[Any]],
        clients: dict[tuple[str, str], list[Any]],
        pending: list[tuple[AccessEvent, int]],
        last: bool,
    ) -> None:
        size = self.size
        start = w * size
        end = start + size
        first_ts = self.windows.first_ts
        covered: dict[str, float] = {}
        latest: dict[str, float] = {}
        if last:  # where each service's own traffic ends in the final, partial window
            keys = self.series.keys
            for sid, st in series.items():
                svc = keys[sid].service
                t = st[LATEST] if len(st) > LATEST else self.windows.max_ts  # older snapshots
                if t > latest.get(svc, -math.inf):
                    latest[svc] = t

        def coverage_of(service: str) -> float:
            """Share of the window the service's traffic spans (partial first/last)."""
            c = covered.get(service)
            if c is None:
                c = self.starts.coverage(service, start, size, first_ts)
                if last:
                    c = min(c, max(0.0, (latest.get(service, start) - start) / size))
                covered[service] = c
            return c

        flagged: list[tuple[AccessEvent, str, Finding]] = []
        if pending and self.screen.analyzer is not None:
            flagged = self.screen.analyze(pending, self.series.keys, series, clients,
                                          self.summary.findings)
        signals: list[Signal] = self.series.check_window(w, start, end, series, coverage_of)
        scans = self.scanner.check_window(clients, start, end)
        signals.extend(scans)
        # Every window, findings or not: the payload memory decays per window,
        # so one service's attacks never change how another's are grouped.
        scanners = {(s.service, s.client or "") for s in scans}
        signals.extend(self.payload.check_window(flagged, start, end, scanners))
        for sig in self.client_auth.check_window(clients, start, end):
            cs = clients.get((sig.service, sig.client or ""))
            if cs is not None and cs[C_SAMPLES]:
                sig.samples.extend(cs[C_SAMPLES])
            signals.append(sig)
        self.summary.windows_closed += 1
        # The incident clock (detected_at: CONTRACTS §3, the event-time watermark at
        # which the incident is raised) is the watermark at which this window closes,
        # its end, not the watermark when it happened to be closed: that depends on
        # other services' traffic, and a service's incidents must not (per-partition
        # pipelines, replay --workers and a replay of everything agree to the update).
        self.incidents.on_window(start, end, end, signals)

    def finish(self) -> None:
        """End of input: close every open window (the last one is partial)."""
        self._close_due(final=True)
        for sink in self.sinks:
            sink.flush()

    def _emit(self, incident: Incident) -> None:
        if incident.status == "open":
            self.summary.incidents[incident.kind] += 1
        for sink in self.sinks:
            sink.write(incident)
