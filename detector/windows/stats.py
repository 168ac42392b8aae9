"""Fixed-size per-window statistics: counters and a log-spaced latency histogram.

Window stats are plain lists (indexed by the constants below) because they are
updated once per event on the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from detector.events import PATH, TS, VERSION

if TYPE_CHECKING:
    from detector.events import AccessEvent

# Series window layout:
# [count, 5xx, other 4xx, 401/403, 404, timed, hist, samples, err_samples, latest event time,
#  401 alone, response-size histogram of 2xx (None until one), user agents {ua: n},
#  the version of the window's first request, per-version stats of requests of other
#  versions {version: V_* layout} (None until one), user agents of the other-4xx answers
#  {ua: n} (None until one)]
(COUNT, S5XX, S4XX, SAUTH, S404, TIMED, HIST, SAMPLES, ERR_SAMPLES, LATEST, S401, BYTES, UAS,
 VER0, VERS, UA4XX) = range(16)
SERIES_SLOTS = 16
# Per-version stats inside VERS: [count, 5xx, other 4xx, 401/403, timed, hist, size hist,
# 404] (V_404 is missing from windows of snapshots written before it existed: use slot())
V_COUNT, V_5XX, V_4XX, V_AUTH, V_TIMED, V_HIST, V_BYTES, V_404 = range(8)
# Client window layout:
# [count, auth failures, 404s, failure routes {route: n}, samples, distinct 404 paths,
#  requests on id-bearing routes, the series id of the first of them, requests per series]
# C_OBJ is None until one such request, then the first request's (service, method, raw
# path) key with its series id in C_OBJ_SID (no allocation: most client windows hold one
# request), then from the second a list [(series id, raw path)]: read it through
# :func:`client_objects`. C_SERIES is the series id of the client's requests while they
# are all on one series (no allocation), then {series id: requests} from its second series
# on: read it through :func:`client_series`.
C_COUNT, C_AUTH, C_404, C_ROUTES, C_SAMPLES, C_SCANPATHS, C_OBJ, C_OBJ_SID, C_SERIES = range(9)
CLIENT_SLOTS = 9
SCAN_PATHS_CAP = 256  # distinct missing paths kept per client window
OBJ_CAP = 4096  # id-bearing requests kept per client window (a flood is not kept whole)

# Response sizes (bytes) of successful answers: quarter-octave buckets (each ~19 %
# wider than the one before), from the bit length, so the hot path needs no bisect.
# Sizes 1-3 have buckets 1-3; from 4 bytes on, bucket (bit_length << 2) | next two bits.
NB_BYTES = 4 * 64 + 4

# Latency buckets: 0.5 ms .. ~160 s, each 20 % wider than the previous one, so
# a quantile read from the histogram is within ~10 % of the true value.
_RATIO = 1.2
BOUNDS: list[float] = [0.0005 * _RATIO**i for i in range(70)]
NBUCKETS = len(BOUNDS) + 1
SAMPLE_KEEP = 2  # first requests kept per series window, as incident samples


def new_series_stats() -> list[object]:
    return [0, 0, 0, 0, 0, 0, [0] * NBUCKETS, [], [], -math.inf, 0, None, {}, None, None, None]


def first_series_stats(ev: AccessEvent) -> list[Any]:
    """A series window opened by ``ev``, nothing counted yet: ``ev`` its first sample,
    its time the latest, its version the window's first (the per-event hot path builds
    the same list inline)."""
    return [0, 0, 0, 0, 0, 0, [0] * NBUCKETS, [ev], [], ev[TS], 0, None, {}, ev[VERSION],
            None, None]


def new_version_stats() -> list[Any]:
    """Per-version stats of one series window (the V_* layout)."""
    return [0, 0, 0, 0, 0, [0] * NBUCKETS, None, 0]


def size_bucket(nbytes: int) -> int:
    """The response-size bucket of ``nbytes`` (> 0); the hot path inlines this.

    >>> [size_bucket(n) for n in (1, 3, 4, 7, 8, 1200, 1300, 9000)]
    [1, 3, 12, 15, 16, 44, 45, 56]
    >>> size_bucket(1 << 70) == NB_BYTES - 1
    True
    """
    bl = nbytes.bit_length()
    i = (bl << 2) | ((nbytes >> (bl - 3)) & 3) if bl > 2 else nbytes
    return i if i < NB_BYTES else NB_BYTES - 1


def size_bounds(i: int) -> tuple[float, float]:
    """The sizes ``[low, high)`` bucket ``i`` holds.

    >>> size_bounds(44), size_bounds(2)
    ((1024.0, 1280.0), (2.0, 3.0))
    """
    if i < 4:
        return float(i), float(i + 1)
    bl, frac = i >> 2, i & 3
    return float((4 + frac) << (bl - 3)), float((5 + frac) << (bl - 3))


def size_value(i: int) -> float:
    """A representative size (geometric middle) of bucket ``i``."""
    lo, hi = size_bounds(i)
    return math.sqrt(lo * hi) if lo > 0 else 0.0


def slot(stats: Sequence[Any], i: int) -> Any:
    """``stats[i]``, or None for a window from a snapshot written before slot ``i`` existed."""
    return stats[i] if len(stats) > i else None


def pad_series(stats: list[Any]) -> list[Any]:
    """A series window from an older snapshot, grown to today's layout (in place)."""
    if len(stats) < SERIES_SLOTS:
        stats.extend(new_series_stats()[len(stats):])
    return stats


