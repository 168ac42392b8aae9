"""Series: one per (service, method, route template), with its detectors' memory.

Raw (service, method, path) triples are mapped to a series id through a
cache bounded in entries and bytes; the templater decides the route. Every
series holds one state per window detector and is evaluated when a window
closes; quiet, low-volume series sleep and catch up in closed form.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from detector.detectors.base import (
    AssessingDetector,
    SeriesKey,
    SeriesWindow,
    Signal,
    WindowDetector,
)
from detector.detectors.new_endpoint import NewEndpointDetector
from detector.detectors.traffic import TrafficDetector
from detector.routes import RouteTemplater
from detector.state.component import assign, fields, stamp, unstamp
from detector.windows.state import ServiceStarts
from detector.windows.stats import COUNT, S4XX, S5XX, S404, SAMPLES, SAUTH, new_series_stats

# Requests analysed besides those with a query or body: paths with characters
# or suffixes that injection, traversal and probing need. No nested
# quantifiers: linear on attacker-controlled paths.
_SUSPICIOUS_PATH = re.compile(
    r"[%'\"<>;`{}\\|$!*()\[\]~]|\.\.|/\.|\.(?:php\d?|aspx?|jspx?|cgi|env|bak|old|sql|ini|log"
    r"|conf|cfg|ya?ml|xml|git|svn|htaccess|passwd|swp|zip|tar|gz|dll|exe|sh|inc|orig|save"
    r"|tmp|copy|dist)\b",
    re.IGNORECASE,
)
# Every branch of _SUSPICIOUS_PATH needs one of these characters: a path without
# any (most of them) is cleared by one scan for a character class, which the
# regex engine runs far faster than the alternation at every position.
_SUSPICIOUS_CHAR = re.compile(r"[%'\"<>;`{}\\|$!*()\[\]~.]")
_PLAIN_METHODS = frozenset({"GET", "HEAD", "POST"})
KNOWN_METHODS = frozenset({
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PROPFIND",
    "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
})
MAX_SERIES = 200_000  # beyond this, new routes share one overflow series per service
PATH_CACHE_MAX = 500_000
# The path cache is keyed by raw paths, which the input sizes: it is bounded by the
# bytes it holds too (path string plus ~200 bytes of tuple and dict entry each).
PATH_CACHE_BYTES = 32 << 20
PATH_ENTRY_BYTES = 200
_EMPTY: list[Any] = new_series_stats()

PathKey = tuple[str, str, str]  # (service, method, raw path)


def _has_id(route: str) -> bool:
    """Whether a route template has a placeholder (``/users/{id}``): an object id."""
    return "{" in route and route != "/{overflow}"
TRAFFIC = 0  # a series' states follow the detectors: the traffic detector's comes first

Assess = Callable[[Any, SeriesWindow], tuple[Signal | None, Any]]
LearnAssessed = Callable[[Any, SeriesWindow, bool, Any], None]


def _assessor(det: WindowDetector) -> Assess:
    """``det.assess``, or its ``check`` with no memo."""
    if isinstance(det, AssessingDetector):
        return det.assess
    check = det.check
    return lambda state, win: (check(state, win), None)


def _learner(det: WindowDetector) -> LearnAssessed:
    """``det.learn_assessed``, or its ``learn`` ignoring the memo."""
    if isinstance(det, AssessingDetector):
        return det.learn_assessed
    learn = det.learn
    return lambda state, win, flagged, _memo: learn(state, win, flagged)


class SeriesIndex:
    """Series ids of raw paths, and each series' detector states.

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.new_endpoint import NewEndpointDetector
    >>> from detector.detectors.traffic import TrafficDetector
    >>> ds = DetectorSettings()
    >>> traffic = TrafficDetector(ds)
    >>> ix = SeriesIndex(RouteTemplater(), [traffic], traffic, NewEndpointDetector(ds),
    ...                  ServiceStarts())
    >>> ix.resolve(("shop", "GET", "/items/1"), 0, 1.0), ix.keys
    (0, [SeriesKey(service='shop', method='GET', route='/items/{id}')])
    """

    def __init__(self, templater: RouteTemplater, detectors: list[WindowDetector],
                 traffic: TrafficDetector, new_endpoint: NewEndpointDetector,
                 starts: ServiceStarts) -> None:
        self.templater = templater
        self.detectors = detectors
        self.traffic = traffic  # detectors[TRAFFIC]: the one that learns from silence too
        # Per detector: check and learn sharing their work on a window where they can.
        self._assess = [_assessor(d) for d in detectors]
        self._learn = [_learner(d) for d in detectors]
        self.new_endpoint = new_endpoint
        self.starts = starts
        self.keys: list[SeriesKey] = []
        self.states: list[list[Any]] = []  # per series, one state per detector
        self.birth: list[int] = []  # first window index with traffic
        # Per series, whether its route has a placeholder (an object id): clients' walks
        # over such routes are counted for object_enumeration. Derived from the keys.
        self.id_bearing: list[bool] = []
        self.last: list[int] = []  # last window index evaluated
        self.awake: set[int] = set()  # evaluated even in empty windows
        self.sid_of: dict[SeriesKey, int] = {}
        self.by_service: dict[str, list[SeriesKey]] = {}
        self.path_cache: dict[PathKey, int] = {}
        self.path_cache_bytes = 0  # bounded by PATH_CACHE_BYTES
        self.cache_drops = 0  # times the path cache was emptied (resolve_misses stops at one)
        # Raw paths (as path_cache keys) that request analysis must see whatever
        # their query: decided once per path, when it is first resolved.
        self.odd_paths: set[PathKey] = set()
        self._gen = templater.generation

    def resolve(self, pk: PathKey, widx: int, ts: float) -> int:
        """The series id of a raw path missing from :attr:`path_cache` (cached now)."""
        svc, method, path = pk
        self.starts.seen(svc, ts)  # its first event: new services miss the path cache
        route = self.templater.template(svc, path)
        gen = self.templater.generation
        if (
            gen != self._gen  # learned collapse changed templates: cached mappings are stale
            or len(self.path_cache) >= PATH_CACHE_MAX
            or self.path_cache_bytes >= PATH_CACHE_BYTES
        ):
            self._gen = gen
            self._drop_cache()
        if method not in _PLAIN_METHODS or (
                _SUSPICIOUS_CHAR.search(path) is not None
                and _SUSPICIOUS_PATH.search(path) is not None):
            self.odd_paths.add(pk)  # (a method a route may never have answered, too)
        if method not in KNOWN_METHODS:
            method = "OTHER"
        # A plain tuple finds its SeriesKey (equal, same hash): a new raw path of a
        # known series (most path cache misses) builds none.
        sid_of: dict[Any, int] = self.sid_of
        sid = sid_of.get((svc, method, route))
        if sid is None:
            sid = self._series_of(SeriesKey(svc, method, route), widx)
        self.path_cache[pk] = sid
        self.path_cache_bytes += sys.getsizeof(path) + PATH_ENTRY_BYTES
        return sid

    def resolve_misses(self, pks: Sequence[PathKey], todo: Iterable[int],
                       widx: Sequence[float], ts: Sequence[float],
                       sids: list[int | None], odd: list[bool] | None = None) -> int:
        """:meth:`resolve` for ``pks[k]``, ``k`` in ``todo`` (in order; those cached by an
        earlier one meanwhile are looked up), into ``sids[k]`` (and whether the path is
        in :attr:`odd_paths` then into ``odd[k]``): the batch path's misses (bench: a
        third of all events carry a raw path never seen). Returns the first ``k`` whose
        resolution dropped the cache (what was looked up before it may be stale), else -1.

        >>> from detector.config import DetectorSettings
        >>> from detector.detectors.registry import build
        >>> made = build(DetectorSettings())
        >>> ix = SeriesIndex(RouteTemplater(), made.series, made.traffic, made.new_endpoint,
        ...                  ServiceStarts())
        >>> pks = [("shop", "GET", "/items/1"), ("shop", "GET", "/items/2"),
        ...        ("shop", "GET", "/items/1")]
        >>> sids = [None, None, None]
        >>> ix.resolve_misses(pks, [0, 1, 2], [0.0] * 3, [1.0, 2.0, 3.0], sids), sids
        (-1, [0, 0, 0])
        """
        pc = self.path_cache
        odd_paths = self.odd_paths
        resolve = self.resolve
        drops = self.cache_drops
        for k in todo:
            pk = pks[k]
            sid = pc.get(pk)
            if sid is None:
                sid = resolve(pk, int(widx[k]), ts[k])
            sids[k] = sid
            if odd is not None:
                odd[k] = pk in odd_paths
            if self.cache_drops != drops:
                return k
        return -1

    def _series_of(self, key: SeriesKey, widx: int) -> int:
        """The series of a key not indexed yet: a new one, or the overflow's."""
        if len(self.keys) >= MAX_SERIES:
            key = SeriesKey(key.service, key.method, "/{overflow}")
            sid = self.sid_of.get(key)
            if sid is not None:
                return sid
        return self._add(key, widx)

    def _add(self, key: SeriesKey, widx: int) -> int:
        sid = len(self.keys)
        self.sid_of[key] = sid
        known = self.by_service.setdefault(key.service, [])
        self.new_endpoint.service_seen(key.service, widx)
        self.new_endpoint.series_born(key, widx, known)
        known.append(key)
        self.keys.append(key)
        self.id_bearing.append(_has_id(key.route))
        self.states.append([d.new_state() for d in self.detectors])
        self.birth.append(widx)
        self.last.append(widx - 1)
        self.awake.add(sid)
        return sid

    def _drop_cache(self) -> None:
        self.cache_drops += 1
        self.path_cache.clear()
        self.odd_paths.clear()
        self.path_cache_bytes = 0

    def check_window(self, w: int, start: float, end: float, series: dict[int, list[Any]],
                     coverage: Callable[[str], float],
                     deployed: Callable[[str], float | None] = lambda _s: None,
                     muted: frozenset[str] = frozenset(),
                     forgiven: Callable[[Signal], bool] | None = None) -> list[Signal]:
        """Run the window detectors (and new-endpoint watch) over window ``w``'s series.

        ``deployed(service)`` is the event time of the service's latest deployment at
        or before the window's end (None when none is known). The series of ``muted``
        services (in a maintenance window) are left to :meth:`check_muted`. A window
        whose signals are all ``forgiven`` (a false positive's rule says so) is learned as
        a normal one; its signals are raised all the same.
        """
        signals: list[Signal] = []
        assessors, learners = self._assess, self._learn
        traffic = self.traffic
        keys = self.keys
        last_eval = self.last
        watch = self.new_endpoint.watch
        # Series with traffic in this window, plus those whose silence could mean
        # a drop; quiet low-volume series sleep and catch up in closed form.
        per_service: dict[str, int] = {}
        for sid, counted in series.items():
            svc = keys[sid].service
            per_service[svc] = per_service.get(svc, 0) + counted[COUNT]
        for sid in sorted(self.awake.union(series)):
            if self.birth[sid] > w or (muted and keys[sid].service in muted):
                continue
            key = keys[sid]
            stats = series.get(sid)
            states = self.states[sid]
            gap = w - last_eval[sid] - 1
            if gap > 0:
                traffic.skip_empty(states[TRAFFIC], gap)
            last_eval[sid] = w
            if stats is None:
                # Only the traffic detector has something to learn from silence.
                win = SeriesWindow(key, start, end, _EMPTY, coverage(key.service),
                                   deployed(key.service), per_service.get(key.service, 0))
                sig = traffic.check(states[TRAFFIC], win)
                traffic.learn(states[TRAFFIC], win,
                              sig is not None and (forgiven is None or not forgiven(sig)))
            else:
                win = SeriesWindow(key, start, end, stats, coverage(key.service),
                                   deployed(key.service), per_service.get(key.service, 0))
                sig = None
                found = [assess(st, win) for assess, st in zip(assessors, states, strict=True)]
                # A window anomalous in any respect is learned by no baseline of
                # the series: stuffing traffic must not teach the latency baseline.
                anomalous = any(f is not None and (forgiven is None or not forgiven(f))
                                for f, _memo in found)
                for learn, st, (f, memo) in zip(learners, states, found, strict=True):
                    learn(st, win, anomalous, memo)
                    if f is not None:
                        signals.append(f)
            if sig is not None:
                signals.append(sig)
            if stats is not None and key in watch:
                ok = stats[COUNT] - stats[S5XX] - stats[S4XX] - stats[SAUTH] - stats[S404]
                sig = self.new_endpoint.on_window(key, w, start, end, stats[COUNT], ok,
                                                  list(stats[SAMPLES]), win.deploy)
                if sig is not None:
                    signals.append(sig)
            if traffic.dormant(states[TRAFFIC], end):
                self.awake.discard(sid)
            else:
                self.awake.add(sid)
        return signals

    def check_muted(self, w: int, start: float, end: float, series: dict[int, list[Any]],
                    coverage: Callable[[str], float],
                    deployed: Callable[[str], float | None],
                    muted: frozenset[str]) -> list[Signal]:
        """What the detectors find in the ``muted`` services' series of window ``w`` (in a
        maintenance window): judged (``check`` is pure), learned by none. Kept apart, as
        suppressed incidents; the series then resume as if window ``w`` never existed."""
        signals: list[Signal] = []
        keys = self.keys
        per_service: dict[str, int] = {}
        for sid, st in series.items():
            if keys[sid].service in muted:
                per_service[keys[sid].service] = per_service.get(keys[sid].service, 0) + st[COUNT]
        for sid in sorted(series):
            key = keys[sid]
            if key.service not in muted or self.birth[sid] > w:
                continue
            win = SeriesWindow(key, start, end, series[sid], coverage(key.service),
                               deployed(key.service), per_service.get(key.service, 0))
            for det, st in zip(self.detectors, self.states[sid], strict=True):
                found = det.check(st, win)
                if found is not None:
                    signals.append(found)
        for svc in sorted(muted):
            for key in self.by_service.get(svc, ()):
                sid = self.sid_of[key]
                if self.birth[sid] > w:
                    continue
                # What came before window w is accounted as usual (a sleeping series'
                # empty windows); then the series counts as evaluated at w.
                gap = w - self.last[sid] - 1
                if gap > 0:
                    self.traffic.skip_empty(self.states[sid][TRAFFIC], gap)
                self.last[sid] = w
        return signals

    # ---- state (detector.state.component): the path cache is not kept, it refills ----
    STATE_VERSION = 1
    _STATE = ("keys", "states", "birth", "last", "awake", "sid_of", "by_service")

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        what = "series"
        assign(self, unstamp(data, self.STATE_VERSION, {}, what), self._STATE, what)
        self.id_bearing = [_has_id(k.route) for k in self.keys]
        # A detector added since the snapshot was written starts fresh on every series.
        for states in self.states:
            for det in self.detectors[len(states):]:
                states.append(det.new_state())
        self._drop_cache()
        self._gen = self.templater.generation
