"""``detector explain`` for the kinds decided by rules and per-deploy comparisons:
scanners, payloads, a client's auth failures, new routes, authorization drift,
data exposure and object enumeration (the rate and count kinds are in
:mod:`detector.incidents.explain`)."""

from __future__ import annotations

from detector.config import Settings
from detector.incidents.explain import Explanation, num, pct, pval
from detector.incidents.model import Incident


def explain_auth_client(inc: Incident, s: Settings) -> Explanation:
    """One client's 401/403s: a count and a share, decayed over recent windows."""
    ev, d = inc.evidence, s.detectors
    fails, share = num(ev, "failures"), num(ev, "share")
    decayed = num(ev, "decayed_failures", fails)
    x = Explanation(inc)
    x.figures = [("failures", f"{fails:,.0f} answers 401/403 in the window "
                              f"({decayed:,.1f} counting the recent windows, decayed)"),
                 ("share", f"{pct(share)} of the client's requests failed"),
                 ("volume", f"{num(ev, 'requests'):,.0f} requests from this client")]
    x.test = "thresholds on one client's failures (no baseline: clients come and go)."
    x.why = [f"It fired because the client had at least {d.auth_client_min_failures} "
             f"failures (in a window, or decayed over several) and at least "
             f"{pct(d.auth_client_min_share)} of its requests failed."]
    x.would_not = (f"with fewer than {d.auth_client_min_failures} failures (it had "
                   f"{max(fails, decayed):,.0f}), or under {pct(d.auth_client_min_share)} of its "
                   f"requests failing (it had {pct(share)}).")
    return x


def explain_scanning(inc: Incident, s: Settings) -> Explanation:
    """One client asking for many paths that do not exist."""
    ev, d = inc.evidence, s.detectors
    distinct = int(num(ev, "distinct_missing_paths", num(ev, "observed")))
    recent = int(num(ev, "distinct_missing_paths_recent", distinct))
    share = num(ev, "missing_share")
    x = Explanation(inc)
    x.figures = [("missing paths", f"{distinct:,} distinct paths answered 404 in the window, "
                                   f"{recent:,} over the recent windows"),
                 ("404 share", f"{pct(share)} of the client's requests"),
                 ("examples", ", ".join(ev.get("example_paths", [])[:5]) or "-"),
                 ("p-value", f"{pval(ev.get('p_value', 0.0))} (a score: 10^(-paths/5))")]
    x.test = "a rule on one client: distinct missing paths and the share of its 404s."
    x.why = [f"It fired because the client got a 404 for at least {d.scan_min_paths} "
             "distinct paths (in a window, or over recent ones) and for at least half of "
             "its requests."]
    x.would_not = (f"with fewer than {d.scan_min_paths} distinct missing paths (it had "
                   f"{max(distinct, recent):,}), or fewer than half its requests missing "
                   f"(it had {pct(share)}).")
    return x


def explain_payload(inc: Incident, s: Settings) -> Explanation:
    """Requests carrying attack signatures, or far from the route's learned profile."""
    ev, d = inc.evidence, s.detectors
    findings = int(num(ev, "findings", num(ev, "observed")))
    attack = inc.kind == "attack_payload"
    x = Explanation(inc)
    x.figures = [("findings", f"{findings:,} requests flagged"
                              + (f" ({', '.join(ev.get('attack_types', []))})" if attack else "")),
                 ("reasons", "; ".join(ev.get("top_reasons", [])[:3]) or "-")]
    if ev.get("distinct_clients"):
        x.figures.append(("clients", f"{int(num(ev, 'distinct_clients'))} clients"))
    need = d.attack_min_client_findings if attack else d.unusual_min_client_findings
    x.test = ("signature matches on the decoded request (linear-time engine)" if attack else
              "distance of each request's parameters from the route's learned profile")
    x.test += ", counted per client (or per route for a campaign)."
    x.why = [f"It fired because one client sent at least {need} flagged requests, or "
             f"{d.payload_min_route_clients} or more clients did on one route."]
    if inc.client:
        x.would_not = (f"with fewer than {need} flagged requests from this client (it sent "
                       f"{findings:,}), unless spread over {d.payload_min_route_clients} "
                       "clients.")
    else:
        x.would_not = (f"with fewer than {d.payload_min_route_clients} clients sending flagged "
                       f"requests to the route (it had {int(num(ev, 'distinct_clients'))}), "
                       f"and none of them {need} or more.")
    return x


def explain_new_endpoint(inc: Incident, s: Settings) -> Explanation:
    ev, d = inc.evidence, s.detectors
    ok = int(num(ev, "successful_requests", num(ev, "observed")))
    x = Explanation(inc)
    x.figures = [("successes", f"{ok:,} successful requests on a route never seen before"),
                 ("clients", f"{int(num(ev, 'distinct_clients'))} distinct clients"),
                 ("watched", f"{num(ev, 'watched_seconds') / 60:,.0f} min of the service's "
                             "traffic learned before")]
    x.test = "a rule: a route unseen during the service's learning period serves traffic."
    x.why = [f"It fired because the service had been learned for "
             f"{d.new_endpoint_learning_windows} windows and the route answered at least "
             f"{d.new_endpoint_min_requests} requests, mostly successfully."]
    x.would_not = (f"with fewer than {d.new_endpoint_min_requests} requests on the route, "
                   "mostly failing ones, or during the service's learning period.")
    return x


