"""``detector explain``: the numbers one incident's decision was made on, in words.

An on-call engineer paged at night wants three things from an incident: what
was measured, what it was compared with and how, and how far from not firing it
was. Every detector raises only when a statistical test, a minimum effect and a
minimum volume agree (ARCHITECTURE, "detectors"); this module reads those back
from the incident's evidence (CONTRACTS §3) and the detector settings, and
recomputes the boundary: the least extreme value at the same volume that would
still have fired. Kinds whose decision is a rule rather than a test (scanners,
payloads, enumeration, drifts after a deploy) are in
:mod:`detector.incidents.explain_security`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detector.config import Settings
from detector.detectors.small_counts import binom_sf
from detector.incidents.model import Incident

SHORT_HORIZONS = (1, 5)  # rate detectors' binomial spans (longer ones: beta-binomial)


@dataclass
class Explanation:
    """One incident's decision: the figures (label, value in words), the test, the
    verdict against the thresholds, and what would have kept it quiet."""

    incident: Incident
    figures: list[tuple[str, str]] = field(default_factory=list)
    test: str = ""
    why: list[str] = field(default_factory=list)
    would_not: str = ""

    def lines(self) -> list[str]:
        """The explanation as text for a terminal."""
        inc = self.incident
        where = " ".join(p for p in (inc.method, inc.route) if p)
        if inc.client:
            where = f"{where} client {inc.client}".strip()
        out = [f"{inc.id}: {inc.kind} on {inc.service} {where}".rstrip(),
               f"  {inc.summary}", ""]
        width = max((len(k) for k, _ in self.figures), default=0)
        out += [f"  {k.ljust(width)}  {v}" for k, v in self.figures]
        if self.test:
            out += ["", f"  Test: {self.test}"]
        out += [f"  {w}" for w in self.why]
        if self.would_not:
            out += ["", f"  Would not have fired: {self.would_not}"]
        return out

    def as_dict(self) -> dict[str, Any]:
        """The same, as data (``--json``)."""
        return {"id": self.incident.id, "kind": self.incident.kind,
                "figures": dict(self.figures), "test": self.test, "why": self.why,
                "would_not_have_fired": self.would_not}


Explainer = Callable[[Incident, Settings], Explanation]


def pct(x: float) -> str:
    """A share as people read it.

    >>> pct(0.0412), pct(0.5), pct(0.00031)
    ('4.1 %', '50 %', '0.03 %')
    """
    v = x * 100
    if v >= 10 and abs(v - round(v)) < 0.05:
        return f"{v:.0f} %"
    return f"{v:.1f} %" if v >= 0.1 else f"{v:.2f} %"


def pval(p: float) -> str:
    return f"{p:.2g}" if p > 0 else "< 1e-300"


def num(ev: dict[str, Any], key: str, default: float = 0.0) -> float:
    v = ev.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else default


def least_hits(n: int, p0: float, alpha: float, floor: int) -> int | None:
    """The fewest hits out of ``n`` whose binomial tail against ``p0`` is at most
    ``alpha``, and at least ``floor``; None when no count of ``n`` gets there.

    >>> least_hits(100, 0.01, 1e-6, 5)
    9
    """
    lo, hi = max(floor, 1), n
    if lo > hi or binom_sf(hi, n, p0) > alpha:
        return None
    while lo < hi:  # the tail shrinks as the count grows
        mid = (lo + hi) // 2
        if binom_sf(mid, n, p0) <= alpha:
            hi = mid
        else:
            lo = mid + 1
    return lo


_RATE_WHAT = {"error_surge": ("5xx", "answers with a 5xx"),
              "client_error_surge": ("4xx", "answers with a 4xx (not 401/403/404)"),
              "auth_failure_burst": ("401/403", "answers with a 401 or 403")}


def _effect(share: float, p0: float) -> str:
    return f"+{pct(share - p0)} ({share / p0:.0f}x the baseline)" if p0 > 0 else \
        f"+{pct(share - p0)}"


def _min_increase(kind: str, s: Settings) -> float:
    d = s.detectors
    return {"error_surge": d.error_min_increase,
            "client_error_surge": d.client_error_min_increase}.get(kind, d.auth_min_increase)


def explain_rate(inc: Incident, s: Settings) -> Explanation:
    """5xx, 4xx and 401/403 shares of a route: a one-sided binomial test on the span."""
    if inc.kind == "auth_failure_burst" and inc.client:
        from detector.incidents.explain_security import explain_auth_client

        return explain_auth_client(inc, s)
    ev, d = inc.evidence, s.detectors
    short, what = _RATE_WHAT[inc.kind]
    p0, obs = num(ev, "baseline"), num(ev, "observed")
    h = int(num(ev, "horizon_windows", 1))
    n = int(num(ev, "horizon_requests", num(ev, "requests")))
    k = int(num(ev, "horizon_hits", round(obs * n)))
    span = num(ev, "horizon_seconds", h * s.windows.size_seconds)
    inc_min = _min_increase(inc.kind, s)
    x = Explanation(inc)
    hits, reqs = int(num(ev, "hits", k)), int(num(ev, "requests", n))
    judged = f"{k:,} of {n:,} requests ({pct(k / n) if n else '-'}) over {span / 60:.0f} min"
    one = (hits, reqs) == (k, n)
    x.figures = [
        ("observed", f"{pct(obs)} {short} ({k:,} of {n:,} requests over {span / 60:.0f} min)"
         if one else f"{pct(obs)} {short} in the last window ({hits:,} of {reqs:,} requests)"),
        *([] if one else [("tested", f"{judged}, the span the test judged")]),
        ("baseline", f"{pct(p0)} {short} (the route's learned share)"),
        ("effect", _effect(k / n if n else obs, p0)
         + ("" if one else f" over the span ({_effect(obs, p0)} in the "
                                               "last window)")),
        ("p-value", f"{pval(inc.evidence.get('p_value', 0.0))} (fires at <= {d.alpha:g})"),
        ("volume", f"{n:,} requests, {k:,} {short} (floor: {d.ratio_min_requests} requests "
                   f"and {d.ratio_min_hits} {short})"),
    ]
    exact = h in SHORT_HORIZONS and not ev.get("since_deploy")
    law = "binomial" if exact else "beta-binomial (the baseline known from few requests)"
    x.test = (f"one-sided {law} test: how likely {k:,} or more {what} out of {n:,} are when "
              f"the true share is the baseline {pct(p0)}.")
    x.why = [f"It fired because the share passed the baseline by at least {pct(inc_min)} "
             f"(and by half again), with at least {d.ratio_min_hits} {short} in at least "
             f"{d.ratio_min_requests} requests, and the test's p-value was below "
             f"{d.alpha:g}."]
    floor = max(d.ratio_min_hits, math.ceil((p0 + inc_min) * n - 1e-9),
                math.ceil(1.5 * p0 * n - 1e-9))
    kstar = least_hits(n, p0, d.alpha, floor)
    if kstar is not None:
        approx = "" if exact else " (binomial bound; the beta-binomial asks a little more)"
        x.would_not = (f"with {kstar - 1:,} or fewer {short} of these {n:,} requests (below "
                       f"{pct(kstar / n)}){approx}, or fewer than {d.ratio_min_requests} "
                       f"requests, or fewer than {d.ratio_min_hits} {short}.")
    return x


def explain_latency(inc: Incident, s: Settings) -> Explanation:
    """p95 against the baseline, tested as the share of requests above the baseline p90."""
    ev, d = inc.evidence, s.detectors
    base, obs = num(ev, "baseline"), num(ev, "observed")
    x = Explanation(inc)
    x.figures = [("observed", f"p95 {obs * 1000:,.0f} ms"),
                 ("baseline", f"p95 {base * 1000:,.0f} ms"),
                 ("effect", f"{obs / base:.1f}x, +{(obs - base) * 1000:,.0f} ms" if base > 0
                  else f"+{(obs - base) * 1000:,.0f} ms"),
                 ("p-value", f"{pval(ev.get('p_value', 0.0))} (fires at <= {d.alpha:g})")]
    floor_p95 = max(d.latency_min_ratio * base, base + d.latency_min_delta_seconds)
    if "cusum" in ev:
        x.test = ("after a deploy, a CUSUM of requests slower than the previous version's "
                  f"p90 (it reached {num(ev, 'cusum'):.1f}): a regression that crept up "
                  "over hours.")
        x.would_not = f"with p95 under {floor_p95 * 1000:,.0f} ms, or the CUSUM under its bar."
        return x
    n, k = int(num(ev, "horizon_requests")), int(num(ev, "horizon_slow"))
    q0 = num(ev, "expected_share_above", 0.1)
    share = num(ev, "share_above_baseline_p90")
    x.figures.append(("slow share", f"{pct(share)} of requests above the baseline p90 "
                                    f"(expected {pct(q0)})"
                      + (f", {k:,} of {n:,}" if n else "")))
    x.figures.append(("volume", f"{n or inc.evidence.get('requests', 0):,} requests (floor: "
                                f"{d.ratio_min_requests}, {d.ratio_min_hits} slow)"))
    x.test = ("one-sided binomial test of the requests slower than the baseline p90 "
              f"against the {pct(q0)} expected there.")
    x.why = [f"It fired because p95 was at least {d.latency_min_ratio:g}x the baseline and "
             f"{d.latency_min_delta_seconds * 1000:.0f} ms slower, and the test's p-value was "
             f"below {d.alpha:g}."]
    kstar = least_hits(n, q0, d.alpha, d.ratio_min_hits) if n else None
    slow = f"fewer than {kstar:,} of these {n:,} requests above the baseline p90 " \
           f"({pct(kstar / n)}), or " if kstar and n else ""
    x.would_not = (f"with p95 under {floor_p95 * 1000:,.0f} ms, or {slow}fewer than "
                   f"{d.ratio_min_requests} requests.")
    return x


def explain_traffic(inc: Incident, s: Settings) -> Explanation:
    """Request counts against the seasonal forecast: an over-dispersed Poisson tail."""
    from detector.detectors.traffic import _lower_p, _upper_p

    ev, d = inc.evidence, s.detectors
    size = s.windows.size_seconds
    h = int(num(ev, "horizon_windows", 1))
    X, E = num(ev, "horizon_observed", num(ev, "observed")), num(ev, "horizon_expected",
                                                                 num(ev, "baseline"))
    disp = num(ev, "dispersion", 1.0)
    spike = inc.kind == "traffic_spike"
    x = Explanation(inc)
    x.figures = [("observed", f"{X:,.0f} requests in {h * size / 60:.0f} min"),
                 ("expected", f"{E:,.0f} (the route's seasonal forecast)"),
                 ("effect", f"{X / E:.2f}x the forecast" if E > 0 else "-"),
                 ("p-value", f"{pval(ev.get('p_value', 0.0))} (fires at <= {d.alpha:g})")]
    x.test = (f"{'upper' if spike else 'lower'} tail of an over-dispersed Poisson "
              f"(dispersion {disp:.2f}, learned from the route) around the forecast.")
    if "dispersion" not in ev:
        x.would_not = ("(this incident predates the evidence `explain` recomputes the "
                       "threshold from)")
        return x
    if spike:
        ratio = num(ev, "ratio_floor", d.spike_min_ratio)
        lo = math.ceil(max(d.spike_min_count * h**0.5, ratio * max(E, 1.0)))
        bound = next((c for c in range(lo, lo + 100_000) if _upper_p(c, E, disp) <= d.alpha),
                     None)
        x.why = [f"It fired because the count was at least {ratio:g}x the forecast and "
                 f"{d.spike_min_count} requests, and the tail test's p-value was below "
                 f"{d.alpha:g}."]
        if bound is not None:
            x.would_not = f"with fewer than {bound:,} requests over those {h * size / 60:.0f} min."
    else:
        hi = math.floor(d.drop_max_ratio * E)
        bound = next((c for c in range(hi, -1, -1) if _lower_p(c, E, disp) <= d.alpha), None)
        x.why = [f"It fired because the count was at most {pct(d.drop_max_ratio)} of the "
                 f"forecast, the forecast at least {d.drop_min_expected:g} requests a "
                 f"window, and the tail test's p-value was below {d.alpha:g}."]
        if bound is not None:
            x.would_not = (f"with more than {bound:,} requests over those "
                           f"{h * size / 60:.0f} min, or a forecast under "
                           f"{d.drop_min_expected * h**0.5:.0f}.")
    return x


def explain_generic(inc: Incident, s: Settings) -> Explanation:
    """Any kind: the evidence there is, in its own words."""
    ev = inc.evidence
    x = Explanation(inc)
    x.figures = [(k.replace("_", " "), str(v)) for k, v in ev.items() if k != "samples"]
    x.would_not = "no threshold is recomputed for this kind: the evidence above is all there is."
    return x


def explainers() -> dict[str, Explainer]:
    """Kind -> explainer (an explicit registry: no lookup by name)."""
    from detector.incidents import explain_security as sec

    return {"error_surge": explain_rate, "client_error_surge": explain_rate,
            "auth_failure_burst": explain_rate, "latency_regression": explain_latency,
            "traffic_spike": explain_traffic, "traffic_drop": explain_traffic,
            "scanning": sec.explain_scanning, "attack_payload": sec.explain_payload,
            "unusual_payload": sec.explain_payload, "new_endpoint": sec.explain_new_endpoint,
            "authorization_drift": sec.explain_authorization_drift,
            "data_exposure": sec.explain_data_exposure,
            "object_enumeration": sec.explain_enumeration}


def explain(incident: Incident, settings: Settings | None = None) -> Explanation:
    """The explanation of one incident (its opening change: the decision to fire).

    >>> from detector.incidents.model import Incident
    >>> inc = Incident(id="inc-1", status="open", kind="error_surge", severity="high",
    ...     service="pay", route="/r", method="POST", client=None, start="2026-03-17T09:07:00Z",
    ...     end="2026-03-17T09:08:00Z", detected_at="2026-03-17T09:08:00Z", score=0.9,
    ...     summary="POST /r 5xx rate 11.8%", evidence={"observed": 0.118, "baseline": 0.004,
    ...     "requests": 412, "p_value": 1e-12, "horizon_windows": 1, "horizon_hits": 49,
    ...     "horizon_requests": 412}, deployment=None)
    >>> print(explain(inc).would_not)
    with 18 or fewer 5xx of these 412 requests (below 4.6 %), or fewer than 20 requests,
    or fewer than 5 5xx.
    """
    settings = settings or Settings()
    return explainers().get(incident.kind, explain_generic)(incident, settings)