def pad_client(stats: list[Any]) -> list[Any]:
    """A client window from an older snapshot, grown to today's layout (in place)."""
    if len(stats) < CLIENT_SLOTS:
        stats.extend([None] * (CLIENT_SLOTS - len(stats)))
    return stats


def bucket_value(i: int) -> float:
    """A representative latency (geometric middle) for bucket ``i``."""
    if i <= 0:
        return BOUNDS[0] / 2
    if i >= len(BOUNDS):
        return BOUNDS[-1] * _RATIO
    return math.sqrt(BOUNDS[i - 1] * BOUNDS[i])


def hist_quantile(hist: Sequence[float], q: float,
                  value_of: Callable[[int], float]) -> float | None:
    """Quantile ``q`` of any histogram, as ``value_of(bucket)``; None when it is empty.

    >>> hist_quantile([0, 5, 5], 0.5, float), hist_quantile([0, 5, 5], 0.9, float)
    (1.0, 2.0)
    >>> hist_quantile([0, 0], 0.5, float) is None
    True
    """
    total = sum(hist)
    if total <= 0:
        return None
    target = q * total
    acc = 0.0
    for i, c in enumerate(hist):
        acc += c
        if acc >= target and c > 0:
            return value_of(i)
    return value_of(len(hist) - 1)


def latency_bounds(i: int) -> tuple[float, float]:
    """The durations (seconds) latency bucket ``i`` holds, ``[low, high)``.

    >>> latency_bounds(0)[0] == BOUNDS[0] / 2, latency_bounds(1) == (BOUNDS[0], BOUNDS[1])
    (True, True)
    """
    lo = BOUNDS[i - 1] if i > 0 else BOUNDS[0] / 2
    hi = BOUNDS[i] if i < len(BOUNDS) else BOUNDS[-1] * _RATIO
    return lo, hi


def sparse_quantile(hist: dict[int, int], q: float,
                    bounds_of: Callable[[int], tuple[float, float]] = latency_bounds
                    ) -> float | None:
    """Quantile ``q`` of a sparse histogram ``{bucket: n}``, interpolated geometrically
    inside its bucket (``bounds_of``: latency buckets by default, :func:`size_bounds` for
    sizes), so per-window values move smoothly, not in 20 % bucket steps.

    >>> sparse_quantile({}, 0.5) is None
    True
    >>> 0.009 < sparse_quantile({20: 10}, 0.5) < 0.02
    True
    """
    total = sum(hist.values())
    if total <= 0:
        return None
    target = q * total
    acc = 0
    for i in sorted(hist):
        c = hist[i]
        if acc + c >= target:
            lo, hi = bounds_of(i)
            lo = max(lo, 1e-9)
            return float(lo * (hi / lo) ** ((target - acc) / c))
        acc += c
    return float(bounds_of(max(hist))[1])  # float rounding only


def quantile(hist: Sequence[float], q: float) -> float | None:
    """Quantile ``q`` of a latency histogram; None when it is empty.

    >>> h = [0] * NBUCKETS
    >>> h[20] = 10
    >>> round(quantile(h, 0.5), 4) == round(bucket_value(20), 4)
    True
    """
    return hist_quantile(hist, q, bucket_value)


def quantile_bucket(hist: Sequence[float], q: float) -> int:
    """Index of the bucket holding quantile ``q`` (0 when empty)."""
    total = sum(hist)
    if total <= 0:
        return 0
    target = q * total
    acc = 0.0
    for i, c in enumerate(hist):
        acc += c
        if acc >= target and c > 0:
            return i
    return len(hist) - 1


def bisect_bounds(seconds: float) -> int:
    """Histogram bucket of a duration (the hot path inlines this with bisect_right)."""
    from bisect import bisect_right

    return bisect_right(BOUNDS, seconds)


def new_client_stats(sid: int = -1) -> list[Any]:
    """A client window with its first request (on series ``sid``) counted;
    :func:`client_request` builds it inline."""
    return [1, 0, 0, None, None, None, None, -1, sid]