def explain_authorization_drift(inc: Incident, s: Settings) -> Explanation:
    """A route's denial share after a deploy against the previous version's."""
    ev = inc.evidence
    before, after = num(ev, "share_before", num(ev, "baseline")), num(ev, "share_after",
                                                                      num(ev, "observed"))
    x = Explanation(inc)
    x.figures = [("after deploy", f"{pct(after)} {ev.get('status', '401/403')} "
                                  f"({int(num(ev, 'requests_after')):,} requests)"),
                 ("before", f"{pct(before)} ({num(ev, 'requests_before'):,.0f} requests of "
                            "the previous version, decayed)"),
                 ("p-value", pval(ev.get("p_value", 0.0)))]
    if "successes_up" in ev:
        x.figures.append(("successes", f"up {pct(num(ev, 'successes_up'))} per request of "
                                       "the service"))
    x.test = ("one-sided test that the denial share after the deploy is below the "
              "previous version's (two binomial samples).")
    x.why = ["It fired because, within hours of a deploy, the route's denials fell far below "
             "what the previous version answered, with the p-value below 1e-6."]
    x.would_not = (f"with the denial share after the deploy near its {pct(before)} before, "
                   "or too few requests on either side to tell.")
    return x


def explain_data_exposure(inc: Incident, s: Settings) -> Explanation:
    """2xx response sizes after a deploy against the previous version's."""
    from detector.detectors.data_exposure import ALPHA, GROWTH, TAIL_LIFT, TAIL_MIN_SHARE

    ev = inc.evidence
    x = Explanation(inc)
    x.figures = [("median", f"{num(ev, 'median_bytes'):,.0f} B after, "
                            f"{num(ev, 'baseline_median_bytes'):,.0f} B before "
                            f"({num(ev, 'median_ratio', 1):.2f}x)"),
                 ("p90", f"{num(ev, 'p90_bytes'):,.0f} B after, "
                         f"{num(ev, 'baseline_p90_bytes'):,.0f} B before "
                         f"({num(ev, 'p90_ratio', 1):.2f}x)"),
                 ("answers", f"{int(num(ev, 'answers_after')):,} after, "
                             f"{num(ev, 'answers_before'):,.0f} before"),
                 ("rule", str(ev.get("rule", "-"))),
                 ("p-value", f"{pval(ev.get('p_value', 0.0))} (fires at <= {ALPHA:g})")]
    x.test = ("Mann-Whitney test of the sizes after the deploy against the previous "
              "version's, or a binomial test of the answers above its p99.")
    x.why = [f"It fired because the median and p10 grew by at least {pct(GROWTH - 1)} with "
             f"the p-value below {ALPHA:g} (a jump), or at least {pct(TAIL_MIN_SHARE)} of the "
             f"answers were above the previous p99, {TAIL_LIFT:g}x its 1 % (a tail)."]
    x.would_not = (f"with the median (and p10) grown by less than {pct(GROWTH - 1)} and fewer "
                   f"than {pct(TAIL_MIN_SHARE)} of answers above the previous p99.")
    return x


def explain_enumeration(inc: Incident, s: Settings) -> Explanation:
    """One client (or a few) walking far more object ids than the route's clients do."""
    from detector.detectors.object_enumeration import FACTOR, MIN_IDS, SHARED_MIN_IDS

    ev = inc.evidence
    ids = int(num(ev, "distinct_ids", num(ev, "observed")))
    bar = int(num(ev, "threshold", MIN_IDS))
    normal = ev.get("normal_per_client_hour")
    x = Explanation(inc)
    x.figures = [("distinct ids", f"{ids:,} in {num(ev, 'horizon_seconds', 60) / 60:.0f} min"),
                 ("bar", f"{bar:,} ids (at least {MIN_IDS}, and {FACTOR:g}x what the "
                         f"route's clients reach in an hour)"),
                 ("normal", f"{normal:,.0f} ids per client-hour" if isinstance(normal, int | float)
                  else "no client seen touching that many"),
                 ("404 share", pct(num(ev, "not_found_share")))]
    if inc.client:
        x.figures.append(("route share", f"{pct(num(ev, 'route_share'))} of the client's "
                                         "requests"))
    else:
        x.figures.append(("clients", f"{int(num(ev, 'clients'))} clients sharing the walk"))
    x.test = "distinct ids per client against the route's learned client-hours."
    x.why = [f"It fired because the walk passed {bar:,} distinct ids on a route that made up "
             "most of the client's requests."]
    x.would_not = (f"with fewer than {bar:,} distinct ids ({SHARED_MIN_IDS} each for a walk "
                   "shared by a few clients), or the route a minor part of its requests.")
    return x
