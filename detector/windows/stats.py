"""Fixed-size per-window statistics: counters and a log-spaced latency histogram.

Window stats are plain lists (indexed by the constants below) because they are
updated once per event on the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from detector.events import PATH

if TYPE_CHECKING:
    from detector.events import AccessEvent

# Series window layout:
# [count, 5xx, other 4xx, 401/403, 404, timed, hist, samples, err_samples, latest event time]
COUNT, S5XX, S4XX, SAUTH, S404, TIMED, HIST, SAMPLES, ERR_SAMPLES, LATEST = range(10)
# Client window layout:
# [count, auth failures, 404s, failure routes {route: n}, samples, distinct 404 paths]
C_COUNT, C_AUTH, C_404, C_ROUTES, C_SAMPLES, C_SCANPATHS = range(6)
SCAN_PATHS_CAP = 256  # distinct missing paths kept per client window

# Latency buckets: 0.5 ms .. ~160 s, each 20 % wider than the previous one, so
# a quantile read from the histogram is within ~10 % of the true value.
_RATIO = 1.2
BOUNDS: list[float] = [0.0005 * _RATIO**i for i in range(70)]
NBUCKETS = len(BOUNDS) + 1
SAMPLE_KEEP = 2  # first requests kept per series window, as incident samples


def new_series_stats() -> list[object]:
    return [0, 0, 0, 0, 0, 0, [0] * NBUCKETS, [], [], -math.inf]


def bucket_value(i: int) -> float:
    """A representative latency (geometric middle) for bucket ``i``."""
    if i <= 0:
        return BOUNDS[0] / 2
    if i >= len(BOUNDS):
        return BOUNDS[-1] * _RATIO
    return math.sqrt(BOUNDS[i - 1] * BOUNDS[i])


def quantile(hist: Sequence[float], q: float) -> float | None:
    """Quantile ``q`` of a histogram; None when it is empty.

    >>> h = [0] * NBUCKETS
    >>> h[20] = 10
    >>> round(quantile(h, 0.5), 4) == round(bucket_value(20), 4)
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
            return bucket_value(i)
    return bucket_value(len(hist) - 1)


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


def new_client_stats() -> list[Any]:
    """A client window with its first request counted."""
    return [1, 0, 0, None, None, None]


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
