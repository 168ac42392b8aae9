"""object_enumeration: a client, or a few sharing the work, walking a route's object ids.

BOLA/IDOR probing asks an id-bearing route (``/v1/orders/{id}``) for object
after object. Clients normally touch a handful of ids per hour; a walker
touches hundreds. Each window, the ids every client asked for on each
id-bearing route are added to that client's walk on the route (kept over
about an hour, bounded: :class:`~detector.detectors.object_walk.ObjectWalk`).

A walk is raised when its distinct ids reach ``max(MIN_IDS, 3 x`` the route's
95th percentile of what unflagged tracked clients touch per hour: tracked
clients are already the heavy few, so this is far above what clients do), and the ids
look guessed rather than given: numeric ids in small steps or densely filling
their range, or a walk concentrated on this route that keeps missing (404) now
and then. Mostly 2xx: a client missing more often than not probes for paths
(scanning), it does not read objects.
A crawler following links touches existing objects (no misses) and spreads
over many routes; it is no enumeration. Several clients whose dense numeric
walks on one route overlap in range make one route-keyed incident (a
distributed walk), naming the participants, instead of one per client.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple

from detector.config import DetectorSettings
from detector.detectors.base import SeriesKey, Signal, score_from_p
from detector.detectors.object_walk import ObjectWalk, id_segment
from detector.kinds import Kind
from detector.state.component import stamp, unstamp
from detector.windows.stats import (
    C_404,
    C_AUTH,
    C_COUNT,
    C_OBJ,
    C_SAMPLES,
    C_SCANPATHS,
    client_objects,
)

HORIZON = 3600.0  # seconds a walk adds up over before it is judged as one client-hour
IDLE = 15 * 60.0  # a walk with no request on its route for this long is over
TRACK_MIN = 3  # distinct ids in one window that start a walk's tracking
MAX_TRACKED = 20_000  # (service, client, route) walks tracked at once
MIN_IDS = 50  # never fewer distinct ids than this for one client
SHARED_MIN_IDS = 20  # each participant of a distributed walk
MAX_SHARED = 10  # "a few clients sharing the work": more is a crowd, not one walker
SHARE_MIN = 0.5  # concentration: the route's share of the client's requests
SEQUENTIAL_MIN = 0.5
DENSE_MIN = 0.2  # distinct numeric ids over their range
SHARED_DENSE = 0.02  # the union of a distributed walk's ranges, still filling up
FORMING_DENSE = 0.005  # a union this dense is no coincidence (clients' ids: ~1e-5)
NUMERIC_MIN = 0.8  # share of a walk's requests with numeric ids, to judge steps or density
MISS_MIN = 0.03  # a concentrated walk missing this often is guessing...
MISS_FACTOR = 3.0  # ... and this many times more often than the route's clients do
# Before a route's clients are learned: about what MISS_FACTOR makes of the 2-3 % of
# 404s clients get (a batch job reading 60 random orders misses ~3 % of them).
MISS_UNLEARNED = 0.06
FAIL_MAX = 0.5  # a client failing more often than not scans for paths (scanning)
NORMAL_KEEP = 64  # client-hours remembered per route
NORMAL_ROUTES = 10_000  # routes with a learned normal
NORMAL_MIN = 5  # client-hours before a route's normal counts
NORMAL_Q = 0.95
# Times the route's 95th percentile client-hour. Only clients touching several ids
# in a window are tracked, so that percentile is the top of the heavy tail (on the
# simulator's payments route: median 24, p95 126 ids per hour, random ids); a
# heavy client's ids do not look guessed, so the guessing tests carry the rest.
FACTOR = 3.0


class ObjectWindow(NamedTuple):
    """One closed window of client counters, and the series keys to name routes."""

    start: float
    end: float
    clients: dict[tuple[str, str], list[Any]]
    keys: Sequence[SeriesKey]
    # Per series, the index of its first window with traffic (SeriesIndex.birth); empty:
    # unknown. A route younger than the warm-up has no population to compare a client with.
    born: Sequence[int] = ()
    # (service, client) of the clients attacking now (request analysis: attack payloads):
    # their walks are part of the attack campaign, whose attack_payload incident reports them.
    attackers: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset()
    # The clients with id-bearing requests worth a look, in window order, when the caller
    # already found them (pipeline.client_subsets): a superset of what :func:`_groups` keeps.
    walkers: dict[tuple[str, str], list[Any]] | None = None


WalkKey = tuple[str, str, int]  # service, client, series id


def _groups(x: ObjectWindow, tracked: dict[tuple[str, str], int]
            ) -> list[tuple[tuple[str, str], int, list[str]]]:
    """(client key, series id, raw paths in arrival order) worth looking at this window."""
    out: list[tuple[tuple[str, str], int, list[str]]] = []
    for ck, st in (x.walkers if x.walkers is not None else x.clients).items():
        raw = st[C_OBJ] if len(st) > C_OBJ else None
        if raw is None or (raw.__class__ is not list and ck not in tracked):
            continue  # no id-bearing request, or a single one of an untracked client
        objs = client_objects(st)
        if len(objs) < TRACK_MIN and ck not in tracked:
            continue
        by_sid: dict[int, list[str]] = {}
        for sid, path in objs:
            lst = by_sid.get(sid)
            if lst is None:
                by_sid[sid] = [path]
            else:
                lst.append(path)
        out.extend((ck, sid, paths) for sid, paths in by_sid.items())
    return out


class ObjectEnumerationDetector:
    """Clients walking far more object ids on one route than clients do.

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.base import SeriesKey
    >>> det = ObjectEnumerationDetector(DetectorSettings())
    >>> keys = [SeriesKey("shop", "GET", "/v1/orders/{id}")]
    >>> sigs = []
    >>> for w in range(5):
    ...     objs = [(0, f"/v1/orders/{1000 + 30 * w + i}") for i in range(30)]
    ...     sigs = det.check_window({("shop", "6.6.6.6"): [31, 0, 0, None, None, None, objs]},
    ...                             keys, 60.0 * w, 60.0 * w + 60)
    >>> sigs[0].kind, sigs[0].client, round(sigs[0].observed, -1)  # a sketch beyond 32 ids
    ('object_enumeration', '6.6.6.6', 150.0)
    """

    kinds: tuple[Kind, ...] = ("object_enumeration",)

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self._walks: dict[WalkKey, ObjectWalk] = {}
        self._tracked: dict[tuple[str, str], int] = {}  # walks per (service, client)
        # series id -> (distinct ids, 404 share) of recent unflagged client-hours there
        self._normal: dict[int, deque[tuple[int, float]]] = {}
        # walks of clients seen attacking: held for the walk's life, never raised
        self._held: set[WalkKey] = set()

    def check_window(self, clients: dict[tuple[str, str], list[Any]], keys: Sequence[SeriesKey],
                     start: float, end: float, born: Sequence[int] = (),
                     attackers: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(),
                     walkers: dict[tuple[str, str], list[Any]] | None = None,
                     ) -> list[Signal]:
        """The pipeline's step for one closed window: judge it, then learn it (``walkers``:
        see :class:`ObjectWindow`)."""
        x = ObjectWindow(start, end, clients, keys, born, attackers, walkers)
        sigs, flagged, views = self._judge(x)
        self._apply(x, flagged, views)
        return sigs

    def check(self, x: ObjectWindow) -> list[Signal]:
        """Signals for one window: each walk with this window's ids added (pure)."""
        return self._judge(x)[0]

    @property
    def tracked_clients(self) -> dict[tuple[str, str], int]:
        """Walks per (service, client) followed now (read only: the walkers' filter)."""
        return self._tracked

    def learn(self, x: ObjectWindow) -> None:
        """Add the window to the walks; finished unflagged walks teach the route's normal."""
        _, flagged, views = self._judge(x)
        self._apply(x, flagged, views)

    # ---- judging ------------------------------------------------------------------
    def threshold(self, sid: int) -> tuple[int, float | None]:
        """(distinct ids that make a walk, the route's normal per client-hour or None)."""
        hist = self._normal.get(sid)
        if hist is None or len(hist) < NORMAL_MIN:
            return MIN_IDS, None
        vals = sorted(n for n, _ in hist)
        q = float(vals[min(len(vals) - 1, int(NORMAL_Q * len(vals)))])
        return max(MIN_IDS, round(FACTOR * q)), q

    def miss_floor(self, sid: int) -> float:
        """The 404 share that makes a concentrated walk a guessing one on this route."""
        hist = self._normal.get(sid)
        if hist is None or len(hist) < NORMAL_MIN:
            return MISS_UNLEARNED
        return max(MISS_MIN, MISS_FACTOR * sum(m for _, m in hist) / len(hist))

    def _judge(self, x: ObjectWindow
               ) -> tuple[list[Signal], set[WalkKey], dict[WalkKey, ObjectWalk]]:
        views: dict[WalkKey, ObjectWalk] = {}
        room = MAX_TRACKED - len(self._walks)
        for ck, sid, paths in _groups(x, self._tracked):
            idx = id_segment(x.keys[sid].route)
            if idx is None or idx <= 1:
                continue  # "/{id}": unrelated top-level paths folded together, no objects
            key = (ck[0], ck[1], sid)
            old = self._walks.get(key)
            if old is None:
                if len(set(paths)) < TRACK_MIN or room <= 0:
                    continue
                room -= 1
                w = ObjectWalk(x.start)
            else:
                w = old.copy()
                if not w.flagged and w.first + HORIZON <= x.start:
                    w = ObjectWalk(x.start)  # a new client-hour
            st = x.clients[ck]
            w.add_window(x.end, paths, idx, int(st[C_COUNT]), st[C_SCANPATHS] or (),
                         int(st[C_404]) + int(st[C_AUTH]), int(st[C_404]))
            views[key] = w
        sigs: list[Signal] = []
        flagged: set[WalkKey] = set()
        if x.born and x.end > x.start:
            now = int(x.start // (x.end - x.start))
            young = self.s.warmup_windows
            views = {k: w for k, w in views.items()
                     if k[2] >= len(x.born) or now - x.born[k[2]] >= young}
        # A client attacking the service (payloads in the id segment, a fuzzer's random
        # ids) touches many ids as a side effect: one campaign, one incident, the attack's.
        attacked = {k for k in views if k in self._held or (k[0], k[1]) in x.attackers}
        flagged.update(attacked)
        walking = {k: w for k, w in views.items() if k not in attacked}
        campaigns, forming = self._campaigns(x, walking)
        held = forming | attacked | {k for members in campaigns.values() for k in members}
        for sid, members in sorted(campaigns.items()):
            sigs.append(self._route_signal(x, sid, members, views))
            flagged.update(members)
        limits: dict[int, tuple[int, float | None]] = {}
        for key, w in views.items():
            if key in held:  # one campaign, one incident: never one per participant
                continue
            sid = key[2]
            lim = limits.get(sid)
            if lim is None:
                lim = limits[sid] = self.threshold(sid)
            thr, normal = lim
            if (w.distinct() >= thr and w.fail_share() < FAIL_MAX
                    and _guessed(w, self.miss_floor(key[2]))):
                sigs.append(self._client_signal(x, key, w, thr, normal))
                flagged.add(key)
        return sigs, flagged, views

    def _campaigns(self, x: ObjectWindow, views: dict[WalkKey, ObjectWalk]
                   ) -> tuple[dict[int, list[WalkKey]], set[WalkKey]]:
        """Per route, the clients whose numeric walks share one range: a distributed walk.

        A walk shuffled over a range fills it as it goes, so the union's density
        starts low: a group whose union is already far denser than clients' ids
        (``FORMING_DENSE``) is held back from per-client signals, and confirmed
        once it adds up to the threshold at ``SHARED_DENSE``, or has two members
        each past the threshold on their own. Returns (confirmed, held back).
        """
        forming: set[WalkKey] = set()
        by_sid: dict[int, list[WalkKey]] = {}
        for key, w in views.items():
            if _shares(w):
                by_sid.setdefault(key[2], []).append(key)
        out: dict[int, list[WalkKey]] = {}
        for sid, active in sorted(by_sid.items()):
            # Partners not active in this very window still belong to the walk.
            members = set(active)
            for key, w in self._walks.items():
                if (key[2] == sid and key not in members and key not in self._held
                        and x.end - w.last <= IDLE and _shares(w)):
                    members.add(key)
            if len(members) < 2 or len(members) > MAX_SHARED:
                continue  # a crowd on one dense range is a small catalogue its users read
            walks = [views.get(k) or self._walks[k] for k in members]
            lo = min(w.lo for w in walks)
            hi = max(w.hi for w in walks)
            counts = [w.distinct() for w in walks]
            density = sum(counts) / max(hi - lo + 1, 1)
            if density < FORMING_DENSE:
                continue  # walkers in far-apart ranges: each one its own walk
            thr, _ = self.threshold(sid)
            if (sum(counts) >= thr and density >= SHARED_DENSE) or sum(
                    c >= thr for c in counts) >= 2:
                out[sid] = sorted(members)
            else:
                forming.update(members)
        return out, forming

    # ---- signals ------------------------------------------------------------------
    def _client_signal(self, x: ObjectWindow, key: WalkKey, w: ObjectWalk, thr: int,
                       normal: float | None) -> Signal:
        rk = x.keys[key[2]]
        n = w.distinct()
        p = min(1.0, 10.0 ** (-n / 20.0))
        st = x.clients[(key[0], key[1])]
        return Signal(kind="object_enumeration", service=key[0], route=rk.route,
                      method=rk.method, client=key[1], start=x.start, end=x.end,
                      score=score_from_p(p), observed=float(n),
                      baseline=float(normal if normal is not None else 0.0),
                      requests=w.requests, p_value=p, extra=_evidence(w, x.end, thr, normal),
                      samples=list(st[C_SAMPLES] or []))

    def _route_signal(self, x: ObjectWindow, sid: int, members: list[WalkKey],
                      views: dict[WalkKey, ObjectWalk]) -> Signal:
        rk = x.keys[sid]
        walks = [views.get(k) or self._walks[k] for k in members]
        n = sum(w.distinct() for w in walks)
        requests = sum(w.requests for w in walks)
        thr, normal = self.threshold(sid)
        lo, hi = min(w.lo for w in walks), max(w.hi for w in walks)
        p = min(1.0, 10.0 ** (-n / 20.0))
        extra = {
            "distinct_ids": n,
            "requests": requests,
            "participants": [k[1] for k in members][:20],
            "clients": len(members),
            "id_range": [lo, hi],
            "density": round(min(1.0, n / max(hi - lo + 1, 1)), 4),
            "not_found_share": round(sum(w.misses for w in walks) / max(requests, 1), 4),
            "horizon_seconds": x.end - min(w.first for w in walks),
            "threshold": thr,
            "normal_per_client_hour": normal,
        }
        return Signal(kind="object_enumeration", service=rk.service, route=rk.route,
                      method=rk.method, client=None, start=x.start, end=x.end,
                      score=score_from_p(p), observed=float(n),
                      baseline=float(normal if normal is not None else 0.0), requests=requests,
                      p_value=p, extra=extra, samples=[])

    # ---- learning -----------------------------------------------------------------
    def _apply(self, x: ObjectWindow, flagged: set[WalkKey],
               views: dict[WalkKey, ObjectWalk]) -> None:
        walks, tracked = self._walks, self._tracked
        for key, w in views.items():
            old = walks.get(key)
            if old is not None and old is not w and w.first != old.first:
                self._remember(key[2], old)  # its client-hour ended: a normal sample
            if old is None:
                tracked[(key[0], key[1])] = tracked.get((key[0], key[1]), 0) + 1
            w.flagged = w.flagged or key in flagged
            walks[key] = w
            if (key[0], key[1]) in x.attackers:
                self._held.add(key)
        for key in [k for k, w in walks.items() if x.end - w.last > IDLE]:
            self._held.discard(key)
            self._remember(key[2], walks.pop(key))
            ck = (key[0], key[1])
            left = tracked[ck] - 1
            if left:
                tracked[ck] = left
            else:
                del tracked[ck]

    def _remember(self, sid: int, w: ObjectWalk) -> None:
        """A finished walk that raised nothing: what clients do on the route."""
        if w.flagged:
            return
        hist = self._normal.get(sid)
        if hist is None:
            if len(self._normal) >= NORMAL_ROUTES:
                del self._normal[next(iter(self._normal))]
            hist = self._normal[sid] = deque(maxlen=NORMAL_KEEP)
        hist.append((w.distinct(), round(w.miss_share(), 4)))

    @property
    def tracked(self) -> int:
        """Walks tracked now (bounded by MAX_TRACKED)."""
        return len(self._walks)

    # ---- state (detector.state.component) ----
    STATE_VERSION = 2
    # Version 1 had no held walks.
    MIGRATIONS = {1: lambda d: {**d, "held": set()}}

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, {"walks": self._walks, "tracked": self._tracked,
                                          "normal": self._normal, "held": self._held})

    def restore(self, data: Any) -> None:
        st = unstamp(data, self.STATE_VERSION, self.MIGRATIONS, "object_enumeration")
        self._walks, self._tracked, self._normal = st["walks"], st["tracked"], st["normal"]
        self._held = st["held"]


