"""One client's walk over the object ids of one route: bounded whatever the walk's size.

The ids a client touched are kept exactly while few, then in a HyperLogLog
sketch (its compact bytes: plain state for the snapshot codec). Numeric ids
(the path segment at the template's last placeholder) add a range, and how
many consecutive requests stepped by a small amount: a walk by increment.
"""

from __future__ import annotations

from collections.abc import Iterable

from datasketches import hll_sketch

EXACT_CAP = 32  # ids kept as strings; beyond, the sketch counts them
HLL_LG_K = 10  # 1,024 registers: ~3 % error, ~1 KB compact
SMALL_STEP = 16  # a numeric step of at most this is a walk, not a random pick


def id_segment(route: str) -> int | None:
    """Index of the route's last placeholder segment (the object a path names).

    >>> id_segment("/v1/orders/{id}"), id_segment("/v2/stores/{id}/inventory/{id}")
    (3, 5)
    >>> id_segment("/health") is None
    True
    """
    idx = None
    for i, seg in enumerate(route.split("/")):
        if "{" in seg:
            idx = i
    return idx


class ObjectWalk:
    """The ids one client touched on one route since ``first`` (bounded in memory).

    >>> w = ObjectWalk(0.0)
    >>> w.add_window(60.0, [f"/o/{i}" for i in range(100, 200)], 2, 120, set())
    >>> w.distinct(), w.requests, w.sequential_share(), round(w.density(), 2)
    (99, 100, 1.0, 0.99)
    """

    __slots__ = ("first", "last", "requests", "total", "failed", "misses", "ids", "hll",
                 "numeric", "lo", "hi", "prev", "steps", "small", "flagged")

    def __init__(self, first: float) -> None:
        self.first = first  # start of the first window of this walk
        self.last = first  # end of the latest window with requests on the route
        self.requests = 0  # on the route
        self.total = 0  # the client's requests, every route, in the windows of the walk
        self.failed = 0  # of those, answered 401, 403 or 404
        self.misses = 0  # ids answered 404 (as far as the client window kept them)
        self.ids: set[str] | None = set()  # exact while few
        self.hll: bytes | None = None  # then a sketch's compact bytes
        self.numeric = 0  # requests whose id is a plain number
        self.lo = -1
        self.hi = -1
        self.prev = -1  # the last numeric id, for the next step
        self.steps = 0
        self.small = 0  # steps of 1..SMALL_STEP (either way)
        self.flagged = False

    def copy(self) -> ObjectWalk:
        out = ObjectWalk(self.first)
        for name in self.__slots__:
            setattr(out, name, getattr(self, name))
        out.ids = set(self.ids) if self.ids is not None else None
        return out

    def add_window(self, end: float, paths: list[str], idx: int | None, total: int,
                   missing: Iterable[str], failed: int = 0, not_found: int = 0) -> None:
        """Count one window's requests of the client on the route (``paths`` in order).

        ``missing`` are the client's 404 paths the window kept (capped), ``failed`` its
        401/403/404 answers and ``not_found`` its 404s, on every route: where the kept
        paths fall short, the route's misses are estimated from the 404 count pro rata.
        """
        self.last = end
        self.requests += len(paths)
        self.total += total
        self.failed += failed
        if missing or not_found:
            gone = missing if isinstance(missing, (set, frozenset)) else set(missing)
            kept = len(gone.intersection(paths))
            share = round(not_found * len(paths) / total) if total else 0
            self.misses += min(len(paths), max(kept, share))
        self._add_ids(paths)
        if idx is None:
            return
        prev, lo, hi = self.prev, self.lo, self.hi
        numeric = steps = small = 0
        for p in paths:  # inline: once per id-bearing request of every walk
            segs = p.split("/")
            if idx >= len(segs):
                continue
            seg = segs[idx]
            if not (seg.isdigit() and seg.isascii()) or len(seg) > 18:  # no counter
                continue
            n = int(seg)
            numeric += 1
            if prev >= 0:
                steps += 1
                if 0 < abs(n - prev) <= SMALL_STEP:
                    small += 1
            prev = n
            if lo < 0 or n < lo:
                lo = n
            if n > hi:
                hi = n
        self.numeric += numeric
        self.steps += steps
        self.small += small
        self.prev, self.lo, self.hi = prev, lo, hi

    def _add_ids(self, paths: list[str]) -> None:
        ids = self.ids
        if ids is not None:
            ids.update(paths)
            if len(ids) <= EXACT_CAP:
                return
            sk = hll_sketch(HLL_LG_K)
            # Sorted: a set's order follows the process's hash seed, and the sketch's
            # estimate depends on the order it is fed (replay = live needs one answer).
            for p in sorted(ids):
                sk.update(p)
            self.ids = None
        else:
            assert self.hll is not None
            sk = hll_sketch.deserialize(self.hll)
            for p in paths:
                sk.update(p)
        self.hll = sk.serialize_compact()

    def distinct(self) -> int:
        """Distinct ids so far (exact while few, then the sketch's estimate)."""
        if self.ids is not None:
            return len(self.ids)
        if self.hll is None:
            return 0
        return int(round(hll_sketch.deserialize(self.hll).get_estimate()))

    def sequential_share(self) -> float:
        """Share of consecutive numeric requests that stepped by a small amount."""
        return self.small / self.steps if self.steps else 0.0

    def numeric_share(self) -> float:
        return self.numeric / self.requests if self.requests else 0.0

    def density(self) -> float:
        """Distinct numeric ids over the width of their range: 1.0 is every id in it."""
        if self.numeric == 0 or self.hi < self.lo:
            return 0.0
        return min(1.0, min(self.distinct(), self.numeric) / (self.hi - self.lo + 1))

    def miss_share(self) -> float:
        return self.misses / self.requests if self.requests else 0.0

    def fail_share(self) -> float:
        """Share of the client's requests (every route) answered 401, 403 or 404."""
        return self.failed / self.total if self.total else 0.0

    def route_share(self) -> float:
        """The route's share of the client's requests while it walked."""
        return self.requests / self.total if self.total else 0.0
