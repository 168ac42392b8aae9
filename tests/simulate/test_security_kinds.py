"""The simulator's security and content kinds, checked against the logs they wrote.

attack_payload, unusual_payload, scanning, new_endpoint: sane labels, and the
labelled requests really are in the logs, looking the way the label says;
benign look-alikes are in the unlabelled traffic.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus

import orjson

from detector.simulate import simulate
from tests.simulate.logs import Req, jsonl, read_requests, route_regex, ts

NEW_KINDS = ("attack_payload", "unusual_payload", "scanning", "new_endpoint")
# Signatures a WAF would key on; deliberately not matched by the look-alikes.
SIGNATURE = re.compile(
    r"union\W+(all\W+)?select\b|select\s+[\w*,@()]+\s+from\s|"
    r"\b(and|or)\s+['\"]?\d+['\"]?\s*=\s*['\"]?\d|"
    r"['\"]\s*(or|and)\s+['\"]?\w*['\"]?\s*=|['\"]\s*(--|#|;)|/\*!?\d*|"
    r"sleep\(|waitfor\s+delay|benchmark\(|pg_sleep|extractvalue|order\s+by\s+\d+|"
    r"rlike\s*\(|chr\(\d+\)|<script|on(error|load|focus|toggle)\s*=|"
    r"javascript:\s*[a-z]+\s*[(`]|<svg|<iframe|"
    r"\.\.[/\\;]|\.\.%c0|%c0%ae|%u2215|/etc/(passwd|shadow|hosts)|win\.ini|php://|file://|"
    r"/proc/self|serviceaccount|\$\{|\{\{|\{%|<%|#\{|\*\{|169\.254\.169\.254|metadata\.google|"
    r"ffff:a9fe|0xa9fe|2852039166|127\.0?\.?0?\.?1|localhost|gopher://|dict://|\[::1?\]|"
    r"kubernetes|"
    r"\.svc|\$(ne|gt|regex|exists|where|nin|in)\b|<!doctype|<!entity|<\?xml|"
    r"[;|`]\s*(id|whoami|uname|cat|sleep|curl|wget|ping|nslookup|powershell|/bin)|\$\(|"
    r"&&\s*(cat|uname)|\nid|http://0/|10\.0\.0\.1|internal-api",
    re.IGNORECASE)


def decoded(*parts: str) -> str:
    """Percent-decoded until stable (double encoding included)."""
    text = unquote_plus(" ".join(parts))  # a literal + is always sent as %2B
    for _ in range(2):
        text = unquote(text)
    return text


def labels(run: Path) -> list[Any]:
    return jsonl(run / "labels.jsonl")


def manifest(run: Path) -> Any:
    return orjson.loads((run / "manifest.json").read_bytes())


def in_window(reqs: list[Req], x: Any) -> list[Req]:
    return [r for r in reqs if ts(x["start"]) - 1 <= r.ts <= ts(x["end"]) + 1]


def test_new_kinds_have_sane_labels(run8: Path) -> None:
    m = manifest(run8)
    t0 = ts(m["start"])
    kinds = Counter(x["kind"] for x in labels(run8))
    assert all(kinds[k] >= 2 for k in NEW_KINDS), kinds
    styles: dict[str, set[str]] = {}
    for x in labels(run8):
        if x["kind"] not in NEW_KINDS:
            continue
        assert ts(x["start"]) >= t0 + 75 * 60
        style = x["params"].get("style", "")
        styles.setdefault(x["kind"], set()).add(style)
        if x["kind"] == "scanning":
            assert x["client"] and x["route"] is None and x["method"] is None
        elif x["kind"] == "new_endpoint":
            assert x["route"] and x["client"] is None and x["deployment"]
        elif style in ("single", "client"):
            assert x["client"] and x["route"] and x["method"]
        else:
            assert x["client"] is None and x["route"] and x["method"]
        if x["kind"] == "attack_payload":
            assert x["params"]["attack_types"]
        if x["kind"] != "new_endpoint":
            assert x["deployment"] is None
    assert styles["attack_payload"] == {"single", "distributed"}
    assert styles["scanning"] == {"fast", "slow"}
    assert len({c for x in labels(run8) if x["kind"] == "attack_payload"
                for c in x["params"]["attack_types"]}) >= 3


def test_scanning_is_many_missing_paths(run8: Path) -> None:
    m = manifest(run8)
    scans = [x for x in labels(run8) if x["kind"] == "scanning"]
    for x in scans:
        reqs = read_requests(run8, x["service"])
        mine = [r for r in reqs if r.client == x["client"]]
        assert len(mine) == x["params"]["requests"] >= 100
        assert all(ts(x["start"]) <= r.ts <= ts(x["end"]) for r in mine)
        statuses = Counter(r.status for r in mine)
        assert statuses[404] / len(mine) >= 0.75, statuses
        assert set(statuses) <= {404, 403, 401, 400}
        paths = {r.path for r in mine}
        assert len(paths) >= 0.9 * len(mine)
        routes = next(s["routes"] for s in m["services"] if s["name"] == x["service"])
        regexes = [route_regex(r["template"]) for r in routes]
        assert not [p for p in paths if any(rx.match(p) for rx in regexes)]
        assert not [p for p in paths if p.startswith(("/v1/", "/v2/"))]
        if x["params"]["style"] == "slow":
            gaps = [b.ts - a.ts for a, b in zip(mine, mine[1:], strict=False)]
            assert min(gaps) >= 4.9 and max(gaps) <= 10.1
        # The scan owns its service's timeline: no other label overlaps it.
        for y in labels(run8):
            if y["service"] == x["service"] and y["id"] != x["id"]:
                assert ts(y["end"]) <= ts(x["start"]) or ts(y["start"]) >= ts(x["end"])


def test_attack_requests_carry_payloads(run8: Path) -> None:
    for x in (x for x in labels(run8) if x["kind"] == "attack_payload"):
        reqs = in_window(read_requests(run8, x["service"]), x)
        if x["client"]:
            mine = [r for r in reqs if r.client == x["client"]]
            assert 50 <= len(mine) == x["params"]["requests"] <= 500
        else:
            rx = route_regex(x["route"])
            mine = [r for r in reqs if rx.match(r.path) and r.method == x["method"]
                    and SIGNATURE.search(decoded(r.query, r.body, r.ua))]
            assert len(mine) >= 0.95 * x["params"]["requests"]
            assert len({r.client for r in mine}) >= 10
            assert {r.client for r in mine} <= set(x["params"]["addresses"])
        hits = [r for r in mine if SIGNATURE.search(decoded(r.path, r.query, r.body, r.ua))]
        assert len(hits) >= 0.95 * len(mine), [r for r in mine if r not in hits][:3]
        statuses = Counter(r.status for r in mine)
        assert sum(statuses[c] for c in (400, 403, 500, 200, 404, 422)) == len(mine)


def test_unusual_requests_carry_the_unusual_parameter(run8: Path) -> None:
    for x in (x for x in labels(run8) if x["kind"] == "unusual_payload"):
        reqs = in_window(read_requests(run8, x["service"]), x)
        if x["client"]:
            mine = [r for r in reqs if r.client == x["client"]]
        else:
            mine = [r for r in reqs if r.ua.startswith("ShopApp/5.13.0")]
            assert len({r.client for r in mine}) >= 10
            assert {r.client for r in mine} <= set(x["params"]["addresses"])
        assert len(mine) == x["params"]["requests"] >= 30
        rx = route_regex(x["route"])
        assert all(rx.match(r.path) and r.method == x["method"] for r in mine)
        markers = x["params"]["markers"]
        missing = [r for r in mine if not any(k in r.body or k in r.query for k in markers)]
        assert not missing, missing[:2]
        if x["params"]["variant"] == "mass_assignment":
            assert x["route"] in ("/v1/users", "/v1/users/{uuid}")
        # Nothing in them a signature detector would recognise.
        assert not [r for r in mine if SIGNATURE.search(decoded(r.query, r.body))]


def test_new_endpoint_absent_before_its_deploy_present_after(run8: Path) -> None:
    m = manifest(run8)
    published = {(d["service.name"], d["service.version"])
                 for d in jsonl(run8 / "deployments.jsonl")}
    for x in (x for x in labels(run8) if x["kind"] == "new_endpoint"):
        svc = next(s for s in m["services"] if s["name"] == x["service"])
        entry = next(r for r in svc["routes"] if r["template"] == x["route"])
        assert entry["method"] == x["method"] and entry["since"] == x["deployment"]
        assert x["deployment"] in svc["versions"]
        if x["service"] != "search":
            assert (x["service"], x["deployment"]) in published
        rx = route_regex(x["route"])
        hits = [r for r in read_requests(run8, x["service"])
                if r.method == x["method"] and rx.match(r.path)]
        assert hits and min(r.ts for r in hits) >= ts(x["start"])
        assert max(r.ts for r in hits) > ts(x["end"])  # keeps serving after the window
        ok = sum(200 <= r.status < 300 for r in hits)
        assert ok >= 0.8 * len(hits)
    # Rare routes exist from the start, are never labelled, and are listed as benign.
    rare = [b for b in m["benign"] if b["kind"] == "rare_route"]
    assert len(rare) >= 2
    labelled = {(x["service"], x["route"]) for x in labels(run8)}
    assert not [b for b in rare
                if (b["service"], b["description"].split()[1].rstrip(":")) in labelled]


def test_lookalikes_in_benign_traffic(run8: Path) -> None:
    search = [decoded(r.query) for r in read_requests(run8, "search") if r.path == "/v1/search"]
    for term in ("o'reilly books", "select chair", "union jack flag", "<3 valentine",
                 "50% off", "c++ primer", "rock & roll", "men's shoes", "drop earrings"):
        assert any(f"q={term}" in q for q in search), term
    reviews = [r.body for r in read_requests(run8, "catalog") if r.method == "POST"
               and r.path.endswith("/reviews") and r.body]
    assert any("'" in b for b in reviews) and any(len(b) > 400 for b in reviews)
    logins = [decoded(r.query) for r in read_requests(run8, "accounts")
              if r.path.startswith("/v1/auth/log")]
    assert any(re.search(r"(next|redirect|return_to|redirect_uri)=https://", q) for q in logins)
    # The look-alikes do not trip the signatures the attack test relies on.
    windows = [(ts(x["start"]), ts(x["end"])) for x in labels(run8)
               if x["service"] == "search" and x["kind"] == "attack_payload"]
    benign = [r for r in read_requests(run8, "search")
              if not any(a - 1 <= r.ts <= b + 1 for a, b in windows)]
    false_hits = [r for r in benign if SIGNATURE.search(decoded(r.query))]
    assert len(false_hits) <= 0.002 * len(benign) + 5


def test_security_kinds_are_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        simulate(d, hours=3, rate=0.05, seed=11)
    kinds = {x["kind"] for x in labels(a)}
    assert len(kinds & set(NEW_KINDS)) >= 3, kinds
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