def _shares(w: ObjectWalk) -> bool:
    """Whether a walk may be one participant's part of a distributed walk: enough
    numeric ids, far denser than clients' own ids (a share of one walk's range)."""
    return (w.distinct() >= SHARED_MIN_IDS and w.numeric_share() >= NUMERIC_MIN
            and w.density() >= FORMING_DENSE and w.fail_share() < FAIL_MAX)


def _guessed(w: ObjectWalk, miss_floor: float = MISS_MIN) -> bool:
    """Whether the ids look guessed (a walk by increment, a dense range, or concentrated
    misses) rather than given (links a crawler follows lead to objects that exist)."""
    if w.numeric_share() >= NUMERIC_MIN and (
        w.sequential_share() >= SEQUENTIAL_MIN or w.density() >= DENSE_MIN
    ):
        return True
    return w.route_share() >= SHARE_MIN and w.miss_share() >= miss_floor


def _evidence(w: ObjectWalk, end: float, thr: int, normal: float | None) -> dict[str, Any]:
    return {
        "distinct_ids": w.distinct(),
        "requests": w.requests,
        "not_found_share": round(w.miss_share(), 4),
        "id_range": [w.lo, w.hi] if w.numeric else None,
        "density": round(w.density(), 4),
        "sequential_share": round(w.sequential_share(), 4),
        "numeric_share": round(w.numeric_share(), 4),
        "route_share": round(w.route_share(), 4),
        "horizon_seconds": end - w.first,
        "threshold": thr,
        "normal_per_client_hour": normal,
    }
