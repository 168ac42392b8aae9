"""Human summaries and severities of incidents, with the numbers in them."""

from __future__ import annotations

from detector.detectors.base import Signal
from detector.incidents.timefmt import hhmm


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%" if x < 0.995 else "100%"


def _secs(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def _span(sig: Signal) -> str:
    """", 11/40 requests over 20 min" when a quiet route was judged over a grown span."""
    ex = sig.extra
    secs, hits, n = ex.get("horizon_seconds"), ex.get("horizon_hits"), ex.get("horizon_requests")
    if secs is None or hits is None or n is None or secs <= ex.get("window_seconds", 60.0) * 5:
        return ""
    return f", {hits:,}/{n:,} requests over {secs / 60:.0f} min"


def _bytes(x: float) -> str:
    """A response size the way people read one: "850 B", "9.0 KB", "11 KB", "2.4 MB"."""
    for unit, size in (("MB", 1024.0 * 1024.0), ("KB", 1024.0)):
        if x >= size:
            v = x / size
            return f"{v:.1f} {unit}" if v < 9.95 else f"{v:.0f} {unit}"
    return f"{x:.0f} B"
def _population(sig: Signal) -> str:
    """", confined to ShopApp/3 (Android)" when one user-agent family holds the change."""
    pop = sig.extra.get("population")
    if not isinstance(pop, dict) or not pop.get("user_agent_family"):
        return ""
    return f", confined to {pop['user_agent_family']}"


def describe(sig: Signal, start: float) -> str:
    """The summary text without the deployment suffix."""
    target = f"{sig.method} {sig.route}" if sig.method else (sig.route or "")
    per_min = 60.0 / max(sig.extra.get("window_seconds", 60.0), 1.0)
    since = f" since {hhmm(start)}"
    if sig.version is not None and "other_version" in sig.extra:
        return _versioned(sig, target, since)
    if sig.kind == "traffic_spike":
        return (
            f"{target} traffic {sig.observed * per_min:,.0f} req/min "
            f"(expected {sig.baseline * per_min:,.0f}){since}"
        )
    if sig.kind == "traffic_drop":
        return (
            f"{target} traffic {sig.observed * per_min:,.0f} req/min "
            f"(expected {sig.baseline * per_min:,.0f}){_population(sig)}{since}"
        )
    if sig.kind == "error_surge":
        return (f"{target} 5xx rate {_pct(sig.observed)}{_span(sig)} "
                f"(baseline {_pct(sig.baseline)}){since}")
    if sig.kind == "client_error_surge":
        return (f"{target} 4xx rate {_pct(sig.observed)}{_span(sig)} "
                f"(baseline {_pct(sig.baseline)}){_population(sig)}{since}")
    if sig.kind == "latency_regression":
        return f"{target} p95 latency {_secs(sig.observed)} (baseline {_secs(sig.baseline)}){since}"
    if sig.kind == "auth_failure_burst":
        if sig.client:
            where = f" on {sig.route}" if sig.route else ""
            return (
                f"client {sig.client}: {sig.observed:,.0f} auth failures (401/403) in one window"
                f"{where}{since}"
            )
        crowd = sig.extra.get("campaign")
        many = f" from {crowd['clients_seen']:,} clients" if isinstance(crowd, dict) else ""
        return (f"{target} 401/403 rate {_pct(sig.observed)} (baseline {_pct(sig.baseline)})"
                f"{many}{since}")
    ex = sig.extra
    if sig.kind == "scanning" and isinstance(ex.get("campaign"), dict):
        crowd = ex["campaign"]
        paths = ", ".join(crowd.get("example_paths", [])[:3])
        return (f"{crowd['clients']:,} clients probed {crowd['paths']:,} missing paths "
                f"({paths}, ...){since}")
    if sig.kind == "scanning":
        paths = ", ".join(ex.get("example_paths", [])[:3])
        n = int(ex.get("distinct_missing_paths_recent", sig.observed))
        return f"client {sig.client} probed {n} distinct missing paths ({paths}, ...){since}"
    if sig.kind in ("attack_payload", "unusual_payload"):
        n = int(ex.get("findings", sig.observed))
        if sig.kind == "attack_payload":
            what = f"{', '.join(ex.get('attack_types', []))} payloads"
        else:
            why = "; ".join(ex.get("top_reasons", [])[:2])
            what = f"payloads unlike the route's usual ones ({why})"
        if sig.client:
            where = f" on {sig.route}" if sig.route else ""
            return f"client {sig.client}: {n} requests with {what}{where}{since}"
        clients = ex.get("distinct_clients")
        many = f" from {clients} clients" if clients else ""
        return f"{target}: {n} requests with {what}{many}{since}"
    if sig.kind == "authorization_drift":
        up = ex.get("successes_up")
        more = f", successes up {up * 100:.0f}%" if isinstance(up, int | float) else ""
        return (f"{target} {ex.get('status', '401/403')} rate {_pct(sig.observed)} after deploy "
                f"(was {_pct(sig.baseline)}){more}")
    if sig.kind == "object_enumeration":
        return _walk(sig, target)
    if sig.kind == "new_endpoint":
        n = int(ex.get("successful_requests", sig.observed))
        return f"{target}: new route serving traffic ({n} successful requests){since}"
    if sig.kind == "data_exposure":
        return (f"{target} response size median {_bytes(sig.observed)} (was "
                f"{_bytes(sig.baseline)}), p90 {_bytes(ex.get('p90_bytes', 0))} (was "
                f"{_bytes(ex.get('baseline_p90_bytes', 0))}){since}")
    return f"{sig.kind} on {target or sig.client}{since}"


def _versioned(sig: Signal, target: str, since: str) -> str:
    """A change confined to one version, against the version serving beside it (a canary)."""
    ex = sig.extra
    share = ex.get("version_share")
    scope = f" (canary, {share * 100:.0f} % of traffic)" if isinstance(share, float) else ""
    if sig.kind == "error_surge":
        what, new, old = "5xx", f"{sig.observed * 100:.1f} %", f"{sig.baseline * 100:.1f} %"
    elif sig.kind == "latency_regression":
        what, new, old = "p95 latency", _secs(sig.observed), _secs(sig.baseline)
    else:
        what, new, old = "median 2xx size", f"{sig.observed:,.0f} B", f"{sig.baseline:,.0f} B"
    return f"{target} {what} {new} on {sig.version}{scope} vs {old} on {ex['other_version']}{since}"
def _walk(sig: Signal, target: str) -> str:
    """"client 203.0.113.9 walked 1,240 distinct ids on GET /v1/orders/{id} in 20 min
    (ids 1000-2240, 96 % sequential, 8 % 404); clients touch at most 6 per hour"."""
    ex = sig.extra
    who = f"client {sig.client}" if sig.client else f"{ex.get('clients', 0)} clients together"
    mins = max(1.0, ex.get("horizon_seconds", 60.0) / 60.0)
    how = []
    rng = ex.get("id_range")
    if rng:
        how.append(f"ids {rng[0]}-{rng[1]}")
    if sig.client and ex.get("sequential_share", 0.0) >= 0.05:
        how.append(f"{ex['sequential_share'] * 100:.0f} % sequential")
    how.append(f"{ex.get('not_found_share', 0.0) * 100:.0f} % 404")
    normal = ex.get("normal_per_client_hour")
    usual = (f"clients touch at most {normal:,.0f} per hour" if normal is not None
             else "no client seen touching that many")
    return (f"{who} walked {int(sig.observed):,} distinct ids on {target} in {mins:.0f} min "
            f"({', '.join(how)}); {usual}")


def severity(sig: Signal) -> str:
    """low / medium / high / critical from the effect size."""
    o, b = sig.observed, sig.baseline
    if sig.kind in ("error_surge", "client_error_surge", "auth_failure_burst") and not sig.client:
        delta = o - b
        return "critical" if delta >= 0.3 else "high" if delta >= 0.1 else "medium"
    if sig.kind == "traffic_drop":
        return "critical" if o <= 0.05 * max(b, 1) else "high" if o <= 0.25 * b else "medium"
    ratio = o / b if b > 0 else float("inf")
    if sig.kind == "traffic_spike":
        return "high" if ratio >= 5 else "medium"
    if sig.kind == "latency_regression":
        return "critical" if ratio >= 5 else "high" if ratio >= 2.5 else "medium"
    if sig.kind == "auth_failure_burst":
        return "high" if o >= 100 else "medium"
    if sig.kind == "data_exposure":
        grown = max(ratio, sig.extra.get("p90_ratio", 1.0))
        return "high" if grown >= 3 else "medium"
    if sig.kind == "authorization_drift":  # a dropped permission check: data of others
        return "critical" if b - o >= 0.1 else "high"
    if sig.kind == "object_enumeration":
        return "high" if o >= 500 or not sig.client else "medium"
    return "medium"


SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
