"""Summaries of share surges judged over a grown span on a quiet route."""

from __future__ import annotations

from typing import Any

from detector.detectors.base import Signal
from detector.incidents.summary import describe


def _sig(**extra: Any) -> Signal:
    return Signal(kind="error_surge", service="partners", route="/v1/partners/{id}",
                  method="GET", client=None, start=0.0, end=60.0, score=0.9,
                  observed=0.275, baseline=0.008, requests=3, p_value=1e-9,
                  extra={"window_seconds": 60.0, **extra}, samples=[])


def test_a_grown_span_says_how_many_requests_over_how_long() -> None:
    text = describe(_sig(horizon_seconds=1200.0, horizon_hits=11, horizon_requests=40), 0.0)
    assert "5xx rate 27.5%, 11/40 requests over 20 min (baseline 0.8%)" in text


def test_a_busy_route_judged_on_a_few_windows_reads_as_before() -> None:
    text = describe(_sig(horizon_seconds=300.0, horizon_hits=30, horizon_requests=200), 0.0)
    assert "5xx rate 27.5% (baseline 0.8%)" in text
    assert describe(_sig(), 0.0).startswith("GET /v1/partners/{id} 5xx rate 27.5% (baseline")


def test_an_authorization_drift_names_the_status_both_shares_and_the_successes() -> None:
    from dataclasses import replace

    from detector.incidents.summary import severity

    sig = replace(_sig(status=403, successes_up=0.24), kind="authorization_drift",
                  route="/v1/accounts/{id}/statements", observed=0.002, baseline=0.198)
    assert describe(sig, 0.0) == ("GET /v1/accounts/{id}/statements 403 rate 0.2% after deploy "
                                  "(was 19.8%), successes up 24%")
    assert severity(sig) == "critical"
    assert severity(replace(sig, baseline=0.05, observed=0.0)) == "high"
