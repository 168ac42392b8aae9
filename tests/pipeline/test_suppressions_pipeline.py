"""Suppressions and maintenance windows through the pipeline (CONTRACTS §7, issue 14)."""

from __future__ import annotations

import numpy as np

from detector.config import Settings
from detector.events import AccessEvent
from detector.incidents.model import Incident
from detector.incidents.suppressions import Suppressions
from detector.incidents.timefmt import iso, parse_iso
from detector.jobs.replay import apply_suppressions
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from detector.sinks.webhook import WebhookSink
from detector.state import dumps
from tests.pipeline.synthetic import DEPLOY_AT, T0, _bad_deploy_status, traffic

CRAWLER = "66.249.66.7"
BOT_UA = "Googlebot/2.1 (+http://www.google.com/bot.html)"


def _crawl() -> list[AccessEvent]:
    """A search engine's crawler walking missing pages: a scanning incident for its client."""
    return [AccessEvent(T0 + 100 * 60 + i * 0.5, "pay", None, "GET", f"/old-page-{i}", "",
                        404, 0.02, 10, CRAWLER, BOT_UA, None, None, "t.log", 0)
            for i in range(120)]


def _rules(*rules: dict[str, object], maintenance: tuple[dict[str, object], ...] = ()
           ) -> Suppressions:
    return Suppressions.parse({"suppress": list(rules), "maintenance": list(maintenance)})


def _run(events: list[AccessEvent], rules: Suppressions | None,
         *extra_sinks: WebhookSink) -> tuple[Pipeline, list[Incident]]:
    sink = MemorySink()
    p = Pipeline(Settings(), [sink, *extra_sinks])
    apply_suppressions(p, rules)
    p.process(sorted(events, key=lambda e: e.ts))
    p.finish()
    return p, sink.items


def _crawler_rule(expires: str) -> dict[str, object]:
    return {"service": "pay", "kind": ["scanning"], "client": "66.249.64.0/19",
            "user_agent": "Googlebot*", "reason": "search crawler", "author": "ops",
            "expires": expires}


def test_a_heavy_legitimate_client_is_kept_counted_and_not_paged() -> None:
    events = [*traffic(150, rate=6), *_crawl()]
    _, plain = _run(events, None)
    assert [(i.kind, i.client) for i in plain if i.status == "open"] == [("scanning", CRAWLER)]
    pager = WebhookSink("http://127.0.0.1:9/hook", allow_private=True)
    try:
        p, incs = _run(events, _rules(_crawler_rule("2026-12-31T00:00:00Z")), pager)
        # Stored (every change, marked), counted, and never handed to the pager.
        assert [(i.kind, i.client) for i in incs if i.status == "open"] == [("scanning", CRAWLER)]
        assert incs and all(i.suppressed for i in incs)
        assert [i.model_dump(exclude={"suppressed"}) for i in incs] == [
            i.model_dump(exclude={"suppressed"}) for i in plain]
        assert p.summary.suppressed == {"scanning": 1} and p.summary.incidents == {"scanning": 1}
        assert (pager.withheld, pager.pending, pager.delivered) == (len(incs), 0, 0)
    finally:
        pager.close()


def test_an_expired_rule_stops_applying_by_event_time() -> None:
    events = [*traffic(150, rate=6), *_crawl()]
    before_crawl = iso(T0 + 90 * 60)
    p, incs = _run(events, _rules(_crawler_rule(before_crawl)))
    opened = [i for i in incs if i.status == "open"]
    assert [(i.kind, i.client, i.suppressed) for i in opened] == [("scanning", CRAWLER, None)]
    assert not p.summary.suppressed


def test_a_rule_for_another_agent_or_network_does_not_cover_the_crawler() -> None:
    events = [*traffic(150, rate=6), *_crawl()]
    for other in ({"user_agent": "bingbot*"}, {"client": "203.0.113.0/24"}):
        _, incs = _run(events, _rules({**_crawler_rule("2026-12-31T00:00:00Z"), **other}))
        assert [i.suppressed for i in incs if i.status == "open"] == [None]


