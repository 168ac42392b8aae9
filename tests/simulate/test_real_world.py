"""Real-world shapes (issue 11), checked against the logs they wrote.

A 28 h run from a Friday afternoon into Saturday evening: ramped spikes,
creeping latencies, 5xx on low-traffic routes, weekend drops and internal
endpoints are labelled with their ``params.shape`` and really are in the
logs; the weekend trough, the hourly batch job and the campaigns are benign,
listed in the manifest and never labelled.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.simulate import simulate
from tests.simulate.logs import Req, jsonl, read_requests, route_regex, ts

pytestmark = pytest.mark.slow
NEW_SHAPES = {"traffic_spike": "ramped", "traffic_drop": "weekend", "error_surge": "low_traffic",
              "latency_regression": "creeping", "new_endpoint": "internal"}


def manifest(run: Path) -> Any:
    return orjson.loads((run / "manifest.json").read_bytes())


def shaped(run: Path, shape: str) -> list[Any]:
    found = [x for x in jsonl(run / "labels.jsonl") if x["params"]["shape"] == shape]
    assert found, f"no {shape} label in the run"
    return found


def on_route(reqs: list[Req], x: Any, lo: float, hi: float) -> list[Req]:
    rx = route_regex(x["route"])
    return [r for r in reqs if r.method == x["method"] and lo <= r.ts < hi and rx.match(r.path)]


def test_every_label_names_its_shape_and_the_new_ones_are_there(real28: Path) -> None:
    m = manifest(real28)
    labels = jsonl(real28 / "labels.jsonl")
    shapes = Counter((x["kind"], x["params"]["shape"]) for x in labels)
    for kind, shape in NEW_SHAPES.items():
        assert shapes[(kind, shape)] >= 2, (kind, shape)
        assert shapes[(kind, "step" if kind != "new_endpoint" else "default")] >= 2, kind
    assert m["real_world"] is True
    assert m["shapes"] == {k: dict(Counter(s for kk, s in shapes.elements() if kk == k))
                           for k in m["shapes"]}
    by_route: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for x in labels:
        if x["route"] is not None:
            by_route.setdefault((x["service"], x["route"]), []).append((ts(x["start"]),
                                                                        ts(x["end"])))
    for spans in by_route.values():  # labels on one route never overlap
        spans.sort()
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False))


def test_low_traffic_service_and_benign_routines_in_the_manifest(real28: Path) -> None:
    m = manifest(real28)
    assert m["rates"]["partners"] < 0.25 * min(v for k, v in m["rates"].items()
                                              if k != "partners")
    benign = Counter(b["kind"] for b in m["benign"])
    assert benign["weekend_trough"] == len(m["services"])
    assert benign["hourly_batch"] == 1 and benign["marketing_ramp"] >= 1
    batch = next(b for b in m["benign"] if b["kind"] == "hourly_batch")
    labelled = {(x["service"], x["route"]) for x in jsonl(real28 / "labels.jsonl")}
    route = batch["description"].split(":")[0].split(" ", 1)[1]
    assert (batch["service"], route) not in labelled


def test_weekend_is_lower_than_the_weekday(real28: Path) -> None:
    hours: Counter[tuple[int, int]] = Counter()  # (day of month, hour) -> requests
    # Traffic anomalies (a x9 spike) would swamp the hour they land in: left out, and id
    # walks (object_enumeration) are attack traffic on top of the users' own.
    spans = [(ts(x["start"]), ts(x["end"])) for x in jsonl(real28 / "labels.jsonl")
             if x["service"] == "orders" and x["kind"].startswith("traffic_")]
    walkers = {c for x in jsonl(real28 / "labels.jsonl") if x["kind"] == "object_enumeration"
               for c in [x["client"], *x["params"].get("participants", [])] if c}
    for r in read_requests(real28, "orders"):
        if r.client in walkers or any(lo <= r.ts < hi for lo, hi in spans):
            continue
        at = datetime.fromtimestamp(r.ts, UTC)
        hours[(at.day, at.hour)] += 1
    friday = sum(hours[(20, h)] for h in range(14, 18))
    saturday = sum(hours[(21, h)] for h in range(14, 18))
    assert saturday < 0.8 * friday


def test_low_traffic_surge_is_a_few_dozen_requests_a_quarter_failing(real28: Path) -> None:
    for x in shaped(real28, "low_traffic"):
        reqs = read_requests(real28, x["service"])
        during = on_route(reqs, x, ts(x["start"]) + 90, ts(x["end"]))
        before = on_route(reqs, x, ts(x["start"]) - 6 * 3600, ts(x["start"]))
        assert 10 <= len(during) <= 120, (x["id"], len(during))
        assert sum(r.status >= 500 for r in during) >= 0.1 * len(during), x["id"]
        assert sum(r.status >= 500 for r in before) <= 0.02 * max(len(before), 1) + 1
        assert x["deployment"] is not None


def test_creeping_latency_grows_from_the_deploy(real28: Path) -> None:
    for x in shaped(real28, "creeping"):
        start, end = ts(x["start"]), ts(x["end"])
        reqs = [r for r in on_route(read_requests(real28, x["service"]), x, start, end)
                if r.status < 400]
        span = end - start
        early = [r.dur for r in reqs if r.ts < start + 0.15 * span]
        late = [r.dur for r in reqs if r.ts > start + 0.85 * span]
        assert statistics.median(late) > 1.6 * statistics.median(early), x["id"]
        assert 2 * 3600 <= span <= 4.8 * 3600


def test_ramped_spike_builds_up(real28: Path) -> None:
    for x in shaped(real28, "ramped"):
        start, ramp = ts(x["start"]), x["params"]["ramp_s"]
        reqs = on_route(read_requests(real28, x["service"]), x, start - 600, ts(x["end"]))
        first = sum(start <= r.ts < start + 300 for r in reqs)
        top = sum(start + ramp <= r.ts < start + ramp + 300 for r in reqs)
        assert top > 2 * max(first, 1), x["id"]


def test_weekend_drop_falls_below_the_weekend_level(real28: Path) -> None:
    for x in shaped(real28, "weekend"):
        start, end = ts(x["start"]), ts(x["end"])
        assert datetime.fromtimestamp(start, UTC).weekday() >= 5
        reqs = read_requests(real28, x["service"])
        during = len(on_route(reqs, x, start, end))
        before = len(on_route(reqs, x, start - (end - start), start))
        assert during < 0.45 * before, x["id"]


def test_internal_endpoint_is_a_handful_of_calls_from_a_few_clients(real28: Path) -> None:
    for x in shaped(real28, "internal"):
        reqs = on_route(read_requests(real28, x["service"]), x, 0, float("inf"))
        assert 8 <= len(reqs) <= 30 and 2 <= len({r.client for r in reqs}) <= 5
        assert all(200 <= r.status < 300 for r in reqs)
        assert all(ts(x["start"]) < r.ts <= ts(x["end"]) + 1 for r in reqs)


def test_hourly_batch_fires_every_hour_at_its_minute(real28: Path) -> None:
    batch = next(b for b in manifest(real28)["benign"] if b["kind"] == "hourly_batch")
    minute = int(batch["description"].split(" at :")[1][:2])
    reqs = [r for r in read_requests(real28, batch["service"]) if "(k8s CronJob)" in r.ua]
    per_hour = Counter(int(r.ts // 3600) for r in reqs)
    assert len(per_hour) >= 27  # every whole hour of the 28 h run
    assert all(minute <= datetime.fromtimestamp(r.ts, UTC).minute <= minute + 3 for r in reqs)


def test_short_runs_keep_the_classic_mix(tmp_path: Path) -> None:
    simulate(tmp_path, hours=2, rate=0.05, seed=3)
    m = manifest(tmp_path)
    assert m["real_world"] is False and "partners" not in m["formats"]
    assert {x["params"]["shape"] for x in jsonl(tmp_path / "labels.jsonl")} <= {"step",
                                                                                 "default"}
    assert not any(b["kind"] in ("hourly_batch", "weekend_trough") for b in m["benign"])


def test_weekend_start_of_a_short_run_is_listed_as_trough(tmp_path: Path) -> None:
    simulate(tmp_path, hours=2, rate=0.05, seed=3, start=datetime(2026, 3, 21, 10, tzinfo=UTC))
    troughs = [b for b in manifest(tmp_path)["benign"] if b["kind"] == "weekend_trough"]
    assert len(troughs) == 5 and troughs[0]["start"] == "2026-03-21T10:00:00Z"


def test_real_world_runs_are_deterministic(tmp_path: Path) -> None:
    saturday = datetime(2026, 3, 21, 9, tzinfo=UTC)
    for d in ("a", "b"):
        simulate(tmp_path / d, hours=4, rate=0.03, seed=5, shapes=True, start=saturday)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                   if p.is_file())
    assert len(files) >= 9
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
