"""The judge's checks: one two-sample comparison per check and route.

Each check gives the baseline and candidate values, the change with its 95 %
interval, the one-sided p-value in the check's bad direction, and the minimum
detectable effect at the traffic seen. :func:`decide` turns them into pass,
marginal, fail or inconclusive once the p-values of a check are adjusted across
routes (Benjamini-Hochberg, in the judge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from detector.verdict.collect import Agg
from detector.verdict.sides import OVERALL, Side
from detector.verdict.specs import CheckSpec
from detector.verdict.stats import log_shift, share_interval, share_mde, share_p
from detector.windows.stats import latency_bounds, size_bounds, sparse_quantile

PASS, MARGINAL, FAIL, INCONCLUSIVE = "pass", "marginal", "fail", "inconclusive"
MIN_BINS = 5  # per-window comparisons need this many values a side
BIN_NEED = {"latency_p50": 20, "latency_p95": 40, "response_size": 20, "data_exposure": 20}


@dataclass
class Outcome:
    """One check on one route, before and after the multiple-comparison adjustment."""

    check: str
    route: str
    spec: CheckSpec
    baseline: float | None
    candidate: float | None
    change: float | None = None  # difference (shares) or ratio (distributions)
    interval: tuple[float, float] | None = None
    p_value: float = 1.0
    mde: float | None = None
    needed: int | None = None  # requests (both sides) at which the MDE reaches min_effect
    requests: tuple[int, int] = (0, 0)
    significant_effect: bool = False  # beyond the tolerance band, in the bad direction
    confident: bool = False  # ... and the interval's near end beyond half the band
    worst: str = "fail"  # the worst this check can give on this route
    result: str = PASS
    detail: str | None = None
    incidents: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


_SHARE_FIELDS = {"error_share": "err5", "client_error_share": "err4",
                 "auth_denial_share": "auth", "authorization_drift": "auth",
                 "not_found_share": "nf", "attack_findings": "attack",
                 "unusual_payload_findings": "unusual"}


def _counts(agg: Agg, check: str) -> tuple[int, int]:
    k = getattr(agg, _SHARE_FIELDS[check])
    n = agg.requests() if check in ("attack_findings", "unusual_payload_findings") else agg.count
    return int(k), int(n)


def dispersion(base: list[Agg], cand: list[Agg], check: str) -> float:
    """How much more the per-window counts of a share vary than independent requests
    would (Pearson's chi-square over its degrees of freedom, each side around its own
    share; 1 = binomial). Requests cluster by client and by minute: a retry storm, one
    client's expired token. Dividing the counts by it keeps one burst from passing for
    a shift (quasi-binomial)."""
    chi2 = 0.0
    df = -2
    for side in (base, cand):
        k_tot = n_tot = 0
        cells = []
        for a in side:
            k, n = _counts(a, check)
            if n > 0:
                cells.append((k, n))
                k_tot += k
                n_tot += n
        if not n_tot:
            continue
        p = k_tot / n_tot
        if p <= 0 or p >= 1:
            df += len(cells)
            continue
        for k, n in cells:
            chi2 += (k - n * p) ** 2 / (n * p * (1 - p))
        df += len(cells)
    if df < 3:
        return 1.0
    return min(max(chi2 / df, 1.0), 100.0)


def share_check(spec: CheckSpec, route: str, base: Agg, cand: Agg, alpha: float,
                phi: float = 1.0) -> Outcome:
    """A share (5xx, 4xx, denials, findings) of the candidate against the baseline;
    ``phi``: the counts' overdispersion (:func:`dispersion`), widening tests and intervals."""
    k0, n0 = _counts(base, spec.name)
    k1, n1 = _counts(cand, spec.name)
    scale = 1000.0 if spec.unit.startswith("per 1000") else 1.0
    p0 = k0 / n0 if n0 else 0.0
    p1 = k1 / n1 if n1 else 0.0
    out = Outcome(spec.name, route, spec, round(p0 * scale, 6) if n0 else None,
                  round(p1 * scale, 6) if n1 else None, requests=(n0, n1))
    if n0 == 0 or n1 == 0:
        out.result = INCONCLUSIVE
        out.detail = "no requests on " + ("the baseline" if n0 == 0 else "the candidate")
        out.needed = None
        return out
    if phi > 1.0:
        out.extra["dispersion"] = round(phi, 3)
    # Effective counts: the same shares, from phi times fewer independent requests.
    e0, e1 = n0 / phi, n1 / phi
    lo, hi = share_interval(p1 * e1, e1, p0 * e0, e0)
    out.change = (p1 - p0) * scale
    out.interval = (lo * scale, hi * scale)
    out.p_value = share_p(round(p1 * e1), max(round(e1), 1), round(p0 * e0),
                          max(round(e0), 1), spec.up)
    tol = spec.tolerance / scale
    if spec.up:
        d = p1 - p0
        ratio_ok = p0 == 0 or p1 >= spec.ratio * p0
        near = lo
    else:
        d = p0 - p1
        ratio_ok = p1 == 0 or p0 >= spec.ratio * p1
        near = -hi
    out.significant_effect = d > tol and ratio_ok
    out.confident = near > tol / 2
    if not spec.up and p0 <= tol:
        out.mde = None  # nothing to lose: no denials before (the check cannot fail)
        out.detail = "too few denials before the deploy to lose"
        return out
    mde = share_mde(p0, e0, e1, alpha, spec.up)
    out.mde = mde * scale
    need = spec.min_effect / scale
    if mde > need:
        out.needed = _needed(n0 + n1, mde, need)
    return out


