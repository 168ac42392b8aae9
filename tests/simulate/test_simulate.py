"""The simulator: determinism, contracted formats, label sanity, bench sizes, seasonality."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from detector.simulate import simulate
from tests.simulate.logs import jsonl, ts

FIELDS = {
    "otel": {"timestamp", "http.request.method", "url.path", "http.response.status_code",
             "http.server.request.duration", "client.address", "user_agent.original",
             "service.name", "service.version", "http.response.body.size"},
    "nginx_json": {"time_iso8601", "request", "status", "request_time", "http_x_forwarded_for",
                   "remote_addr", "http_user_agent", "body_bytes_sent", "request_body",
                   "service", "version"},
    "envoy": {"start_time", "method", "path", "response_code", "duration", "x_forwarded_for",
              "downstream_remote_address", "user_agent", "bytes_sent", "request_id",
              "service", "version"},
}
NESTED = {"timestamp", "service", "http", "url", "client", "user_agent"}
CLF = re.compile(r'^\S+ - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "[A-Z]+ \S+ HTTP/1\.1" '
                 r'\d{3} \d+ "[^"]*" "[^"]*" \d+\.\d{3}$')


@pytest.mark.slow
def test_deterministic(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, seed in ((a, 7), (b, 7), (c, 8)):
        simulate(d, hours=2, rate=0.05, seed=seed)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) >= 8
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files)


@pytest.mark.slow
def test_manifest_formats_and_fields(run8: Path) -> None:
    m = orjson.loads((run8 / "manifest.json").read_bytes())
    assert len(m["services"]) >= 4
    assert {"otel", "nginx_json", "envoy"} <= set(m["formats"].values())
    assert {s["layout"] for s in m["services"] if s["format"] == "otel"} == {"flat", "nested"}
    for s in m["services"]:
        assert 8 <= len(s["routes"]) <= 25
        path = run8 / s["file"]
        assert path.name == f"access-{s['name']}.{s['format']}.log"
        recs = jsonl(path)
        assert len(recs) == s["lines"] == m["files"][s["file"]]
        times = []
        for r in recs[:2000]:
            if s["layout"] == "nested":
                assert r.keys() >= NESTED and r["service"]["name"] == s["name"]
                times.append(r["timestamp"])
            else:
                missing = FIELDS[s["format"]] - r.keys()
                assert not missing, (s["name"], missing)
                times.append(r.get("timestamp") or r.get("time_iso8601") or r["start_time"])
        assert times == sorted(times)  # event-time order (ISO strings of one layout)
    envoy = jsonl(run8 / next(s["file"] for s in m["services"] if s["format"] == "envoy"))
    assert all(isinstance(r["duration"], int) for r in envoy[:500])
    assert all(":" in r["downstream_remote_address"] for r in envoy[:500])


def test_clf_copy_matches_its_service(run8: Path) -> None:
    m = orjson.loads((run8 / "manifest.json").read_bytes())
    svc = m["clf"]["service"]
    lines = (run8 / m["clf"]["file"]).read_text().splitlines()
    json_file = run8 / next(s["file"] for s in m["services"] if s["name"] == svc)
    assert len(lines) == len(jsonl(json_file)) > 0
    bad = [x for x in lines if not CLF.match(x)]
    assert not bad, bad[:3]


def test_labels_are_sane(run8: Path) -> None:
    m = orjson.loads((run8 / "manifest.json").read_bytes())
    routes = {s["name"]: {(r["method"], r["template"]) for r in s["routes"]}
              for s in m["services"]}
    labels = jsonl(run8 / "labels.jsonl")
    kinds = Counter(x["kind"] for x in labels)
    assert set(kinds) == {"traffic_spike", "traffic_drop", "error_surge", "client_error_surge",
                          "latency_regression", "auth_failure_burst", "attack_payload",
                          "unusual_payload", "scanning", "new_endpoint"}
    assert min(kinds.values()) >= 2 and kinds == Counter(m["labels"])
    minutes = {"new_endpoint": (10, 10), "scanning": (2, 30), "attack_payload": (5, 30),
               "unusual_payload": (5, 20)}
    t0 = ts(m["start"])
    by_route: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for x in labels:
        assert set(x) >= {"id", "service", "kind", "route", "method", "client", "start", "end",
                          "deployment", "description"}
        start, end = ts(x["start"]), ts(x["end"])
        assert start >= t0 + 75 * 60
        lo, hi = minutes.get(x["kind"], (8, 30))
        assert lo * 60 - 2 <= end - start <= hi * 60 + 2, x
        if x["route"] is None:  # client-keyed, no route (scanning)
            assert x["client"] is not None and x["kind"] == "scanning"
            continue
        assert (x["method"], x["route"]) in routes[x["service"]]
        by_route.setdefault((x["service"], x["route"]), []).append((start, end))
        if x["kind"] == "client_error_surge":
            assert x["deployment"] is not None
    for spans in by_route.values():
        spans.sort()
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False))


def test_bad_deploys_show_in_events_and_deployments(run8: Path) -> None:
    m = orjson.loads((run8 / "manifest.json").read_bytes())
    published = {(d["service.name"], d["service.version"])
                 for d in jsonl(run8 / "deployments.jsonl")}
    versions = {s["name"]: set(s["versions"]) for s in m["services"]}
    caused = [x for x in jsonl(run8 / "labels.jsonl") if x["deployment"]]
    assert caused
    for x in caused:
        assert x["deployment"] in versions[x["service"]]
        if x["service"] != "search":  # search only shows deploys through service.version
            assert (x["service"], x["deployment"]) in published
    assert not any(s == "search" for s, _ in published)


@pytest.mark.slow
def test_bench_profile_scales(tmp_path: Path) -> None:
    lines = 120_000
    s = simulate(tmp_path, profile="bench", lines=lines, seed=1)
    assert abs(s.lines - lines) / lines < 0.05
    clients, paths, payload = set(), set(), 0
    for f in tmp_path.glob("access-*.otel.log"):
        for r in jsonl(f):
            clients.add(r["client.address"])
            paths.add(r["url.path"])
            payload += "url.query" in r or "http.request.body.content" in r
    assert len(clients) >= 0.10 * lines  # 100k per 1M
    assert len(paths) >= 0.05 * lines  # 50k per 1M
    assert 0.25 <= payload / s.lines <= 0.40
    m = orjson.loads((tmp_path / "manifest.json").read_bytes())
    assert set(m["formats"].values()) == {"otel"} and m["hours"] == 2.0
    assert s.labels >= 4


@pytest.mark.slow
def test_seasonality_peak_above_night(tmp_path: Path) -> None:
    simulate(tmp_path, hours=24, rate=0.03, seed=2, start=datetime(2026, 3, 17, tzinfo=UTC))
    per_hour: Counter[int] = Counter()
    for r in jsonl(tmp_path / "access-catalog.nginx_json.log"):
        per_hour[int(r["time_iso8601"][11:13])] += 1
    night = sum(per_hour[h] for h in (1, 2, 3, 4))
    peak = sum(per_hour[h] for h in (12, 13, 14, 15))
    assert peak > 2 * night


def test_gzip_output(tmp_path: Path) -> None:
    s = simulate(tmp_path, hours=1, rate=0.05, gzip=True)
    f = tmp_path / "access-payments.otel.log.gz"
    assert f.name in s.files
    assert len(gzip.decompress(f.read_bytes()).splitlines()) == s.lines_per_file[f.name]