def test_a_route_keyed_incident_is_covered_by_the_clients_that_make_it() -> None:
    events = traffic(150, rate=8, status=_bad_deploy_status,
                     version=lambda t: "2.32.0" if t >= DEPLOY_AT else "2.31.0")
    base = {"service": "pay", "kind": "error_surge", "route": "/v2/payments/{id}/refunds",
            "reason": "known", "author": "ops", "expires": "2026-12-31T00:00:00Z"}
    _, ours = _run(events, _rules({**base, "client": "10.0.0.0/16"}))  # every synthetic client
    assert [(i.kind, i.suppressed) for i in ours if i.status == "open"] == [("error_surge", True)]
    _, theirs = _run(events, _rules({**base, "client": "10.9.0.0/16"}))
    assert [(i.kind, i.suppressed) for i in theirs if i.status == "open"] == [
        ("error_surge", None)]


# A maintenance window over the windows from 100 to 130 min after T0, whose traffic is
# broken (a migration).
M_START, M_END = (T0 + 100 * 60) // 60 * 60, (T0 + 131 * 60) // 60 * 60
MAINTENANCE = ({"service": "pay", "start": iso(M_START), "end": iso(M_END),
                "reason": "database migration"},)


def _migration_status(t: float, rng: np.random.Generator) -> int:
    if 100 * 60 <= t < 130 * 60:
        return 503 if rng.random() < 0.4 else 200
    return 500 if rng.random() < 0.002 else 200


def _migration_latency(t: float, rng: np.random.Generator) -> float:
    return 0.8 if 100 * 60 <= t < 130 * 60 else 0.05


def test_a_maintenance_window_raises_nothing_and_leaves_the_baselines_untouched() -> None:
    events = traffic(240, rate=8, status=_migration_status, latency=_migration_latency)
    without_period = [e for e in events if not M_START <= e.ts < M_END]
    _, unmuted = _run(events, None)
    in_period = {i.kind for i in unmuted
                 if i.status == "open" and M_START <= parse_iso(i.start) < M_END}
    assert in_period == {"error_surge", "latency_regression"}, "the migration is anomalous"

    rules = _rules(maintenance=MAINTENANCE)
    muted, incs = _run(events, rules)
    absent, incs_absent = _run(without_period, rules)
    # What the detectors found in the window is kept, marked and counted, never paged...
    kept = [i for i in incs if i.suppressed]
    assert {i.kind for i in kept if i.status == "open"} == in_period
    assert all(M_START <= parse_iso(i.start) < M_END for i in kept)
    assert sorted(i.id for i in kept if i.status == "open") == sorted(
        i.id for i in kept if i.status == "resolved")  # each also closed
    assert muted.summary.suppressed == dict.fromkeys(in_period, 1)
    # ... and the detectors are exactly where they would be had the period's traffic
    # never come: same baselines, same incident memory, same incidents besides.
    assert dumps(muted.series.snapshot()) == dumps(absent.series.snapshot())
    assert dumps(muted.incidents.snapshot()) == dumps(absent.incidents.snapshot())
    assert [i for i in incs if not i.suppressed] == [i for i in incs_absent
                                                     if not i.suppressed]
    assert not [i for i in incs_absent if i.suppressed]  # nothing to find in silence
    # ... and not where they are when the broken traffic is learned.
    unmuted_p, _ = _run(events, None)
    assert dumps(unmuted_p.series.snapshot()) != dumps(muted.series.snapshot())


def test_a_learn_rule_lets_the_baselines_take_in_a_false_positive() -> None:
    # The route's traffic triples for good at 120 min: a new normal the detector calls a
    # spike. Flagged windows are learned by no baseline, so on its own it keeps flagging
    # until the end; a false positive's rule with ``learn = true`` has them learned.
    events = traffic(300, rate=4, rate_at=lambda t: 4.0 if t < 120 * 60 else 12.0)
    fp = {"service": "pay", "kind": ["traffic_spike"], "route": "/v2/payments/{id}/refunds",
          "reason": "new partner", "author": "ops", "expires": "2026-12-31T00:00:00Z"}
    spans = {}
    for name, rules in (("none", None), ("suppress", _rules(fp)),
                        ("learn", _rules({**fp, "learn": True}))):
        _, incs = _run(events, rules)
        (resolved,) = [i for i in incs if i.status == "resolved"]
        assert resolved.kind == "traffic_spike"
        assert bool(resolved.suppressed) == (rules is not None)
        spans[name] = parse_iso(resolved.end) - parse_iso(resolved.start)
    assert spans["suppress"] == spans["none"] >= 60 * 60
    assert spans["learn"] <= 5 * 60
