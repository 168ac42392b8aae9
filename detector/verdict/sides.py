"""The two sides a verdict compares, cut out of the collected windows.

``previous``: the candidate version's windows after the deploy against the windows
before it (any other version). ``concurrent``: the candidate version's requests
against the other versions' requests in the same windows (a canary, blue/green).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from detector.verdict.collect import Agg

Routes = dict[str, dict[str | None, Agg]]  # "METHOD /route" -> version -> requests


class WinAgg(NamedTuple):
    """One closed window of one service."""

    start: float
    end: float
    routes: Routes


OVERALL = "*"


class Side(NamedTuple):
    """Per route (and ``*`` for the whole service): one Agg per window, and their sum."""

    windows: dict[str, list[Agg]]
    total: dict[str, Agg]
    span: tuple[float, float] | None  # first window start, last window end

    def requests(self, route: str = OVERALL) -> int:
        t = self.total.get(route)
        return 0 if t is None else t.requests()


def build_side(wins: Sequence[WinAgg], keep: Callable[[str | None], bool],
               included: Callable[[str], bool]) -> Side:
    """The requests of versions ``keep`` accepts, on routes ``included`` accepts."""
    routes: dict[str, list[Agg]] = {}
    overall: list[Agg] = []
    for i, w in enumerate(wins):
        whole = Agg()
        for route, parts in w.routes.items():
            if not included(route):
                continue
            acc: Agg | None = None
            for ver, a in parts.items():
                if keep(ver):
                    if acc is None:
                        acc = Agg()
                    acc.add(a)
            if acc is None:
                continue
            series = routes.get(route)
            if series is None:
                series = routes[route] = [Agg() for _ in range(i)]
            series.append(acc)
            whole.add(acc)
        for series in routes.values():
            if len(series) < i + 1:
                series.append(Agg())
        overall.append(whole)
    routes[OVERALL] = overall
    totals: dict[str, Agg] = {}
    for route, series in routes.items():
        t = Agg()
        for a in series:
            t.add(a)
        totals[route] = t
    span = (wins[0].start, wins[-1].end) if wins else None
    return Side(routes, totals, span)


def version_counts(wins: Sequence[WinAgg]) -> dict[str | None, int]:
    """Requests per version over ``wins``."""
    out: dict[str | None, int] = {}
    for w in wins:
        for parts in w.routes.values():
            for ver, a in parts.items():
                out[ver] = out.get(ver, 0) + a.requests()
    return out
