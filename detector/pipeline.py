"""The event-time pipeline: the same code behind replay and the live service.

Per event (the hot path): route template lookup (cached), then counter updates
in the event's tumbling window. Everything heavier runs once per closed window.
"""

from __future__ import annotations

import math
import re
import sys
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.detectors.auth_failure_burst import ClientAuthDetector, auth_route_detector
from detector.detectors.base import SeriesKey, SeriesWindow, Signal, WindowDetector
from detector.detectors.client_error_surge import client_error_surge_detector
from detector.detectors.error_surge import error_surge_detector
from detector.detectors.latency_regression import LatencyRegressionDetector
from detector.detectors.new_endpoint import NewEndpointDetector
from detector.detectors.payload import PayloadDetector, is_probe
from detector.detectors.scanning import ScanDetector
from detector.detectors.traffic import TrafficDetector
from detector.events import AccessEvent, BadRecord, DeploymentEvent
from detector.incidents.manager import IncidentManager
from detector.incidents.model import Incident
from detector.routes import RouteTemplater
from detector.sinks.base import Sink
from detector.windows.stats import (
    BOUNDS,
    COUNT,
    LATEST,
    NBUCKETS,
    S4XX,
    S5XX,
    S404,
    SAUTH,
    SCAN_PATHS_CAP,
    new_series_stats,
)

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.analysis.findings import Finding

Item = AccessEvent | DeploymentEvent | BadRecord
# Requests analysed besides those with a query or body: paths with characters
# or suffixes that injection, traversal and probing need. No nested
# quantifiers: linear on attacker-controlled paths.
_SUSPICIOUS_PATH = re.compile(
    r"[%'\"<>;`{}\\|$!*()\[\]~]|\.\.|/\.|\.(?:php\d?|aspx?|jspx?|cgi|env|bak|old|sql|ini|log"
    r"|conf|cfg|ya?ml|xml|git|svn|htaccess|passwd|swp|zip|tar|gz|dll|exe|sh)\b",
    re.IGNORECASE,
)
UA_BENIGN_MAX = 100_000
UA_BENIGN_BYTES = 8 << 20  # per service: user agents are as long as a client likes
KNOWN_METHODS = frozenset(
    {
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "HEAD",
        "OPTIONS",
        "CONNECT",
        "TRACE",
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
        "REPORT",
        "SEARCH",
    }
)
MAX_SERIES = 200_000  # beyond this, new routes share one overflow series per service
MAX_EMPTY_WINDOWS = 1440  # a longer silence (a day of windows) is skipped, not walked
PATH_CACHE_MAX = 500_000
# The path cache is keyed by raw paths, which the input sizes: it is bounded by the
# bytes it holds too (path string plus ~200 bytes of tuple and dict entry each).
PATH_CACHE_BYTES = 32 << 20
PATH_ENTRY_BYTES = 200
FUTURE_SLACK = 86400.0  # events stamped more than a day after the wall clock are absurd
_EMPTY: list[Any] = new_series_stats()



def _client_sample(cs: list[Any], ev: AccessEvent) -> None:
    """Keep the first few failing requests of a client window as incident samples."""
    samples = cs[4]
    if samples is None:
        cs[4] = [ev]
    elif len(samples) < 3:
        samples.append(ev)


