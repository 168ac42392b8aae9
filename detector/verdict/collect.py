"""What a verdict compares: each closed window's traffic per route and version.

The pipeline hands every closed window to its observers (``Pipeline.observers``)
after its detectors ran and its incidents were raised. :func:`route_aggregates`
turns a window's series stats into per-route, per-version counts, latency and
response-size histograms, request findings and query parameter names; the
:class:`~detector.verdict.watch.ReleaseWatch` keeps the windows a deployment's
evaluation needs. The same windows reach it in a replay and in the live service,
so both judge from the same numbers (replay = live).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from detector.analysis.findings import ATTACK
from detector.windows.stats import (
    BYTES,
    COUNT,
    HIST,
    S4XX,
    S5XX,
    S404,
    SAUTH,
    V_4XX,
    V_5XX,
    V_404,
    V_AUTH,
    V_BYTES,
    V_COUNT,
    V_HIST,
    VER0,
    VERS,
    slot,
)

if TYPE_CHECKING:
    from detector.analysis.findings import Finding
    from detector.detectors.base import SeriesKey
    from detector.events import AccessEvent
    from detector.incidents.model import Incident

PARAMS_PER_EVENT = 32  # query parameter names kept per request
PARAM_NAME_MAX = 64


class WindowView(NamedTuple):
    """One closed window as the pipeline saw it (read-only for observers)."""

    start: float
    end: float
    series: dict[int, list[Any]]
    keys: list[SeriesKey]
    pending: list[tuple[AccessEvent, int]]  # requests that went to analysis (query/body)
    flagged: list[tuple[AccessEvent, str, Finding]]  # those analysis flagged


class WindowObserver(Protocol):
    """What the pipeline tells its observers (``Pipeline.observers``)."""

    def window_closed(self, view: WindowView) -> None: ...

    def incident(self, incident: Incident) -> None: ...


class Agg:
    """One route's requests of one version in one window.

    ``count`` excludes flagged requests (as the pipeline's series do), ``attack``
    and ``unusual`` count those; histograms are sparse ``{bucket: n}``.

    >>> a = Agg(); a.count, a.requests()
    (0, 0)
    """

    __slots__ = ("attack", "auth", "count", "err4", "err5", "hist", "nf", "params", "sizes",
                 "unusual")

    def __init__(self) -> None:
        self.count = 0
        self.err5 = 0
        self.err4 = 0  # other 4xx: not 401/403/404
        self.auth = 0  # 401/403
        self.nf = 0  # 404
        self.hist: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.attack = 0
        self.unusual = 0
        self.params: dict[str, int] | None = None

    def requests(self) -> int:
        """Every request, flagged ones included."""
        return self.count + self.attack + self.unusual

    def add(self, other: Agg) -> None:
        self.count += other.count
        self.err5 += other.err5
        self.err4 += other.err4
        self.auth += other.auth
        self.nf += other.nf
        self.attack += other.attack
        self.unusual += other.unusual
        for src, dst in ((other.hist, self.hist), (other.sizes, self.sizes)):
            for i, n in src.items():
                dst[i] = dst.get(i, 0) + n
        if other.params:
            mine = self.params if self.params is not None else {}
            for name, n in other.params.items():
                mine[name] = mine.get(name, 0) + n
            self.params = mine


def _sparse(hist: Iterable[int] | None) -> dict[int, int]:
    return {} if hist is None else {i: n for i, n in enumerate(hist) if n > 0}


def _minus(total: dict[int, int], part: Iterable[int] | None) -> None:
    if part is None:
        return
    for i, n in enumerate(part):
        if n:
            left = total.get(i, 0) - n
            if left > 0:
                total[i] = left
            else:
                total.pop(i, None)


def _split(stats: list[Any]) -> dict[str | None, Agg]:
    """A series window's requests per version (the first version's: totals minus others)."""
    first = Agg()
    first.count = int(stats[COUNT])
    first.err5, first.err4 = int(stats[S5XX]), int(stats[S4XX])
    first.auth, first.nf = int(stats[SAUTH]), int(stats[S404])
    first.hist = _sparse(stats[HIST])
    first.sizes = _sparse(slot(stats, BYTES))
    out: dict[str | None, Agg] = {}
    for ver, v in (slot(stats, VERS) or {}).items():
        a = Agg()
        a.count, a.err5, a.err4, a.auth = v[V_COUNT], v[V_5XX], v[V_4XX], v[V_AUTH]
        a.nf = slot(v, V_404) or 0
        a.hist = _sparse(v[V_HIST])
        a.sizes = _sparse(v[V_BYTES])
        out[ver] = a
        first.count -= a.count
        first.err5 -= a.err5
        first.err4 -= a.err4
        first.auth -= a.auth
        first.nf -= a.nf
        _minus(first.hist, v[V_HIST])
        _minus(first.sizes, v[V_BYTES])
    out[slot(stats, VER0)] = first
    return out


def _status_slot(status: int | None) -> str | None:
    if status is None or status < 400:
        return None
    if status >= 500:
        return "err5"
    if status in (401, 403):
        return "auth"
    return "nf" if status == 404 else "err4"


def query_names(query: str) -> list[str]:
    """The parameter names of a raw query string (bounded).

    >>> query_names("a=1&b=&c&a=2&=x")
    ['a', 'b', 'c']
    """
    out: list[str] = []
    for part in query.split("&", PARAMS_PER_EVENT * 2)[: PARAMS_PER_EVENT * 2]:
        name = part.split("=", 1)[0][:PARAM_NAME_MAX]
        if name and name not in out:
            out.append(name)
            if len(out) >= PARAMS_PER_EVENT:
                break
    return out


def route_aggregates(view: WindowView, services: frozenset[str] | None
                     ) -> dict[str, dict[str, dict[str | None, Agg]]]:
    """``{service: {"METHOD /route": {version: Agg}}}`` of one closed window."""
    keys = view.keys
    out: dict[str, dict[str, dict[str | None, Agg]]] = {}
    where: dict[int, tuple[dict[str | None, Agg], str | None]] = {}
    first_of: dict[tuple[str, str], str | None] = {}  # (service, route key): VER0
    for sid, st in view.series.items():
        key = keys[sid]
        if services is not None and key.service not in services:
            continue
        parts = _split(st)
        rk = f"{key.method} {key.route}"
        out.setdefault(key.service, {})[rk] = parts
        where[sid] = (parts, slot(st, VER0))
        first_of[(key.service, rk)] = slot(st, VER0)
    # Flagged requests were taken out of the series totals (pipeline.screen), not out of
    # the other versions' stats: each goes back to where the split left it missing, then
    # out of its own version's counts, into its findings.
    for ev, route, f in view.flagged:
        if services is not None and ev.service not in services:
            continue
        rk = f"{ev.method} {route}"
        parts = out.setdefault(ev.service, {}).setdefault(rk, {})
        ver = ev.version
        mine = parts.get(ver)
        if mine is None:
            mine = parts[ver] = Agg()
        if f.kind == ATTACK:
            mine.attack += 1
        else:
            mine.unusual += 1
        first_ver = first_of.get((ev.service, rk), ver)
        if ver != first_ver:
            first = parts.get(first_ver)
            s = _status_slot(ev.status)
            if first is not None:  # the split charged the first version for it
                first.count += 1
                if s is not None:
                    setattr(first, s, getattr(first, s) + 1)
            mine.count = max(0, mine.count - 1)
            if s is not None:
                setattr(mine, s, max(0, getattr(mine, s) - 1))
    for ev, sid in view.pending:
        if not ev.query:
            continue
        hit = where.get(sid)
        if hit is None:
            continue
        agg = hit[0].get(ev.version)
        if agg is None:
            continue
        params = agg.params if agg.params is not None else {}
        for name in query_names(ev.query):
            params[name] = params.get(name, 0) + 1
        agg.params = params
    return out