def _needed(have: int, mde: float, need: float) -> int:
    """Requests (both sides) at which an MDE falling as 1/sqrt(n) reaches ``need``."""
    return int(math.ceil(have * (mde / need) ** 2))


def bins(series: list[Agg], check: str) -> list[float]:
    """Per-window values of a distribution check, consecutive windows merged until each
    bin holds enough requests for its quantile (low traffic: fewer, fuller bins)."""
    need = BIN_NEED.get(check, 1)
    latency = check.startswith("latency")
    q = 0.95 if check == "latency_p95" else 0.5
    values: list[float] = []
    acc: dict[int, int] = {}
    n = 0
    for a in series:
        h = a.hist if latency else a.sizes
        for i, c in h.items():
            acc[i] = acc.get(i, 0) + c
            n += c
        if n >= need:
            v = sparse_quantile(acc, q, latency_bounds if latency else size_bounds)
            if v is not None:
                values.append(v)
            acc, n = {}, 0
    return values


def window_check(spec: CheckSpec, route: str, base: list[Agg], cand: list[Agg],
                 alpha: float, scale: float | None = None) -> Outcome:
    """Latency, response size or request rate: per-window values, Mann-Whitney.

    ``scale`` (request rate) multiplies the baseline's values: the daily growth from the
    baseline's hours to the candidate's, measured the day before."""
    if spec.name == "request_rate":
        g = scale if scale is not None else 1.0
        xs = [g * a.requests() + 0.5 for a in base]
        ys = [a.requests() + 0.5 for a in cand]
    else:
        xs, ys = bins(base, spec.name), bins(cand, spec.name)
    n0 = sum(a.requests() for a in base)
    n1 = sum(a.requests() for a in cand)
    out = Outcome(spec.name, route, spec, None, None, requests=(n0, n1))
    out.extra["bins"] = [len(xs), len(ys)]
    if scale is not None:
        out.extra["daily_growth"] = round(scale, 4)
    sh = log_shift(xs, ys, alpha) if len(xs) >= MIN_BINS and len(ys) >= MIN_BINS else None
    if sh is None:
        out.result = INCONCLUSIVE
        out.detail = f"{len(xs)} baseline and {len(ys)} candidate windows with enough " \
                     f"requests (need {MIN_BINS} each)"
        per_bin = BIN_NEED.get(spec.name, 1)
        out.needed = 2 * MIN_BINS * per_bin if max(n0, n1) < 2 * MIN_BINS * per_bin else None
        return out
    out.baseline, out.candidate = round(sh.baseline, 6), round(sh.candidate, 6)
    out.change = sh.ratio
    out.interval = sh.interval
    out.p_value = sh.p_up if spec.up else sh.p_down
    out.mde = sh.mde
    if spec.up:
        delta = sh.candidate - sh.baseline
        out.significant_effect = sh.ratio > 1 + spec.tolerance and delta > spec.min_delta
        out.confident = sh.interval[0] > 1 + spec.tolerance / 2
    else:
        delta = sh.baseline - sh.candidate
        floor = 1 / (1 + spec.tolerance)
        out.significant_effect = sh.ratio < floor and delta > spec.min_delta
        out.confident = sh.interval[1] < 1 / (1 + spec.tolerance / 2)
        if spec.name == "request_rate":  # a rise: marginal at most (see specs)
            out.extra["p_rise"] = sh.p_up
            out.extra["rise"] = sh.ratio > 1 + spec.tolerance and \
                sh.interval[0] > 1 + spec.tolerance / 2
    if sh.mde > spec.min_effect:
        out.needed = _needed(n0 + n1, sh.mde, spec.min_effect)
    return out


def decide(out: Outcome, p_adjusted: float, alpha: float) -> None:
    """The result of one check once its p-value is adjusted across routes."""
    out.extra["p_adjusted"] = p_adjusted
    if out.result == INCONCLUSIVE and out.change is None:
        return  # no comparison at all
    sig = p_adjusted < alpha
    if sig and out.significant_effect:
        # Beyond the band, and the interval's near end beyond half of it: a fail; beyond
        # the band by the estimate alone: marginal (look at it).
        out.result = out.worst if out.confident else MARGINAL
    elif out.extra.get("rise") and out.extra.get("p_rise", 1.0) < alpha:
        out.result = MARGINAL
    elif out.needed is not None:
        out.result = INCONCLUSIVE
    else:
        out.result = PASS


def rate_share_check(spec: CheckSpec, route: str, base: Side, cand: Side,
                     alpha: float) -> Outcome:
    """Request rate when both versions serve at once: a route's share of each version's
    traffic (a canary's traffic is a slice; its mix, not its level, is comparable)."""
    n0, n1 = base.requests(OVERALL), cand.requests(OVERALL)
    k0, k1 = base.requests(route), cand.requests(route)
    out = Outcome(spec.name, route, spec, round(k0 / n0, 6) if n0 else None,
                  round(k1 / n1, 6) if n1 else None, requests=(k0, k1))
    out.extra["basis"] = "share of the version's requests"
    if n0 == 0 or n1 == 0:
        out.result = INCONCLUSIVE
        return out
    lo, hi = share_interval(k1, n1, k0, n0)
    p0, p1 = k0 / n0, k1 / n1
    out.change = p1 - p0
    out.interval = (lo, hi)
    out.p_value = share_p(k1, n1, k0, n0, up=False)
    out.significant_effect = p1 < p0 / (1 + spec.tolerance) and p0 - p1 > 0.01
    out.confident = p0 + hi < p0 / (1 + spec.tolerance / 2)
    out.mde = share_mde(p0, n0, n1, alpha, up=False)
    return out
