"""``detector explain``: the decision's numbers, and a boundary that is really the boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from detector.cli.app import app
from detector.config import Settings
from detector.detectors.small_counts import binom_sf
from detector.detectors.traffic import _lower_p, _upper_p
from detector.incidents.explain import explain, least_hits
from detector.incidents.model import Incident
from detector.sinks.sqlite import SqliteSink

S = Settings()
D = S.detectors


def incident(kind: str, evidence: dict[str, Any], *, client: str | None = None,
             route: str | None = "/r", inc_id: str = "inc-000000000001",
             status: str = "open") -> Incident:
    return Incident(id=inc_id, status=status, kind=kind, severity="high", service="pay",
                    route=route, method="GET" if route else None, client=client,
                    start="2026-03-20T01:00:00Z", end="2026-03-20T01:01:00Z",
                    detected_at="2026-03-20T01:01:00Z", score=0.9, summary=f"{kind} here",
                    evidence=evidence, deployment=None)


def test_rate_boundary_is_the_least_count_that_fires() -> None:
    n, p0 = 200, 0.01
    ev = {"observed": 0.2, "baseline": p0, "requests": n, "p_value": 1e-20,
          "horizon_windows": 1, "horizon_hits": 40, "horizon_requests": n}
    x = explain(incident("error_surge", ev))
    k = least_hits(n, p0, D.alpha, max(D.ratio_min_hits, int((p0 + D.error_min_increase) * n)))
    assert k is not None and f"with {k - 1} or fewer 5xx of these {n} requests" in x.would_not
    # k fires (effect and test), k - 1 does not.
    assert binom_sf(k, n, p0) <= D.alpha and k / n >= p0 + D.error_min_increase
    assert binom_sf(k - 1, n, p0) > D.alpha or (k - 1) / n < p0 + D.error_min_increase
    text = "\n".join(x.lines())
    for figure in ("observed", "baseline", "effect", "p-value", "volume", "Test:"):
        assert figure in text
    assert "20 % 5xx (40 of 200 requests over 1 min)" in text


def test_client_error_uses_its_own_minimum_increase() -> None:
    ev = {"observed": 0.5, "baseline": 0.0028, "requests": 8, "p_value": 3.65e-20,
          "horizon_windows": 5, "horizon_seconds": 300.0, "horizon_hits": 12,
          "horizon_requests": 52, "hits": 4}
    x = explain(incident("client_error_surge", ev))
    floor = int((0.0028 + D.client_error_min_increase) * 52) + 1  # 5 of 52 = 9.6 % > 8.28 %
    assert f"with {floor - 1} or fewer 4xx of these 52 requests" in x.would_not


def test_traffic_spike_and_drop_bounds_follow_the_tail_test() -> None:
    ev = {"observed": 60.0, "baseline": 15.08, "requests": 60, "p_value": 1.6e-12,
          "horizon_windows": 1, "horizon_observed": 60.0, "horizon_expected": 15.08,
          "dispersion": 1.3, "ratio_floor": 2.0}
    x = explain(incident("traffic_spike", ev))
    bound = int(x.would_not.split("fewer than ")[1].split(" ")[0].replace(",", ""))
    assert _upper_p(bound, 15.08, 1.3) <= D.alpha < _upper_p(bound - 1, 15.08, 1.3)
    ev = {"observed": 0.0, "baseline": 40.0, "requests": 0, "p_value": 1e-9,
          "horizon_windows": 1, "horizon_observed": 0.0, "horizon_expected": 40.0,
          "dispersion": 2.0}
    x = explain(incident("traffic_drop", ev))
    most = int(x.would_not.split("more than ")[1].split(" ")[0].replace(",", ""))
    assert _lower_p(most, 40.0, 2.0) <= D.alpha < _lower_p(most + 1, 40.0, 2.0)


def test_latency_boundary_names_p95_floor_and_slow_share() -> None:
    ev = {"observed": 0.9, "baseline": 0.2, "requests": 120, "p_value": 1e-30,
          "horizon_windows": 1, "share_above_baseline_p90": 0.6, "horizon_slow": 72,
          "horizon_requests": 120, "expected_share_above": 0.1}
    x = explain(incident("latency_regression", ev))
    assert "p95 under 300 ms" in x.would_not  # 1.5 x 200 ms
    k = least_hits(120, 0.1, D.alpha, D.ratio_min_hits)
    assert k is not None and f"fewer than {k} of these 120 requests" in x.would_not


@pytest.mark.parametrize(("kind", "evidence", "client", "expect"), [
    ("auth_failure_burst", {"observed": 80, "baseline": 0.0, "requests": 90, "p_value": 0.0,
                            "failures": 80, "share": 0.89, "decayed_failures": 95.0},
     "1.2.3.4", "fewer than 20 failures"),
    ("scanning", {"observed": 41.0, "requests": 42, "p_value": 2.5e-9,
                  "distinct_missing_paths": 41, "missing_share": 0.857,
                  "distinct_missing_paths_recent": 43, "example_paths": ["/.git/index"]},
     "1.2.3.4", "fewer than 15 distinct missing paths (it had 43)"),
    ("attack_payload", {"observed": 6.0, "requests": 6, "p_value": 0.0,
                        "attack_types": ["sqli"], "findings": 6,
                        "top_reasons": ["sqli in query"]}, "1.2.3.4",
     "fewer than 2 flagged requests from this client (it sent 6)"),
    ("authorization_drift", {"observed": 0.01, "baseline": 0.3, "requests": 300,
                             "p_value": 1e-12, "status": "401", "share_before": 0.3,
                             "share_after": 0.01, "requests_before": 5000,
                             "requests_after": 300}, None, "near its 30 % before"),
    ("data_exposure", {"observed": 9000, "baseline": 2000, "requests": 300, "p_value": 1e-20,
                       "median_bytes": 9000, "baseline_median_bytes": 2000,
                       "median_ratio": 4.5, "p90_ratio": 4.0, "p90_bytes": 12000,
                       "baseline_p90_bytes": 3000, "answers_after": 300,
                       "answers_before": 4000, "rule": "jump"}, None, "grown by less than 20"),
    ("object_enumeration", {"observed": 60.0, "requests": 60, "p_value": 0.001,
                            "distinct_ids": 60, "not_found_share": 0.07,
                            "route_share": 0.9, "horizon_seconds": 240.0, "threshold": 50,
                            "normal_per_client_hour": None}, "1.2.3.4", "fewer than 50"),
])
def test_rule_kinds_say_their_thresholds(kind: str, evidence: dict[str, Any],
                                         client: str | None, expect: str) -> None:
    x = explain(incident(kind, evidence, client=client))
    assert expect in x.would_not, x.would_not
    assert x.figures and x.test and x.why


def test_unusual_payload_names_its_per_client_floor() -> None:
    x = explain(incident("unusual_payload", {"observed": 5.0, "findings": 5,
                                             "top_reasons": ["unknown parameter"]},
                         client="1.2.3.4"))
    assert "fewer than 5 flagged" in x.would_not
    campaign = explain(incident("unusual_payload", {"observed": 9.0, "findings": 9,
                                                    "distinct_clients": 4}))
    assert "fewer than 3 clients sending flagged requests to the route (it had 4)" in \
        campaign.would_not


def test_cli_reads_the_store_and_explains_the_opening(tmp_path: Path) -> None:
    db = tmp_path / "incidents.db"
    sink = SqliteSink(str(db))
    ev = {"observed": 0.2, "baseline": 0.01, "requests": 200, "p_value": 1e-20,
          "horizon_windows": 1, "horizon_hits": 40, "horizon_requests": 200}
    sink.write(incident("error_surge", ev))
    sink.write(incident("error_surge", {**ev, "observed": 0.5}, status="resolved"))
    sink.close()
    runner = CliRunner()
    result = runner.invoke(app, ["explain", "inc-000000000001", "--store", str(db)])
    assert result.exit_code == 0, result.output
    assert "Would not have fired: with" in result.stdout and "Now: resolved" in result.stdout
    assert "20 % 5xx" in result.stdout  # the opening's numbers, not the latest's
    result = runner.invoke(app, ["explain", "inc-000000000001", "--store", str(db), "--json"])
    doc = orjson.loads(result.stdout)
    assert doc["kind"] == "error_surge" and doc["would_not_have_fired"].startswith("with ")
    result = runner.invoke(app, ["explain", "inc-ffffffffffff", "--store", str(db)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("detector: error:")


def test_cli_reads_a_jsonl_sink_file_as_well(tmp_path: Path) -> None:
    path = tmp_path / "incidents.jsonl"
    ev = {"observed": 0.2, "baseline": 0.01, "requests": 200, "p_value": 1e-20,
          "horizon_windows": 1, "horizon_hits": 40, "horizon_requests": 200}
    lines = [incident("error_surge", ev), incident("error_surge", ev, inc_id="inc-000000000002"),
             incident("error_surge", {**ev, "observed": 0.5}, status="resolved")]
    path.write_bytes(b"".join(orjson.dumps(i.model_dump(mode="json")) + b"\n" for i in lines))
    runner = CliRunner()
    result = runner.invoke(app, ["explain", "inc-000000000001", "--store", str(path)])
    assert result.exit_code == 0, result.output
    assert "20 % 5xx" in result.stdout and "Now: resolved" in result.stdout
    result = runner.invoke(app, ["explain", "inc-ffffffffffff", "--store", str(path)])
    assert result.exit_code == 2 and "no incident inc-ffffffffffff" in result.stderr