def client_request(clients: dict[Any, list[Any]], ck: Any, sid: int, pk: tuple[str, str, str],
                   walk: bool) -> list[Any]:
    """Count a request of client ``ck`` on series ``sid`` in its window (made on its first
    request) and return the window; ``walk``: the route bears object ids, so its raw path
    (``pk``: service, method, raw path) is kept for object_enumeration. The per-event and
    the batch paths both count through here.

    >>> w: dict[Any, list[Any]] = {}
    >>> cs = client_request(w, ("shop", "c"), 3, ("shop", "GET", "/orders/7"), True)
    >>> cs = client_request(w, ("shop", "c"), 4, ("shop", "GET", "/orders/8"), True)
    >>> cs[C_COUNT], client_series(cs, 3), client_series(cs, 4), client_objects(cs)
    (2, 1, 1, [(3, '/orders/7'), (4, '/orders/8')])
    """
    cs = clients.get(ck)
    if cs is None:
        # new_client_stats() inline (hot path): count, auth, 404, routes, samples,
        # missing paths, id-bearing requests, first id-bearing series, series of
        # the first request.
        cs = clients[ck] = [1, 0, 0, None, None, None, None, -1, sid]
    else:
        cs[C_COUNT] += 1
        # Requests per series (client_excess: a spike a few clients make is theirs):
        # a bare series id while all the client's requests are on it (C_COUNT of
        # them), a {series id: requests} dict from its second series on.
        per = cs[C_SERIES]
        if per != sid:
            if per.__class__ is dict:
                per[sid] = per.get(sid, 0) + 1
            else:  # (None: a client window of an older snapshot)
                cs[C_SERIES] = {per: cs[C_COUNT] - 1, sid: 1}
    if walk:  # object ids a client walks (object_enumeration)
        objs = cs[C_OBJ]
        if objs is None:  # the first: kept without allocating (its key tuple, C_OBJ)
            cs[C_OBJ] = pk
            cs[C_OBJ_SID] = sid
        elif objs.__class__ is list:
            if len(objs) < OBJ_CAP:
                objs.append((sid, pk[2]))
        else:
            cs[C_OBJ] = [(cs[C_OBJ_SID], objs[2]), (sid, pk[2])]
    return cs


def client_objects(cs: Sequence[Any]) -> list[tuple[int, str]]:
    """The (series id, raw path) of a client window's requests on id-bearing routes.

    >>> cs = new_client_stats(); client_objects(cs)
    []
    >>> cs[C_OBJ], cs[C_OBJ_SID] = ("shop", "GET", "/orders/7"), 3
    >>> client_objects(cs)
    [(3, '/orders/7')]
    >>> cs[C_OBJ] = [(3, "/orders/7"), (3, "/orders/8")]; len(client_objects(cs))
    2
    """
    objs = cs[C_OBJ] if len(cs) > C_OBJ else None
    if objs is None:
        return []
    if objs.__class__ is list:
        return list(objs)
    return [(cs[C_OBJ_SID], objs[2])]


def client_series(cs: Sequence[Any], sid: int) -> int:
    """The client window's requests on series ``sid`` (0 for windows of older snapshots).

    >>> cs = new_client_stats(4); cs[C_COUNT] = 2; client_series(cs, 4), client_series(cs, 5)
    (2, 0)
    >>> cs[C_COUNT], cs[C_SERIES] = 3, {4: 1, 5: 2}; client_series(cs, 5)
    2
    """
    per = cs[C_SERIES] if len(cs) > C_SERIES else None
    if per.__class__ is dict:
        return int(per.get(sid, 0))
    return int(cs[C_COUNT]) if per == sid else 0


def client_sample(cs: list[Any], ev: AccessEvent) -> None:
    """Keep the first few failing requests of a client window as incident samples."""
    samples = cs[C_SAMPLES]
    if samples is None:
        cs[C_SAMPLES] = [ev]
    elif len(samples) < 3:
        samples.append(ev)


def scan_path(cs: list[Any], path: str) -> None:
    """Remember a missing or sensitive path a client asked for (capped)."""
    paths = cs[C_SCANPATHS]
    if paths is None:
        cs[C_SCANPATHS] = {path}
    elif len(paths) < SCAN_PATHS_CAP:
        paths.add(path)


def client_failure(cs: list[Any], route: str, ev: AccessEvent) -> None:
    """An authentication failure (401/403) of the client on ``route``."""
    cs[C_AUTH] += 1
    routes = cs[C_ROUTES]
    if routes is None:
        routes = cs[C_ROUTES] = {}
    routes[route] = routes.get(route, 0) + 1
    client_sample(cs, ev)


def client_missing(cs: list[Any], ev: AccessEvent) -> None:
    """A 404 of the client: a path that scanning may be probing for."""
    cs[C_404] += 1
    scan_path(cs, ev[PATH])
    client_sample(cs, ev)