def _scan_path(cs: list[Any], path: str) -> None:
    """Remember a missing or sensitive path a client asked for (capped)."""
    paths = cs[5]
    if paths is None:
        cs[5] = {path}
    elif len(paths) < SCAN_PATHS_CAP:
        paths.add(path)

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
        self.lateness = float(settings.windows.allowed_lateness_seconds)
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
        self.analyzer = analyzer
        self.payload = PayloadDetector(ds)
        # (service, user agent) analysed and found harmless. Keyed by service so
        # that what one pipeline analyses never depends on other services'
        # traffic: a pipeline per partition decides exactly like one for all.
        self.ua_benign: dict[str, set[str]] = {}
        self.ua_benign_bytes: dict[str, int] = {}  # per service, of the strings in ua_benign
        self.new_endpoint = NewEndpointDetector(ds)
        self.routes_by_service: dict[str, list[SeriesKey]] = {}
        self.incidents: IncidentManager = IncidentManager(
            settings.incidents, self.registry, self._emit, self.size
        )
        self.series_keys: list[SeriesKey] = []
        self.series_states: list[list[Any]] = []
        self.series_birth: list[int] = []
        self.series_last: list[int] = []  # last window index evaluated, per series
        self.awake: set[int] = set()  # series evaluated even in empty windows
        self.sid_of: dict[SeriesKey, int] = {}
        self.path_cache: dict[tuple[str, str, str], int] = {}
        self.path_cache_bytes = 0  # bounded by PATH_CACHE_BYTES (see _resolve_series)
        # Raw paths (as path_cache keys) that request analysis must see whatever
        # their query: decided once per path, when it is first resolved.
        self.odd_paths: set[tuple[str, str, str]] = set()
        self.open_windows: dict[
            int,
            tuple[
                dict[int, list[Any]],
                dict[tuple[str, str], list[Any]],
                list[tuple[AccessEvent, int]],
            ],
        ] = {}
        self.closed_upto: float = -math.inf  # windows with a smaller index are closed
        self.min_open: float = math.inf
        self.next_close: float = math.inf  # max event time at which the oldest window closes
        self.max_ts: float = -math.inf
        self.first_ts: float = math.inf
        # Per service: the time of its first event (its first series' first event),
        # so a service's partial first window is judged on its own traffic; the
        # latest event time per series window (LATEST) does the same for the last.
        self.svc_first: dict[str, float] = {}
        self.last_version: dict[str, str] = {}
        # The live service refuses event times far beyond its clock. A replay passes
        # None: a file is judged by its own times (sources.timeguard), never by when
        # it happens to be replayed.
        self.wall_clock = wall_clock
        self.future_limit: float = self._future_limit()  # renewed as the clock moves on
        self._gen: int = self.templater.generation

    # ---- per event -------------------------------------------------------
    def process(self, items: Iterable[Item]) -> None:
        """Feed decoded items (events, deployments, bad records) in arrival order."""
        size = self.size
        ae = AccessEvent
        open_w = self.open_windows
        path_cache = self.path_cache
        last_ver = self.last_version
        bounds = BOUNDS
        bis = bisect_right
        cur_idx: float = math.nan
        cur_s: dict[int, list[Any]] = {}
        cur_c: dict[tuple[str, str], list[Any]] = {}
        cur_p: list[tuple[AccessEvent, int]] = []
        analyze = self.analyzer is not None
        ua_benign = self.ua_benign
        odd_paths = self.odd_paths
        max_ts = self.max_ts
        next_close = self.next_close
        closed_upto = self.closed_upto
        future = self.future_limit
        n = 0
        for ev in items:
            if ev.__class__ is not ae:
                self._slow_item(ev)  # type: ignore[arg-type]
                continue
            ts = ev[0]
            if ts > max_ts:
                if ts > future:
                    # The limit was set a while ago (a service runs for days): renew it first.
                    future = self.future_limit = self._future_limit()
                    if ts > future:
                        self._bad(BadRecord(ev[13], ev[14], "timestamp in the future", b""))
                        continue
                max_ts = ts
                if ts >= next_close:
                    self.max_ts = max_ts
                    self.summary.events += n
                    n = 0
                    self._close_due()
                    next_close = self.next_close
                    closed_upto = self.closed_upto
                    cur_idx = math.nan
            widx = ts // size
            if widx != cur_idx:
                if widx < closed_upto:
                    self.summary.late += 1
                    continue
                w = open_w.get(widx)  # type: ignore[call-overload]
                if w is None:
                    w = open_w[widx] = ({}, {}, [])  # type: ignore[index]
                    if widx < self.min_open:
                        self.min_open = widx
                        next_close = self.next_close = (widx + 1) * size + self.lateness
                    if ts < self.first_ts:
                        self.first_ts = ts
                cur_idx = widx
                cur_s, cur_c, cur_p = w
            n += 1
            svc = ev[1]
            ver = ev[2]
            if ver is not None and last_ver.get(svc) != ver:
                last_ver[svc] = ver
                self.registry.observe_version(svc, ver, ts)
            pk = (svc, ev[3], ev[4])
            sid = path_cache.get(pk)
            if sid is None:
                sid = self._resolve_series(pk, int(widx), ts)
            if analyze and (
                ev[5] or ev[11] is not None or ev[10] not in ua_benign.get(ev[1], ())
                or pk in odd_paths
            ):
                cur_p.append((ev, sid))  # analysed in one batch when the window closes
            st = cur_s.get(sid)
            if st is None:
                st = cur_s[sid] = [0, 0, 0, 0, 0, 0, [0] * NBUCKETS, [ev], [], ts]
                if self.series_birth[sid] > widx:
                    self.series_birth[sid] = int(widx)
            elif ts > st[9]:
                st[9] = ts
            st[0] += 1
            client = ev[9]
            ck = (svc, client)
            cs = cur_c.get(ck)
            if cs is None:
                cs = cur_c[ck] = [1, 0, 0, None, None, None]
            else:
                cs[0] += 1
            status = ev[6]
            d = ev[7]
            if status is not None and status >= 400:
                if status >= 500:
                    st[1] += 1
                    d = None  # timeouts and crashes are error symptoms, not latency
                elif status == 401 or status == 403:
                    st[3] += 1
                    self._client_failure(cs, sid, ev)
                elif status == 404:
                    st[4] += 1
                    self._client_missing(cs, ev)
                else:
                    st[2] += 1
                if len(st[8]) < 3:
                    st[8].append(ev)
            elif status is None:
                d = None  # no response was sent: nothing to time
            elif st[0] == 2:
                st[7].append(ev)
            if d is not None:
                st[5] += 1
                st[6][bis(bounds, d)] += 1
        self.max_ts = max_ts
        self.summary.events += n

    def _future_limit(self) -> float:
        return math.inf if self.wall_clock is None else self.wall_clock() + FUTURE_SLACK

    def _client_failure(self, cs: list[Any], sid: int, ev: AccessEvent) -> None:
        cs[1] += 1
        routes = cs[3]
        if routes is None:
            routes = cs[3] = {}
        route = self.series_keys[sid].route
        routes[route] = routes.get(route, 0) + 1
        _client_sample(cs, ev)

    @staticmethod
    def _client_missing(cs: list[Any], ev: AccessEvent) -> None:
        cs[2] += 1
        _scan_path(cs, ev[4])
        _client_sample(cs, ev)

    def _resolve_series(self, pk: tuple[str, str, str], widx: int, ts: float) -> int:
        svc, method, path = pk
        if svc not in self.svc_first:  # its first event: new services miss the path cache
            self.svc_first[svc] = ts
        route = self.templater.template(svc, path)
        gen = self.templater.generation
        if (
            gen != self._gen  # learned collapse changed templates: cached mappings are stale
            or len(self.path_cache) >= PATH_CACHE_MAX
            or self.path_cache_bytes >= PATH_CACHE_BYTES
        ):
            self._gen = gen
            self.path_cache.clear()
            self.odd_paths.clear()
            self.path_cache_bytes = 0
        if _SUSPICIOUS_PATH.search(path) is not None:
            self.odd_paths.add(pk)
        key = SeriesKey(svc, method if method in KNOWN_METHODS else "OTHER", route)
        sid = self.sid_of.get(key)
        if sid is None:
            if len(self.series_keys) >= MAX_SERIES:
                key = SeriesKey(svc, key.method, "/{overflow}")
                sid = self.sid_of.get(key)
            if sid is None:
                sid = len(self.series_keys)
                self.sid_of[key] = sid
                known = self.routes_by_service.setdefault(svc, [])
                self.new_endpoint.service_seen(svc, widx)
                self.new_endpoint.series_born(key, widx, known)
                known.append(key)
                self.series_keys.append(key)
                self.series_states.append([d.new_state() for d in self.detectors])
                self.series_birth.append(widx)
                self.series_last.append(widx - 1)
                self.awake.add(sid)
        self.path_cache[pk] = sid
        self.path_cache_bytes += sys.getsizeof(path) + PATH_ENTRY_BYTES
        return sid

    def _slow_item(self, item: DeploymentEvent | BadRecord) -> None:
        if isinstance(item, DeploymentEvent):
            self.add_deployment(item)
        elif isinstance(item, BadRecord):
            self._bad(item)

    def _bad(self, rec: BadRecord) -> None:
        self.summary.bad += 1
        self.summary.bad_reasons[rec.reason.split(":")[0][:80]] += 1
        if self.dead_letter is not None:
            self.dead_letter(rec)

    def add_deployment(self, dep: DeploymentEvent) -> None:
        self.registry.add(dep)
        self.summary.deployments += 1

    def use_analyzer(self, analyzer: RequestAnalyzer) -> None:
        """Analyse from now on with ``analyzer`` (a new model version); windows stay."""
        self.analyzer = analyzer

    def advance(self, ts: float) -> int:
        """Move event time on to ``ts`` without an event (a silent source's heartbeat).

        Windows that an event at ``ts`` would close are closed now, empty ones
        included, so a source that stopped sending is seen as silent rather
        than frozen. Returns how many windows closed. Later events before the
        new watermark count as late, as after any event.
        """
        if not ts > self.max_ts or ts > self._future_limit():
            return 0
        self.max_ts = ts
        before = self.summary.windows_closed
        # next_close only knows open windows; with none open, the empty windows
        # after the last closed one are due once the watermark passes them.
        passed = math.floor(self.watermark() / self.size) - 1 >= self.closed_upto
        if ts >= self.next_close or (self.closed_upto != -math.inf and passed):
            self._close_due()
        return self.summary.windows_closed - before

    # ---- per window ------------------------------------------------------
    def watermark(self) -> float:
        return self.max_ts - self.lateness

    # ---- checkpoints -----------------------------------------------------
    _STATE = ("series_keys", "series_states", "series_birth", "series_last", "awake",
              "sid_of", "open_windows", "closed_upto", "min_open", "next_close", "max_ts",
              "first_ts", "last_version", "templater", "registry")

    def state(self) -> dict[str, Any]:
        """Everything a restart needs to continue exactly where this pipeline is."""
        st = {name: getattr(self, name) for name in self._STATE}
        inc = self.incidents
        st["incidents"] = (inc.open, inc.resolved, inc.last_signal, inc.counts)
        st["client_auth"] = self.client_auth._decayed
        st["scanner"] = self.scanner.state()
        ne = self.new_endpoint
        st["new_endpoint"] = (ne.first_window, ne.watch, ne.known)
        st["routes_by_service"] = self.routes_by_service
        st["payload"] = self.payload.state()
        st["profiles"] = self.analyzer.profiles.save_state() if self.analyzer else None
        st["ua_benign"] = self.ua_benign
        st["svc_first"] = self.svc_first
        return st

    def snapshot(self) -> bytes:
        """Serialised state, for a checkpoint (sinks flushed first, offsets committed after)."""
        from detector.state import dumps

        return dumps(self.state())

    def restore(self, data: bytes) -> None:
        """Continue from a snapshot written by :meth:`snapshot` (SnapshotError if unusable)."""
        from detector.state import SnapshotError, loads

        st = loads(data)
        if not isinstance(st, dict) or set(self._STATE) - set(st):
            raise SnapshotError("snapshot does not hold pipeline state")
        for name in self._STATE:
            setattr(self, name, st[name])
        inc = self.incidents
        inc.open, inc.resolved, inc.last_signal, inc.counts = st["incidents"]
        inc.registry = self.registry
        self.client_auth._decayed = st["client_auth"]
        self.scanner.restore(st["scanner"])
        ne = self.new_endpoint
        ne.first_window, ne.watch, ne.known = st["new_endpoint"]
        self.routes_by_service = st["routes_by_service"]
        self.payload.restore(st["payload"])
        self.ua_benign = st["ua_benign"]
        self.ua_benign_bytes = {svc: sum(sys.getsizeof(u) + 70 for u in known)
                                for svc, known in self.ua_benign.items()}
        # Absent in snapshots of earlier versions: every service seen so far started
        # no later than the pipeline's first event, as the old single figure said.
        self.svc_first = (st["svc_first"] if "svc_first" in st
                          else dict.fromkeys((k.service for k in self.series_keys), self.first_ts))
        if self.analyzer is not None and st["profiles"] is not None:
            from detector.analysis.profiles import ProfileStore

            self.analyzer.profiles = ProfileStore.load_state(st["profiles"])
        self.path_cache.clear()
        self.odd_paths.clear()
        self.path_cache_bytes = 0
        self._gen = self.templater.generation

    def _close_due(self, final: bool = False) -> None:
        size = self.size
        if final:
            last = max(self.open_windows) if self.open_windows else -1
        else:
            last = math.floor(self.watermark() / size) - 1
        start = self.closed_upto if self.closed_upto != -math.inf else self.min_open
        if start == math.inf or last < start:
            return
        w = int(start)
        keys = sorted(k for k in self.open_windows if k <= last)
        ki = 0
        while w <= last:
            while ki < len(keys) and keys[ki] < w:
                ki += 1
            nxt = keys[ki] if ki < len(keys) else last + 1
            if nxt - w > MAX_EMPTY_WINDOWS:
                w = int(nxt) if ki < len(keys) else last + 1  # skip a long silence
                continue
            series, clients, pending = self.open_windows.pop(w, ({}, {}, []))
            self._evaluate(w, series, clients, pending, final and w == last)
            w += 1
        self.closed_upto = last + 1
        self.min_open = min(self.open_windows) if self.open_windows else math.inf
        self.next_close = (
            (self.min_open + 1) * size + self.lateness if self.open_windows else math.inf
        )

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
        firsts = self.svc_first
        covered: dict[str, float] = {}
        latest: dict[str, float] = {}
        if last:  # where each service's own traffic ends in the final, partial window
            keys_ = self.series_keys
            for sid, st in series.items():
                svc = keys_[sid].service
                t = st[LATEST] if len(st) > LATEST else self.max_ts  # older snapshots
                if t > latest.get(svc, -math.inf):
                    latest[svc] = t

        def coverage_of(service: str) -> float:
            """Share of the window the service's traffic spans (partial first/last)."""
            c = covered.get(service)
            if c is None:
                first = firsts.get(service, self.first_ts)
                c = 1.0
                if first > start:
                    c = max(0.0, (end - first) / size)
                if last:
                    c = min(c, max(0.0, (latest.get(service, start) - start) / size))
                covered[service] = c
            return c

        signals: list[Signal] = []
        flagged: list[tuple[AccessEvent, str, Finding]] = []
        if pending and self.analyzer is not None:
            flagged = self._analyze(pending, series, clients)
        detectors = self.detectors
        traffic = self.traffic
        keys = self.series_keys
        last_eval = self.series_last
        # Series with traffic in this window, plus those whose silence could mean
        # a drop; quiet low-volume series sleep and catch up in closed form.
        for sid in sorted(self.awake.union(series)):
            if self.series_birth[sid] > w:
                continue
            key = keys[sid]
            stats = series.get(sid)
            states = self.series_states[sid]
            gap = w - last_eval[sid] - 1
            if gap > 0:
                traffic.skip_empty(states[0], gap)
            last_eval[sid] = w
            if stats is None:
                # Only the traffic detector has something to learn from silence.
                win = SeriesWindow(key, start, end, _EMPTY, coverage_of(key.service))
                sig = traffic.check(states[0], win)
                traffic.learn(states[0], win, sig is not None)
            else:
                win = SeriesWindow(key, start, end, stats, coverage_of(key.service))
                sig = None
                found = [det.check(st, win) for det, st in zip(detectors, states, strict=True)]
                # A window anomalous in any respect is learned by no baseline of
                # the series: stuffing traffic must not teach the latency baseline.
                anomalous = any(f is not None for f in found)
                for det, st, f in zip(detectors, states, found, strict=True):
                    det.learn(st, win, anomalous)
                    if f is not None:
                        signals.append(f)
            if sig is not None:
                signals.append(sig)
            if stats is not None and key in self.new_endpoint.watch:
                ok = stats[COUNT] - stats[S5XX] - stats[S4XX] - stats[SAUTH] - stats[S404]
                sig = self.new_endpoint.on_window(key, w, start, end, stats[COUNT], ok,
                                                  list(stats[7]))
                if sig is not None:
                    signals.append(sig)
            if traffic.dormant(states[0], end):
                self.awake.discard(sid)
            else:
                self.awake.add(sid)
        scans = self.scanner.check_window(clients, start, end)
        signals.extend(scans)
        # Every window, findings or not: the payload memory decays per window,
        # so one service's attacks never change how another's are grouped.
        scanners = {(s.service, s.client or "") for s in scans}
        signals.extend(self.payload.check_window(flagged, start, end, scanners))
        for sig in self.client_auth.check_window(clients, start, end):
            cs = clients.get((sig.service, sig.client or ""))
            if cs is not None and cs[4]:
                sig.samples.extend(cs[4])
            signals.append(sig)
        self.summary.windows_closed += 1
        # The incident clock (detected_at: CONTRACTS §3, the event-time watermark at
        # which the incident is raised) is the watermark at which this window closes,
        # its end, not the watermark when it happened to be closed: that depends on
        # other services' traffic, and a service's incidents must not (per-partition
        # pipelines, replay --workers and a replay of everything agree to the update).
        self.incidents.on_window(start, end, end, signals)

    def _analyze(
        self,
        pending: list[tuple[AccessEvent, int]],
        series: dict[int, list[Any]],
        clients: dict[tuple[str, str], list[Any]],
    ) -> list[tuple[AccessEvent, str, Finding]]:
        """Per-request analysis of one window's candidates, in one batch.

        Flagged requests are taken out of their route's counts: the route's
        health (errors, latency) is judged on legitimate traffic, and attack
        traffic is reported as what it is.
        """
        assert self.analyzer is not None
        keys = self.series_keys
        events = [p[0] for p in pending]
        routes = [keys[p[1]].route for p in pending]
        found = self.analyzer.analyze_many(events, routes)
        flagged: list[tuple[AccessEvent, str, Finding]] = []
        ua_benign = self.ua_benign
        ua_bytes = self.ua_benign_bytes
        for (ev, sid), route, f in zip(pending, routes, found, strict=True):
            if f is None:
                svc, ua = ev.service, ev.user_agent
                known = ua_benign.get(svc)
                if known is None:
                    known = ua_benign[svc] = set()
                elif ua in known:
                    continue
                elif len(known) >= UA_BENIGN_MAX or ua_bytes.get(svc, 0) >= UA_BENIGN_BYTES:
                    known.clear()  # bounded: benign agents are simply analysed once more
                    ua_bytes[svc] = 0
                known.add(ua)
                ua_bytes[svc] = ua_bytes.get(svc, 0) + sys.getsizeof(ua) + 70  # + set slot
                continue
            flagged.append((ev, route, f))
            self.summary.findings[f.kind] += 1
            if is_probe(f):  # a sensitive-file probe counts towards scanning
                cs = clients.get((ev.service, ev.client))
                if cs is not None:
                    _scan_path(cs, ev.path)
            st = series.get(sid)
            if st is not None and st[COUNT] > 0:
                st[COUNT] -= 1
                status = ev.status
                if status is not None and status >= 400:
                    idx = (S5XX if status >= 500 else SAUTH if status in (401, 403)
                           else S404 if status == 404 else S4XX)
                    st[idx] = max(0, st[idx] - 1)
        return flagged

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
