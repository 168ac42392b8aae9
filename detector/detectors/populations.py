"""Client-population scoping: which user-agent family a 4xx surge or a traffic drop is confined to.

A release that breaks old Android app clients shows on a route as a 4xx surge
(or, when the app gives up, as a drop), and the fix starts with knowing that it
is one app version on one platform. This step runs after the route detectors
and changes none of their decisions: a ``client_error_surge`` or
``traffic_drop`` signal whose change comes almost all (:data:`CONFINED`) from
one family (:mod:`ua_family`) that is not most of the route's traffic gets
``population`` in its extra, which the evidence and the summary carry.

4xx: each family's excess over the route's baseline share, from the window's
other-4xx answers per user agent; the other families must stay near the
baseline. Drop: each family's missing requests against a per-route family mix
(top :data:`TOP` families, decayed, learned from windows no route signal
flagged); the other families must keep most of their traffic. A dominant family
is not named for a change that hits everybody.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from detector.detectors.base import SeriesKey, Signal
from detector.detectors.ua_family import ua_family
from detector.state.component import stamp, unstamp
from detector.windows.stats import COUNT, UA4XX, UAS, slot

CONFINED = 0.8  # share of the change one family must hold to be named
MAX_SHARE = 0.9  # a family this big is the route, not a population of it
MIN_OTHERS = 3  # requests of the other families: without them nothing is "confined"
OTHERS_SLACK = 0.02  # the others' 4xx share may pass the baseline by this much (or double it)
OTHERS_KEPT = 0.4  # share of their expected requests the other families must still send
MIN_HITS = 5  # 4xx answers (or missing requests) of the family in the window
TOP = 12  # families remembered per route
RATE = 0.05  # per window, of the family mix
MIN_REQUESTS = 5  # requests of a window the mix learns from
MAX_ROUTES = 20_000
SCOPED = frozenset({"client_error_surge", "traffic_drop"})


class PopulationWindow(NamedTuple):
    """One closed window: the route detectors' signals and each series' window stats."""

    signals: list[Signal]
    series: dict[SeriesKey, list[Any]]


def _families(counts: dict[str, int] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for ua, n in (counts or {}).items():
        f = ua_family(ua)
        out[f] = out.get(f, 0) + n
    return out


def _confined(change: dict[str, float], total: float) -> tuple[str, float] | None:
    """The family holding at least :data:`CONFINED` of ``total`` change, with its share."""
    if total <= 0 or not change:
        return None
    fam = max(sorted(change), key=lambda f: change[f])
    share = change[fam] / total
    if share < CONFINED or change[fam] < MIN_HITS:
        return None
    return fam, min(1.0, share)


class PopulationScope:
    """Names the user-agent family a client-error surge or a traffic drop is confined to.

    >>> from detector.windows.stats import new_series_stats, S4XX, UA4XX, UAS
    >>> key = SeriesKey("shop", "GET", "/cart")
    >>> st = new_series_stats(); st[0] = 200; st[S4XX] = 30
    >>> st[UAS] = {"ShopApp/3.1 (Android 11)": 30, "Mozilla/5.0 (X11; Linux) Firefox/124.0": 170}
    >>> st[UA4XX] = {"ShopApp/3.1 (Android 11)": 29, "Mozilla/5.0 (X11; Linux) Firefox/124.0": 1}
    >>> sig = Signal(kind="client_error_surge", service="shop", route="/cart", method="GET",
    ...     client=None, start=0.0, end=60.0, score=0.9, observed=0.15, baseline=0.005,
    ...     requests=200, p_value=1e-12, extra={}, samples=[])
    >>> out = PopulationScope().scope(PopulationWindow([sig], {key: st}))
    >>> out[0].extra["population"]["user_agent_family"]
    'ShopApp/3 (Android)'
    """

    def __init__(self) -> None:
        # (service, method, route) -> {family: share of the route's requests} (decayed)
        self._mix: dict[tuple[str, str, str], dict[str, float]] = {}

    def scope_window(self, x: PopulationWindow) -> list[Signal]:
        """The pipeline's step for one closed window: :meth:`scope`, then :meth:`remember`.

        A step after the detectors, not a detector: :meth:`scope` is pure,
        :meth:`remember` the only change of state.
        """
        out = self.scope(x)
        self.remember(x)
        return out

    def scope(self, x: PopulationWindow) -> list[Signal]:
        """The window's signals, those confined to one family saying which."""
        out: list[Signal] = []
        for sig in x.signals:
            pop = None
            if sig.kind in SCOPED and sig.client is None and sig.route and sig.method:
                st = x.series.get(SeriesKey(sig.service, sig.method, sig.route))
                key = (sig.service, sig.method, sig.route)
                if sig.kind == "client_error_surge" and st is not None:
                    pop = self._errors(sig, st)
                elif sig.kind == "traffic_drop":
                    pop = self._drop(sig, st, self._mix.get(key))
            out.append(sig if pop is None else
                       replace(sig, extra={**sig.extra, "population": pop}))
        return out

    @staticmethod
    def _errors(sig: Signal, st: list[Any]) -> dict[str, Any] | None:
        hits = _families(slot(st, UA4XX))
        reqs = _families(slot(st, UAS))
        n = int(st[COUNT])
        p0 = sig.baseline
        excess = {f: k - reqs.get(f, k) * p0 for f, k in hits.items()}
        found = _confined(excess, sum(hits.values()) - n * p0)
        if found is None or reqs.get(found[0], 0) > MAX_SHARE * n:
            return None
        if n - reqs.get(found[0], 0) < MIN_OTHERS:
            return None
        fam, share = found
        k, m = hits[fam], max(reqs.get(fam, 0), hits[fam])
        rest_k, rest_n = sum(hits.values()) - k, n - m
        others = rest_k / rest_n
        if others > max(2.0 * p0, p0 + OTHERS_SLACK):
            return None  # the others fail more than usual too: not confined
        return {"user_agent_family": fam, "share_of_excess": round(share, 3),
                "rate": round(k / m, 4), "baseline": round(p0, 4),
                "others_rate": round(others, 4), "share_of_traffic": round(m / max(n, 1), 3)}

    @staticmethod
    def _drop(sig: Signal, st: list[Any] | None, mix: dict[str, float] | None
              ) -> dict[str, Any] | None:
        if not mix:
            return None
        seen = _families(slot(st, UAS)) if st is not None else {}
        expected = sig.baseline
        missing = {f: share * expected - seen.get(f, 0) for f, share in mix.items()}
        found = _confined(missing, expected - sig.observed)
        if found is None or mix[found[0]] > MAX_SHARE:
            return None
        fam, share = found
        others_expected = (1.0 - mix[fam]) * expected
        if others_expected < MIN_OTHERS:
            return None
        if sum(seen.values()) - seen.get(fam, 0) < OTHERS_KEPT * others_expected:
            return None  # the others dropped too (a flatline): not confined
        return {"user_agent_family": fam, "share_of_missing": round(share, 3),
                "rate": seen.get(fam, 0), "baseline": round(mix[fam] * expected, 1),
                "share_of_traffic": round(mix[fam], 3)}

    def remember(self, x: PopulationWindow) -> None:
        """Learn each route's family mix from its windows that no route signal flagged."""
        flagged = {(s.service, s.method, s.route) for s in x.signals if s.client is None}
        mixes = self._mix
        for key, st in x.series.items():
            n = int(st[COUNT])
            k = (key.service, key.method, key.route)
            if n < MIN_REQUESTS or k in flagged:
                continue
            fams = _families(slot(st, UAS))
            mix = mixes.get(k)
            if mix is None:
                if len(mixes) < MAX_ROUTES:
                    mixes[k] = {f: c / n for f, c in fams.items()}
                continue
            # Every family decays, then this window's add (the same sums as one pass
            # over the union of both, without building it).
            for f in mix:
                mix[f] *= 1.0 - RATE
            for f, c in fams.items():
                mix[f] = mix.get(f, 0.0) + RATE * c / n
            if len(mix) > TOP:  # the smallest go: a family that grows comes back
                for f in sorted(mix, key=lambda f: (mix[f], f))[: len(mix) - TOP]:
                    del mix[f]

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, {"mix": self._mix})

    def restore(self, data: Any) -> None:
        self._mix = unstamp(data, self.STATE_VERSION, {}, "populations")["mix"]
