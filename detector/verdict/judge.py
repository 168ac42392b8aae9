"""The judge: every check on every route, adjusted, scored, and written as a record.

Per check, the routes' p-values form one family (Benjamini-Hochberg at the
policy's ``alpha``). A check's score is its worst route (pass 1, marginal 0.5,
fail 0); the verdict's score is the mean over the checks that could be judged,
0-100. Any critical check failing fails the verdict; too little traffic for a
critical check on the whole service, with nothing failing, is ``inconclusive``
(never a pass); below ``pass_score`` it is ``marginal``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from detector import __version__
from detector.detectors.sensitive_routes import sensitive_reason
from detector.incidents.timefmt import iso
from detector.verdict.checks import (
    FAIL,
    INCONCLUSIVE,
    MARGINAL,
    PASS,
    Outcome,
    decide,
    dispersion,
    rate_share_check,
    share_check,
    window_check,
)
from detector.verdict.collect import Agg
from detector.verdict.policy import CHECK_NAMES, Policy
from detector.verdict.sides import OVERALL, Side, WinAgg, build_side, version_counts
from detector.verdict.specs import SPECS, effective
from detector.verdict.stats import bh_adjust

SCHEMA = 1
_VALUE = {PASS: 1.0, MARGINAL: 0.5, FAIL: 0.0}
_ORDER = {FAIL: 0, MARGINAL: 1, INCONCLUSIVE: 2, PASS: 3}
PARAM_MIN = 3  # requests carrying a parameter before it counts as new
PARAM_SHARE = 0.01  # ... and this share of the route's requests
CONCURRENT_SHARE = 0.05  # the old version's share of the window for a canary baseline


# An incident as the judge needs it: id, kind, route ("METHOD /route" or None), start
# (epoch seconds), version and deployment (the deployment's version, or None).
IncidentRef = dict[str, Any]


@dataclass
class Evaluation:
    """One deployment under evaluation: its windows, what was known before it, and the
    incidents raised around it."""

    service: str
    version: str
    previous_version: str | None
    deployed_at: float
    cand_start: float
    cand_end: float
    baseline: list[WinAgg] = field(default_factory=list)
    candidate: list[WinAgg] = field(default_factory=list)
    known_routes: frozenset[str] = frozenset()
    known_params: dict[str, frozenset[str]] = field(default_factory=dict)
    cut_at: float | None = None  # a later deploy ended the candidate window early
    # Requests per window and route at the baseline's and the candidate's hours the day
    # before (None: the history does not reach back): the request rate's daily shape.
    day_before: tuple[list[dict[str, int]], list[dict[str, int]]] | None = None


def _round(x: float | None, digits: int = 6) -> float | None:
    if x is None or not math.isfinite(x):
        return None if x is None or math.isnan(x) else (1e308 if x > 0 else -1e308)
    return round(x, digits)


def _mode(ev: Evaluation, policy: Policy) -> tuple[str, str | None]:
    """``previous`` or ``concurrent``, and why a requested mode could not be used."""
    # Only windows the candidate serves in: an old version serving before the new one
    # starts (a deploy announced early) is not serving beside it.
    mine = others = 0
    for w in ev.candidate:
        counts = version_counts([w])
        here = counts.get(ev.version, 0)
        if here:
            mine += here
            others += sum(n for v, n in counts.items() if v not in (ev.version, None))
    can = mine > 0 and others >= policy.concurrent_min_requests and \
        others >= CONCURRENT_SHARE * (mine + others)
    if policy.baseline == "concurrent":
        if can:
            return "concurrent", None
        return "previous", "no other version served beside the candidate: previous baseline"
    if policy.baseline == "auto" and can:
        return "concurrent", None
    return "previous", None


def _sides(ev: Evaluation, policy: Policy, mode: str) -> tuple[Side, Side]:
    counts = version_counts(ev.candidate)
    versioned = counts.get(ev.version, 0) > 0
    included = policy.route_included

    def cand_keep(v: str | None) -> bool:
        return v == ev.version if versioned else v is None

    if mode == "concurrent":
        base = build_side(ev.candidate, lambda v: v not in (ev.version, None), included)
    else:
        base = build_side(ev.baseline, lambda v: v != ev.version, included)
    return base, build_side(ev.candidate, cand_keep, included)


def _routes_to_judge(base: Side, cand: Side, policy: Policy) -> list[str]:
    out = [OVERALL]
    for route in sorted(set(base.total) | set(cand.total)):
        if route == OVERALL:
            continue
        if max(base.requests(route), cand.requests(route)) >= policy.min_route_requests:
            out.append(route)
    return out


def _new_endpoints(ev: Evaluation, base: Side, cand: Side) -> list[Outcome]:
    spec = SPECS["new_endpoints"]
    outs: list[Outcome] = []
    for route in sorted(cand.total):
        if route == OVERALL or route in ev.known_routes or base.requests(route):
            continue
        t = cand.total[route]
        ok = t.count - t.err5 - t.err4 - t.auth - t.nf
        if ok <= 0:
            continue  # probes of paths that do not exist: not an endpoint
        o = Outcome("new_endpoints", route, spec, 0.0, float(t.requests()),
                    requests=(0, t.requests()))
        why = sensitive_reason(route.split(" ", 1)[-1])
        if why is not None:
            o.result = FAIL
            o.detail = f"new sensitive endpoint ({why}) answered {ok} requests with success"
        else:
            o.detail = f"new endpoint: {ok} successful answers"
        outs.append(o)
    worst = min((o.result for o in outs), key=_ORDER.__getitem__, default=PASS)
    whole = Outcome("new_endpoints", OVERALL, spec, 0.0, float(len(outs)), result=worst,
                    detail=f"{len(outs)} new routes" if outs else "no new route")
    return [whole, *outs]


def _new_parameters(ev: Evaluation, base: Side, cand: Side, routes: list[str]
                    ) -> list[Outcome]:
    spec = SPECS["new_parameters"]
    outs: list[Outcome] = []
    for route in routes:
        if route == OVERALL:
            continue
        t = cand.total.get(route)
        if t is None or not t.params:
            continue
        before = set(ev.known_params.get(route, ())) | set(
            (base.total[route].params or {}) if route in base.total else {})
        need = max(PARAM_MIN, PARAM_SHARE * t.requests())
        new = sorted(n for n, c in t.params.items() if c >= need and n not in before)
        if new:
            o = Outcome("new_parameters", route, spec, 0.0, float(len(new)),
                        requests=(base.requests(route), t.requests()), result=MARGINAL,
                        detail="new parameters: " + ", ".join(new[:10]))
            outs.append(o)
    worst = MARGINAL if outs else PASS
    return [Outcome("new_parameters", OVERALL, spec, 0.0, float(len(outs)), result=worst,
                    detail=f"{len(outs)} routes with new parameters" if outs else None),
            *outs]


def _incident_check(name: str, ev: Evaluation, incidents: list[IncidentRef],
                    base_span: tuple[float, float] | None,
                    cand_span: tuple[float, float] | None) -> Outcome:
    spec = SPECS[name]

    def count(span: tuple[float, float] | None) -> tuple[int, float]:
        if span is None:
            return 0, 0.0
        n = sum(1 for i in incidents if i["kind"] in spec.kinds
                and span[0] <= i["start"] < span[1])
        return n, (span[1] - span[0]) / 3600.0

    k0, h0 = count(base_span)
    k1, h1 = count(cand_span)
    r0 = k0 / h0 if h0 else 0.0
    r1 = k1 / h1 if h1 else 0.0
    o = Outcome(name, OVERALL, spec, _round(r0, 3), _round(r1, 3))
    o.extra["unit"] = "incidents per hour"
    worse = k1 > 0 and r1 > spec.ratio * r0
    if worse:
        o.result = MARGINAL if name == "scanning" else FAIL
        o.detail = f"{k1} incidents in the candidate window, {k0} before"
    return o


def _attach(outs: list[Outcome], ev: Evaluation, incidents: list[IncidentRef],
            cand_span: tuple[float, float] | None) -> None:
    lo = (cand_span[0] if cand_span else ev.cand_start) - 60.0
    hi = cand_span[1] if cand_span else ev.cand_end
    for o in outs:
        kinds = o.spec.kinds
        if not kinds:
            continue
        ids = []
        for inc in incidents:
            if inc["kind"] not in kinds:
                continue
            if o.route != OVERALL and inc["route"] != o.route:
                continue
            mine = inc.get("version") == ev.version or (
                inc.get("deployment") == ev.version and lo <= inc["start"] < hi)
            if mine or lo <= inc["start"] < hi:
                ids.append(inc["id"])
        o.incidents = sorted(set(ids))


def evaluate_checks(ev: Evaluation, policy: Policy, incidents: list[IncidentRef],
                    analysis: bool) -> tuple[list[Outcome], list[str], str, str | None,
                                             Side, Side]:
    """Every check's outcomes (adjusted and decided), the checks not evaluated, the mode."""
    mode, note = _mode(ev, policy)
    base, cand = _sides(ev, policy, mode)
    routes = _routes_to_judge(base, cand, policy)
    outs: list[Outcome] = []
    not_evaluated: list[str] = []
    for name in CHECK_NAMES:
        over = policy.check(name)
        if not over.enabled:
            continue
        spec = effective(SPECS[name], policy)
        if spec.needs_analysis and not analysis:
            not_evaluated.append(name)
            continue
        family: list[Outcome] = []
        tested = spec.basis in ("share", "windows")
        if spec.basis == "share":
            family = [share_check(spec, r, base.total.get(r) or Agg(),
                                  cand.total.get(r) or Agg(), policy.alpha,
                                  dispersion(base.windows.get(r, []), cand.windows.get(r, []),
                                             name))
                      for r in routes]
        elif spec.basis == "windows":
            if name != "request_rate" and not _has_data(base, cand, name):
                not_evaluated.append(name)  # the logs carry no latency (CLF) or no sizes
                continue
            if name == "request_rate" and mode == "concurrent":
                family = [rate_share_check(spec, r, base, cand, policy.alpha)
                          for r in routes if r != OVERALL]
            else:
                family = [window_check(spec, r, base.windows.get(r, []),
                                       cand.windows.get(r, []), policy.alpha,
                                       scale=_daily_growth(ev, r, policy)
                                       if name == "request_rate" else None)
                          for r in routes]
        elif spec.basis == "routes":
            family = _new_endpoints(ev, base, cand)
        elif spec.basis == "params":
            family = _new_parameters(ev, base, cand, routes)
        elif spec.basis == "incidents":
            family = [_incident_check(name, ev, incidents, base.span if mode == "previous"
                                      else None, cand.span)]
        if name == "request_rate":
            # One route's traffic moves for reasons of its own (a crawler, a campaign, a
            # client's batch): a route's drop is worth a look, the service's is a failure.
            for o in family:
                if o.route != OVERALL:
                    o.worst = MARGINAL
                    o.spec = spec._replace(critical=False)
        if tested and family:
            adjusted = bh_adjust([o.p_value for o in family])
            for o, p in zip(family, adjusted, strict=True):
                decide(o, p, policy.alpha)
        for o in family:
            if o.route == OVERALL or name != "request_rate":
                o.spec = spec
        outs.extend(family)
    _attach(outs, ev, incidents, cand.span)
    return outs, not_evaluated, mode, note, base, cand


