"""Acceptance measurement for the signature engine (detector.analysis.signatures).

Reads the third-party reference data in ../shared/data (see its README) and reports:
  1. OWASP CRS regression requests (attack categories 930-934, 941, 942, 944, paranoia 1-2):
     detection rate per category, plus the false-trigger rate on the CRS negatives;
  2. labelled payloads (payloads_combined.jsonl.gz) sent as a URL-encoded query value:
     detection rate per payload category;
  3. benign traffic: real access logs (Apache, NASA, OpenStack), libinjection's
     false-positive strings in a query, browser User-Agents and our lookalike list;
  4. cost: microseconds per KB on backtracking-hostile input (linear = flat) and
     scan_request throughput on realistic benign requests.

Usage: python scripts/eval_signatures.py [--paranoia 2] [--backend auto] [--json OUT]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.analysis.rules import load_rules  # noqa: E402
from detector.analysis.signatures import SignatureEngine, SignatureHit  # noqa: E402

DATA = Path(os.environ.get("DETECTOR_SHARED_DATA", REPO.parent / "shared" / "data"))
CRS_CATEGORIES = {
    942: "SQLI", 941: "XSS", 930: "LFI", 931: "RFI",
    932: "RCE", 933: "PHP", 944: "JAVA", 934: "GENERIC",
}  # fmt: skip
PAYLOAD_TARGETS = ("sqli", "xss", "path_traversal", "lfi", "cmdi")
LOOKALIKES = REPO / "detector" / "analysis" / "rules" / "corpus" / "benign_lookalikes.yaml"


def _ua(headers: dict[str, str] | None) -> str:
    for k, v in (headers or {}).items():
        if k.lower() == "user-agent":
            return str(v or "")
    return ""


def _split(uri: str) -> tuple[str, str]:
    path, _, query = uri.partition("?")
    return path or "/", query


_PLAIN_HEADERS = {
    "host", "accept", "accept-encoding", "accept-language", "accept-charset", "user-agent",
    "content-type", "content-length", "connection", "keep-alive", "proxy-connection",
    "cache-control",
}  # fmt: skip


def _header_borne(d: dict[str, Any]) -> bool:
    """True when the request carries other headers and nothing we scan looks like a payload.

    scan_request sees path, query, body and User-Agent only; CRS also tests cookies
    and arbitrary headers. Used for an informational "reachable" figure.
    """
    extra = any(k.lower() not in _PLAIN_HEADERS for k in (d["headers"] or {}))
    path, query = _split(d["uri"] or "/")
    bland_body = d["body"] in (None, "", "test=value")
    bland_path = path.strip("/").replace("/", "").isalnum() or path in ("/", "")
    return (
        extra and bland_body and not query and bland_path and _ua(d["headers"]).startswith("OWASP")
    )


def crs_eval(engine: SignatureEngine) -> dict[str, Any]:
    """Per CRS category: share of expect_trigger=true requests with at least one hit."""
    tp: Counter[str] = Counter()
    pos: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    neg: Counter[str] = Counter()
    misses: dict[str, list[str]] = defaultdict(list)
    header_only = 0
    with gzip.open(DATA / "crs" / "crs_regression_requests.jsonl.gz", "rt") as f:
        for line in f:
            d = json.loads(line)
            cat = CRS_CATEGORIES.get(d["category_id"])
            if cat is None or d["paranoia_level"] not in (1, 2) or d["expect_trigger"] is None:
                continue
            path, query = _split(d["uri"] or "/")
            hits = engine.scan_request(d["method"], path, query, d["body"], _ua(d["headers"]))
            if d["expect_trigger"]:
                pos[cat] += 1
                tp[cat] += bool(hits)
                if not hits:
                    misses[cat].append(f"{d['rule_id']}-{d['test_id']}")
                header_only += _header_borne(d)
            else:
                neg[cat] += 1
                fp[cat] += bool(hits)
    rows = {
        c: {"requests": pos[c], "detected": tp[c], "rate": tp[c] / pos[c] if pos[c] else 0.0}
        for c in CRS_CATEGORIES.values()
    }
    total_p, total_tp = sum(pos.values()), sum(tp.values())
    return {
        "per_category": rows,
        "overall": {"requests": total_p, "detected": total_tp, "rate": total_tp / total_p},
        "payload_only_in_unscanned_headers": header_only,
        "overall_reachable": {
            "requests": total_p - header_only,
            "detected": total_tp,
            "rate": total_tp / (total_p - header_only),
        },
        "false_trigger": {
            "requests": sum(neg.values()),
            "flagged": sum(fp.values()),
            "rate": sum(fp.values()) / max(1, sum(neg.values())),
            "per_category": {c: f"{fp[c]}/{neg[c]}" for c in CRS_CATEGORIES.values()},
        },
        "missed_tests": {c: v for c, v in misses.items()},
    }


def payload_eval(engine: SignatureEngine) -> dict[str, Any]:
    """Each payload as the value of ?q=, percent-encoded the way a client would send it."""
    det: Counter[str] = Counter()
    tot: Counter[str] = Counter()
    with gzip.open(DATA / "payloads" / "payloads_combined.jsonl.gz", "rt") as f:
        for line in f:
            d = json.loads(line)
            if d["label"] != "attack":
                continue
            cat = d["category"]
            tot[cat] += 1
            hits = engine.scan_request(
                "GET", "/search", "q=" + quote(d["payload"], safe=""), None, ""
            )
            det[cat] += bool(hits)
    return {
        c: {"payloads": tot[c], "detected": det[c], "rate": det[c] / tot[c]} for c in sorted(tot)
    }


def _quoted_fields(line: str) -> list[str]:
    """The double-quoted fields of a log line (request, referer, user agent)."""
    parts = line.split('"')
    return [parts[i] for i in range(1, len(parts), 2)]


def _request_line(req: str) -> tuple[str, str, str] | None:
    bits = req.split(" ")
    if len(bits) < 2:
        return None
    path, query = _split(bits[1])
    return bits[0], path, query


def log_requests() -> Iterator[tuple[str, int, str, tuple[str, str, str], str]]:
    """(source, line number, raw line, (method, path, query), user agent) from the real logs."""
    apache = DATA / "access_logs" / "apache_logs.log"
    with apache.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            q = _quoted_fields(line)
            req = _request_line(q[0]) if q else None
            if req:
                yield "apache", n, line.rstrip("\n"), req, q[2] if len(q) > 2 else ""
    nasa = DATA / "access_logs" / "nasa_ksc_1995" / "NASA_access_log_small.gz"
    with gzip.open(nasa, "rt", encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            q = _quoted_fields(line)
            req = _request_line(q[0]) if q else None
            if req:
                yield "nasa", n, line.rstrip("\n"), req, ""
    ostack = DATA / "access_logs" / "loghub_openstack" / "OpenStack_2k.log"
    with ostack.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            q = _quoted_fields(line)
            req = _request_line(q[0]) if q else None
            if req:
                yield "openstack", n, line.rstrip("\n"), req, ""


def _fmt_hits(hits: list[SignatureHit]) -> str:
    return ", ".join(sorted({f"{h.rule_id}@{h.location}" for h in hits}))


def benign_eval(engine: SignatureEngine) -> dict[str, Any]:
    per_source: Counter[str] = Counter()
    flagged_src: Counter[str] = Counter()
    with_query: Counter[str] = Counter()
    flagged: list[dict[str, Any]] = []
    for src, n, line, (method, path, query), ua in log_requests():
        per_source[src] += 1
        with_query[src] += bool(query)
        hits = engine.scan_request(method, path, query, None, ua)
        if hits:
            flagged_src[src] += 1
            scanner = any(h.category in ("scanner", "sensitive_file") for h in hits)
            flagged.append(
                {"source": src, "line": n, "hits": _fmt_hits(hits), "scanner_like": scanner,
                 "text": line[:300]}
            )  # fmt: skip
    logs = {
        s: {"requests": per_source[s], "with_query": with_query[s], "flagged": flagged_src[s],
            "rate": flagged_src[s] / per_source[s]}
        for s in per_source
    }  # fmt: skip
    lib_lines = [
        ln.strip()
        for ln in (DATA / "payloads" / "libinjection_false_positives.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    lib_flagged = []
    for s in lib_lines:
        hits = engine.scan_request("GET", "/search", "q=" + quote_plus(s), None, "")
        if hits:
            lib_flagged.append({"text": s, "hits": _fmt_hits(hits)})
    uas = [
        ln.strip()
        for ln in (DATA / "crs" / "popularUAs.data").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    ua_flagged = [
        {"text": u, "hits": _fmt_hits(h)}
        for u in uas
        if (h := engine.scan_request("GET", "/", "", None, u))
    ]
    corpus = yaml.safe_load(LOOKALIKES.read_text())
    look_total, look_flagged = 0, []
    for loc, items in corpus.items():
        for s in items:
            look_total += 1
            if loc == "query":
                hits = engine.scan_request("GET", "/search", "q=" + quote_plus(s), None, "")
            elif loc == "path":
                hits = engine.scan_request("GET", s, "", None, "")
            else:
                hits = engine.scan_request("POST", "/api/items", "", s, "")
            if hits:
                look_flagged.append({"where": loc, "text": s, "hits": _fmt_hits(hits)})
    total_logs = sum(per_source.values())
    n_flagged = len(flagged)
    n_scanner = sum(1 for f in flagged if f["scanner_like"])
    return {
        "logs": logs,
        "logs_total": {
            "requests": total_logs,
            "flagged": n_flagged,
            "rate": n_flagged / total_logs,
            "flagged_excluding_scanner_like": n_flagged - n_scanner,
            "rate_excluding_scanner_like": (n_flagged - n_scanner) / total_logs,
        },
        "flagged_lines": flagged,
        "libinjection_fp": {"strings": len(lib_lines), "flagged": len(lib_flagged),
                            "rate": len(lib_flagged) / len(lib_lines), "items": lib_flagged},
        "popular_user_agents": {"agents": len(uas), "flagged": len(ua_flagged),
                                "items": ua_flagged},
        "lookalikes": {"items": look_total, "flagged": len(look_flagged), "list": look_flagged},
    }  # fmt: skip


HOSTILE = {
    "a*n+!": lambda n: "a" * (n - 1) + "!",
    "quotes": lambda n: "'" * n,
    "open parens": lambda n: "(" * n,
    "percent signs": lambda n: "%" * n,
    "%25 chains": lambda n: "%25" * (n // 3),
    "' or 1=1 repeated": lambda n: ("' or 1=1 " * (n // 9 + 1))[:n],
    "<a <a <a": lambda n: ("<a " * (n // 3 + 1))[:n],
    "select/**/ nest": lambda n: ("select/*" * (n // 8 + 1))[:n],
    "&#&#&#": lambda n: "&#" * (n // 2),
    "\\u\\u\\u": lambda n: "\\u" * (n // 2),
    "${${${": lambda n: "${" * (n // 2),
}


def cost_eval(paranoia: int, backend: str) -> dict[str, Any]:
    rules = load_rules()
    results: dict[str, Any] = {"hostile_us_per_kb": {}, "hostile_us_per_kb_capped": {}}
    uncapped = SignatureEngine(rules, paranoia=paranoia, backend=backend, max_field_chars=2 << 20)
    capped = SignatureEngine(rules, paranoia=paranoia, backend=backend)
    for name, make in HOSTILE.items():
        row, row_capped = {}, {}
        for size in (10_000, 100_000, 1_000_000):
            text = make(size)
            reps = max(1, 300_000 // size)
            for eng, out in ((uncapped, row), (capped, row_capped)):
                t0 = time.perf_counter()
                for _ in range(reps):
                    eng.scan_text(text, "query")
                dt = (time.perf_counter() - t0) / reps
                out[f"{size // 1000}KB"] = round(dt * 1e6 / (size / 1000), 2)
        results["hostile_us_per_kb"][name] = row
        results["hostile_us_per_kb_capped"][name] = row_capped
    # realistic benign requests with a query string and a browser user agent
    uas = [
        ln.strip()
        for ln in (DATA / "crs" / "popularUAs.data").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ][:50]
    queries = [
        "q=men%27s+running+shoes&page=2",
        "category=electronics&sort=price&order=asc&page=3&per_page=24",
        "utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale",
        "search=o%27reilly+books&lang=en-US",
        "redirect=https%3A%2F%2Fwww.example.com%2Faccount%2Fsettings",
        "ids=1%2C2%2C3%2C4&fields=id%2Cname%2Cemail&include=author",
        "from=2024-03-01T00%3A00%3A00Z&to=2024-03-17T23%3A59%3A59Z&tz=Europe%2FParis",
        "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc&next=%2Fdashboard",
    ]
    paths = ["/api/v1/products", "/search", "/v2/orders/123/items", "/account/settings"]
    reqs = [(paths[i % 4], queries[i % 8], uas[i % len(uas)]) for i in range(4000)]
    t0 = time.perf_counter()
    for p, q, ua in reqs * 5:
        capped.scan_request("GET", p, q, None, ua)
    dt = time.perf_counter() - t0
    results["throughput_requests_per_s"] = round(len(reqs) * 5 / dt)
    results["backend"] = capped.backend
    return results


def _pct(x: float) -> str:
    return f"{100 * x:6.2f} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--paranoia", type=int, default=2)
    ap.add_argument("--backend", default="auto", choices=["auto", "hyperscan", "re2"])
    ap.add_argument("--json", dest="json_out", help="write all figures (and flagged lines) here")
    ap.add_argument("--skip-cost", action="store_true", help="skip the timing measurements")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"reference data not found: {DATA}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    engine = SignatureEngine.default(paranoia=args.paranoia, backend=args.backend)
    out: dict[str, Any] = {
        "paranoia": args.paranoia,
        "backend": engine.backend,
        "rules": len(engine.rules),
        "compile_s": round(time.perf_counter() - t0, 2),
    }
    out["crs"] = crs_eval(engine)
    out["payloads"] = payload_eval(engine)
    out["benign"] = benign_eval(engine)
    if not args.skip_cost:
        out["cost"] = cost_eval(args.paranoia, args.backend)

    print(f"signature engine: backend={out['backend']} paranoia={args.paranoia} "
          f"rules={out['rules']} compile={out['compile_s']} s")  # fmt: skip
    print("\n1. CRS regression attacks (PL1-2, expect_trigger=true)")
    for cat, r in out["crs"]["per_category"].items():
        print(f"   {cat:<8} {r['detected']:>5}/{r['requests']:<5} {_pct(r['rate'])}")
    o = out["crs"]["overall"]
    print(
        f"   {'overall':<8} {o['detected']:>5}/{o['requests']:<5} {_pct(o['rate'])}"
        "   (target >= 90 %)"
    )
    rr = out["crs"]["overall_reachable"]
    print(f"   {'reachable':<8} {rr['detected']:>5}/{rr['requests']:<5} {_pct(rr['rate'])}   "
          f"(excluding {out['crs']['payload_only_in_unscanned_headers']} requests whose payload "
          "is only in Cookie/other headers, which scan_request does not take)")  # fmt: skip
    ft = out["crs"]["false_trigger"]
    print(
        f"   CRS negatives flagged: {ft['flagged']}/{ft['requests']} {_pct(ft['rate'])}"
        " (informational)"
    )
    print("\n2. Payloads as a URL-encoded query value")
    for cat, r in out["payloads"].items():
        mark = "  (target >= 90 %)" if cat in PAYLOAD_TARGETS else ""
        print(f"   {cat:<22} {r['detected']:>6}/{r['payloads']:<6} {_pct(r['rate'])}{mark}")
    b = out["benign"]
    print("\n3. Benign traffic")
    for src, r in b["logs"].items():
        print(f"   {src:<10} {r['flagged']:>3}/{r['requests']:<6} flagged {_pct(r['rate'])} "
              f"({r['with_query']} with a query)")  # fmt: skip
    lt = b["logs_total"]
    print(f"   all logs   {lt['flagged']:>3}/{lt['requests']:<6} flagged {_pct(lt['rate'])}; "
          f"excluding scanner/sensitive-file probes {_pct(lt['rate_excluding_scanner_like'])}"
          "   (target <= 0.5 %)")  # fmt: skip
    for f in b["flagged_lines"]:
        print(f"     {f['source']}:{f['line']}  [{f['hits']}]  {f['text'][:160]}")
    li = b["libinjection_fp"]
    print(f"   libinjection FP strings {li['flagged']}/{li['strings']} flagged {_pct(li['rate'])}")
    for f in li["items"]:
        print(f"     {f['text'][:80]!r}  [{f['hits']}]")
    pu = b["popular_user_agents"]
    print(f"   popular browser user agents {pu['flagged']}/{pu['agents']} flagged")
    for f in pu["items"]:
        print(f"     {f['text'][:100]!r}  [{f['hits']}]")
    lk = b["lookalikes"]
    print(f"   lookalike list {lk['flagged']}/{lk['items']} flagged")
    for f in lk["list"]:
        print(f"     {f['where']}: {f['text'][:80]!r}  [{f['hits']}]")
    if "cost" in out:
        c = out["cost"]
        print("\n4. Cost (scan_text, query location)")
        print(
            "   hostile input, whole input scanned (cap lifted): us per KB at 10 KB / 100 KB / 1 MB"
        )
        for name, row in c["hostile_us_per_kb"].items():
            print(f"     {name:<20} " + "  ".join(f"{v:>8}" for v in row.values()))
        print("   same with the default 64 KB per-field cap (1 MB costs what 64 KB costs):")
        for name, row in c["hostile_us_per_kb_capped"].items():
            print(f"     {name:<20} " + "  ".join(f"{v:>8}" for v in row.values()))
        print(f"   throughput: {c['throughput_requests_per_s']} scan_request/s "
              "(benign requests with query + browser UA, one core)")  # fmt: skip
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
