"""Hand-made labels and incidents with known scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.evaluate import evaluate, load_incidents, render_text

T0 = datetime(2026, 3, 17, 9, 0, tzinfo=UTC)


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def label(id: str, start: float, end: float, *, kind: str = "error_surge",
          service: str = "payments", route: str | None = "/v2/payments/{id}/refunds",
          client: str | None = None, deployment: str | None = None) -> dict[str, Any]:
    return {"id": id, "service": service, "kind": kind, "route": route, "method": "POST",
            "client": client, "start": iso(start), "end": iso(end), "deployment": deployment,
            "description": ""}


def incident(id: str, start: float, end: float, *, detected: float | None = None,
             status: str = "open", kind: str = "error_surge", service: str = "payments",
             route: str | None = "/v2/payments/{id}/refunds", client: str | None = None,
             version: str | None = None, suspect: bool = False) -> dict[str, Any]:
    dep = None if version is None else {"version": version, "suspect": suspect}
    return {"id": id, "status": status, "kind": kind, "severity": "high", "service": service,
            "route": route, "method": "POST", "client": client, "start": iso(start),
            "end": iso(end), "detected_at": iso(start + 1 if detected is None else detected),
            "score": 0.9, "summary": "", "evidence": {}, "deployment": dep}


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def manifest(d: Path, services: int = 2, hours: float = 12.0) -> None:
    (d / "manifest.json").write_bytes(orjson.dumps(
        {"hours": hours, "services": [{"name": f"s{i}"} for i in range(services)]}))


def run(tmp_path: Path, labels: list[dict[str, Any]], incidents: list[dict[str, Any]],
        **kw: Any) -> Any:
    return evaluate(write(tmp_path / "labels.jsonl", labels),
                    [write(tmp_path / "inc.jsonl", incidents)], **kw)


def test_simple_match_and_placeholder_equivalence(tmp_path: Path) -> None:
    r = run(tmp_path, [label("l1", 0, 10)],
            [incident("i1", 2, 8, route="/v2/payments/{payment_id}/refunds/")])
    assert r.overall.recall == 1.0 and r.overall.precision == 1.0
    assert not r.missed and not r.unmatched


def test_other_route_service_or_kind_do_not_match(tmp_path: Path) -> None:
    r = run(tmp_path, [label("l1", 0, 10)], [
        incident("a", 2, 8, route="/v2/payments/{id}/captures"),
        incident("b", 2, 8, service="orders"),
        incident("c", 2, 8, kind="latency_regression"),
    ])
    assert r.overall.recall == 0.0 and r.overall.precision == 0.0
    assert [m.id for m in r.missed] == ["l1"]
    assert {u.id for u in r.unmatched} == {"a", "b", "c"}


@pytest.mark.parametrize(("start", "end", "hit"), [
    (-5, -2.05, False),   # ends 2 min 3 s before the label: outside
    (-5, -1.95, True),    # ends 1 min 57 s before: inside the 2 min widening
    (15.05, 20, False),   # starts 5 min 3 s after the label end: outside
    (14.95, 20, True),    # starts 4 min 57 s after: inside the 5 min widening
])
def test_time_tolerance_edges(tmp_path: Path, start: float, end: float, hit: bool) -> None:
    r = run(tmp_path, [label("l1", 0, 10)], [incident("i1", start, end)])
    assert (r.overall.matched_labels == 1) is hit


def test_collapse_open_update_resolved(tmp_path: Path) -> None:
    rows = [
        incident("i1", 3, 5, detected=4, version="2.32.0", suspect=True),
        incident("i1", 2, 9, detected=7, status="update", route=None),
        incident("i1", 3, 12, detected=12, status="resolved"),
    ]
    incs = load_incidents([write(tmp_path / "inc.jsonl", rows)])
    assert len(incs) == 1
    inc = incs[0]
    assert inc.route == "/v2/payments/{id}/refunds"  # identity from the open record
    assert (inc.start, inc.end, inc.detected_at) == (T0 + timedelta(minutes=2),
                                                     T0 + timedelta(minutes=12),
                                                     T0 + timedelta(minutes=4))
    assert inc.version == "2.32.0" and inc.suspect
    r = run(tmp_path, [label("l1", 0, 10)], rows)
    assert r.overall.incidents == 1 and r.overall.precision == 1.0


def test_client_keyed_label(tmp_path: Path) -> None:
    lab = label("l1", 0, 10, kind="auth_failure_burst", route="/v1/auth/login",
                client="18.57.76.40")
    r = run(tmp_path, [lab], [
        incident("by-client", 1, 5, kind="auth_failure_burst", route=None, client="18.57.76.40"),
        incident("by-route", 1, 5, kind="auth_failure_burst", route="/v1/auth/login"),
        incident("other", 1, 5, kind="auth_failure_burst", route=None, client="1.2.3.4"),
    ])
    assert r.overall.matched_incidents == 2
    assert [u.id for u in r.unmatched] == ["other"]


def test_attribution(tmp_path: Path) -> None:
    labels = [label("right", 0, 10, deployment="2.32.0"),
              label("wrong-version", 0, 10, route="/a", deployment="2.32.0"),
              label("not-suspect", 0, 10, route="/b", deployment="2.32.0"),
              label("no-deploy", 0, 10, route="/c")]
    incs = [incident("i1", 1, 5, version="2.32.0", suspect=True),
            incident("i2", 1, 5, route="/a", version="2.31.0", suspect=True),
            incident("i3", 1, 5, route="/b", version="2.32.0", suspect=False),
            incident("i4", 1, 5, route="/c", version="2.32.0", suspect=True)]
    f = run(tmp_path, labels, incs).overall
    assert (f.attributable, f.attributed, f.attribution_accuracy) == (3, 1, pytest.approx(1 / 3,
                                                                                       abs=1e-4))
    assert f.wrong_suspect == 1


def test_precision_and_false_per_service_day(tmp_path: Path) -> None:
    manifest(tmp_path, services=2, hours=12.0)  # 1 service-day
    labels = [label("l1", 0, 10), label("l2", 100, 110, kind="traffic_drop", route="/x")]
    incs = [incident("i1", 1, 5), incident("i2", 1, 5),  # two incidents, one label
            incident("f1", 300, 310), incident("f2", 300, 310, kind="traffic_drop", route="/y"),
            incident("f3", 400, 410, kind="scanning", route=None, client="9.9.9.9")]
    r = run(tmp_path, labels, incs)
    assert r.services == 2 and r.days == 0.5
    f = r.overall
    assert (f.labels, f.incidents, f.matched_labels, f.matched_incidents) == (2, 5, 1, 2)
    assert f.recall == 0.5 and f.precision == 0.4
    assert f.false_incidents == 3 and f.false_per_service_day == 3.0
    assert r.per_kind["error_surge"].false_per_service_day == 1.0
    assert r.per_kind["scanning"].recall is None
    text = render_text(r)
    assert "overall" in text and "l2" in text and "f3" in text


def test_delay_median_and_kinds_filter(tmp_path: Path) -> None:
    labels = [label(f"l{i}", 10 * i, 10 * i + 5, route=f"/r{i}") for i in range(3)]
    incs = [incident(f"i{i}", 10 * i, 10 * i + 5, detected=10 * i + d, route=f"/r{i}")
            for i, d in enumerate((1, 2, 4))]
    f = run(tmp_path, labels, incs).overall
    assert f.delay_median_s == 120.0
    assert f.delay_p90_s == pytest.approx(216.0)  # 120 + 0.8 * (240 - 120)
    only = run(tmp_path, labels, incs, kinds={"traffic_spike"})
    assert only.overall.labels == 0 and only.overall.incidents == 0


def test_report_dumps_to_json(tmp_path: Path) -> None:
    r = run(tmp_path, [label("l1", 0, 10)], [incident("i1", 2, 8)])
    assert orjson.loads(orjson.dumps(r.model_dump()))["overall"]["recall"] == 1.0


def test_recall_per_shape_in_table_and_json(tmp_path: Path) -> None:
    manifest(tmp_path)
    labels = [label("a", 0, 10), label("b", 100, 110), label("c", 200, 260),
              label("d", 400, 410, kind="traffic_spike")]
    labels[1]["params"] = {"shape": "step"}
    labels[2]["params"] = {"shape": "low_traffic", "share": 0.25}
    labels[3]["params"] = {"shape": "ramped"}
    r = run(tmp_path, labels, [incident("i1", 1, 5), incident("i2", 101, 103)])
    surge = r.per_shape["error_surge"]
    assert {k: (f.labels, f.matched_labels, f.recall) for k, f in surge.items()} == {
        "default": (1, 1, 1.0), "step": (1, 1, 1.0), "low_traffic": (1, 0, 0.0)}
    assert r.per_shape["traffic_spike"]["ramped"].recall == 0.0
    assert surge["step"].delay_median_s == 120.0  # detected a minute after it opened
    text = render_text(r)
    assert "low_traffic" in text.split("missed labels:")[0]
    assert "c error_surge payments /v2/payments/{id}/refunds  " in text
    assert text.split("missed labels:")[1].splitlines()[1].endswith("(low_traffic)")
    dumped = orjson.loads(orjson.dumps(r.model_dump(mode="json")))
    assert dumped["per_shape"]["error_surge"]["low_traffic"]["labels"] == 1
    assert {m["shape"] for m in dumped["missed"]} == {"low_traffic", "ramped"}


def test_labels_without_shapes_print_no_shape_table(tmp_path: Path) -> None:
    manifest(tmp_path)
    r = run(tmp_path, [label("a", 0, 10)], [incident("i1", 1, 5)])
    assert set(r.per_shape["error_surge"]) == {"default"}
    assert "shape" not in render_text(r)