def _has_data(base: Side, cand: Side, check: str) -> bool:
    """Whether the logs give the check anything to read (durations, response sizes)."""
    field = "hist" if check.startswith("latency") else "sizes"
    return any(getattr(side.total.get(OVERALL), field, None) for side in (base, cand))


def _daily_growth(ev: Evaluation, route: str, policy: Policy) -> float | None:
    """How much the route's traffic grew from the baseline's hours to the candidate's hours
    the day before (the daily shape a deploy at 9:00 rides on); None without that history."""
    if ev.day_before is None:
        return None
    base, cand = ev.day_before

    def level(wins: list[dict[str, int]]) -> float:
        if route == OVERALL:
            vals = sorted(sum(n for r, n in w.items() if policy.route_included(r)) for w in wins)
        else:
            vals = sorted(w.get(route, 0) for w in wins)
        return float(vals[len(vals) // 2]) if vals else 0.0

    b, c = level(base), level(cand)
    if b < 5 or c < 5:
        return None  # too thin a day before to say anything about its shape
    return c / b


def score_and_verdict(outs: list[Outcome], policy: Policy) -> tuple[int, str]:
    """0-100 and pass | marginal | fail | inconclusive (see the module docstring)."""
    groups: dict[str, list[Outcome]] = {}
    for o in outs:
        groups.setdefault(o.check, []).append(o)
    values = []
    for group in groups.values():
        judged = [_VALUE[o.result] for o in group if o.result in _VALUE]
        if judged:
            values.append(min(judged))
    score = int(round(100 * sum(values) / len(values))) if values else 0
    critical_fail = any(o.result == FAIL and o.spec.critical for o in outs)
    if critical_fail or (values and score < policy.fail_score):
        return score, FAIL
    blind = any(o.result == INCONCLUSIVE and o.spec.critical and o.route == OVERALL
                for o in outs)
    if blind or not values:
        return score, INCONCLUSIVE
    if score < policy.pass_score or any(o.result == MARGINAL and o.spec.critical for o in outs):
        return score, MARGINAL
    return score, PASS


def _check_json(o: Outcome) -> dict[str, Any]:
    d: dict[str, Any] = {
        "check": o.check, "route": o.route, "baseline": _round(o.baseline),
        "candidate": _round(o.candidate),
        "interval": [_round(o.interval[0]), _round(o.interval[1])] if o.interval else None,
        "mde": _round(o.mde), "result": o.result, "critical": o.spec.critical,
        "incidents": o.incidents, "unit": o.extra.get("unit", o.spec.unit),
        "requests": list(o.requests),
    }
    if o.change is not None:
        d["change"] = _round(o.change)
        d["change_type"] = "ratio" if o.spec.basis == "windows" and o.route and \
            o.extra.get("basis") is None else "difference"
    if o.interval is not None or o.change is not None:
        d["p_value"] = float(f"{o.p_value:.4g}")
    if o.needed is not None and o.result == INCONCLUSIVE:
        d["needed_requests"] = o.needed
    if o.detail:
        d["detail"] = o.detail
    if "bins" in o.extra:
        d["windows"] = o.extra["bins"]
    if "daily_growth" in o.extra:  # baseline scaled by the same hours' growth the day before
        d["daily_growth"] = o.extra["daily_growth"]
    return d


def judge(ev: Evaluation, policy: Policy, incidents: list[IncidentRef], *,
          analysis: bool, models: dict[str, str] | None = None) -> dict[str, Any]:
    """The release record of ``ev`` (CONTRACTS §6), without its digest and signature."""
    outs, not_evaluated, mode, note, base, cand = evaluate_checks(ev, policy, incidents,
                                                                  analysis)
    score, verdict = score_and_verdict(outs, policy)
    outs.sort(key=lambda o: (CHECK_NAMES.index(o.check), o.route != OVERALL, o.route))
    needed = [o.needed for o in outs if o.result == INCONCLUSIVE and o.route == OVERALL
              and o.spec.critical and o.needed]
    rec: dict[str, Any] = {
        "schema": SCHEMA, "service": ev.service, "version": ev.version,
        "previous_version": ev.previous_version, "deployed_at": iso(ev.deployed_at),
        "windows": {"baseline": [iso(base.span[0]), iso(base.span[1])] if base.span else None,
                    "candidate": [iso(cand.span[0]), iso(cand.span[1])] if cand.span else None,
                    "mode": mode},
        "traffic": {"baseline_requests": base.requests(), "candidate_requests": cand.requests(),
                    "routes": len([r for r in cand.total if r != OVERALL])},
        "checks": [_check_json(o) for o in outs],
        "not_evaluated": not_evaluated,
        "score": score, "verdict": verdict,
        "producer": {"detector": __version__, "models": dict(sorted((models or {}).items()))},
        "policy": policy.model_dump(mode="json"),
    }
    notes = [n for n in (note,) if n]
    if ev.cut_at is not None:
        notes.append(f"candidate window cut short by the next deploy at {iso(ev.cut_at)}")
    if verdict == INCONCLUSIVE and needed:
        rec["traffic"]["needed_requests"] = max(needed)
    if notes:
        rec["notes"] = notes
    return rec
