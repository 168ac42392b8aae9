"""One-class quality of request analysis: train on normal requests only, score a held-out mix.

Two sets:
  1. httpparams: ../shared/data/httpparams/payload_train.csv values placed as
     ``GET /search?q=<value>`` (train on 80 % of the normal values, hold out the
     rest plus every anomalous value);
  2. simulated: ``detector.simulate`` traffic; train on the first 70 % (in time) of
     requests, hold out the rest of the requests that carry a query or body, and
     add anomalous variants of held-out requests: unknown parameter, mass
     assignment, type change, huge value, attack payload (../shared/data/payloads).

For each detector (profiles alone, model alone, combined analyzer score,
signatures alone) it reports AUROC and the detection rate at 1 % false positives.

Usage: python scripts/eval_oneclass.py [--hours 2] [--seed 7] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.analysis.analyzer import RequestAnalyzer  # noqa: E402
from detector.analysis.batch_model import RequestForest  # noqa: E402
from detector.analysis.features import feature_matrix  # noqa: E402
from detector.analysis.params import parse_request  # noqa: E402
from detector.analysis.profiles import ProfileStore  # noqa: E402
from detector.events import AccessEvent  # noqa: E402
from detector.routes.templater import RouteTemplater  # noqa: E402
from detector.sources.files import FileSource  # noqa: E402
from scripts.oneclass_metrics import auroc, detection_at  # noqa: E402

DATA = Path(os.environ.get("DETECTOR_SHARED_DATA", REPO.parent / "shared" / "data"))
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"
DETECTORS = ("profiles", "model", "combined", "signatures")


def scores_for(
    analyzer: RequestAnalyzer, events: list[AccessEvent], routes: list[str]
) -> dict[str, np.ndarray]:
    prof, sig, rows = [], [], []
    for ev, route in zip(events, routes, strict=True):
        params = parse_request(ev.query, ev.body)
        prof.append(analyzer.profiles.assess(ev.service, ev.method, route, params).score)
        sig.append(1.0 if analyzer.signature_hits(ev) else 0.0)
        rows.append(analyzer.profile_features(ev, route))
    assert analyzer.model is not None
    model = np.concatenate(
        [
            analyzer.model.score_samples(feature_matrix(rows[i : i + 4096]))
            for i in range(0, len(rows), 4096)
        ]
    )
    combined = np.array(
        [
            v["score"]
            for i in range(0, len(events), 4096)
            for v in analyzer.verdicts(events[i : i + 4096], routes[i : i + 4096])
        ]
    )
    return {
        "profiles": np.array(prof),
        "model": model,
        "combined": combined,
        "signatures": np.array(sig),
    }


def fit(
    events: list[AccessEvent], routes: list[str], templater: RouteTemplater | None, seed: int
) -> RequestAnalyzer:
    """Profiles then model on normal requests, as ``detector train`` does."""
    profiles = ProfileStore()
    analyzer = RequestAnalyzer(profiles=profiles, templater=templater)
    keep = []
    for ev, route in zip(events, routes, strict=True):
        if analyzer.signature_hits(ev):
            continue  # train leaves signature hits out
        keep.append((ev, route))
        profiles.learn(
            ev.service,
            ev.method,
            route,
            parse_request(ev.query, ev.body) if (ev.query or ev.body) else [],
        )
    rows = [analyzer.profile_features(ev, r) for ev, r in keep if ev.query or ev.body]
    X = np.vstack([feature_matrix(rows[i : i + 4096]) for i in range(0, len(rows), 4096)])
    analyzer.model = RequestForest(random_state=seed).fit(X)
    return analyzer


def report(normal: dict[str, np.ndarray], anomalous: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        d: {
            "auroc": round(auroc(normal[d], anomalous[d]), 4),
            "detection_at_1pct_fp": round(detection_at(normal[d], anomalous[d]), 4),
            "fp_rate_flagged": round(float((normal[d] >= 0.5).mean()), 4),
            "detection_flagged": round(float((anomalous[d] >= 0.5).mean()), 4),
        }
        for d in DETECTORS
    }


def _ev(
    method: str, path: str, query: str, body: str | None, i: int, service: str = "shop"
) -> AccessEvent:
    return AccessEvent(
        1773738000.0 + i,
        service,
        None,
        method,
        path,
        query,
        200,
        0.01,
        10,
        "198.51.100.1",
        UA,
        body,
        None,
        "eval",
        i,
    )


def httpparams(seed: int) -> dict[str, Any]:
    path = DATA / "httpparams" / "payload_train.csv"
    if not path.exists():
        return {"skipped": f"{path} not found"}
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(seed)
    norm = [r["payload"] for r in rows if r["label"] == "norm"]
    anom = [(r["payload"], r["attack_type"]) for r in rows if r["label"] != "norm"]
    rng.shuffle(norm)
    cut = int(len(norm) * 0.8)
    train_ev = [
        _ev("GET", "/search", "q=" + quote_plus(v), None, i) for i, v in enumerate(norm[:cut])
    ]
    analyzer = fit(train_ev, ["/search"] * len(train_ev), None, seed)
    test_n = [
        _ev("GET", "/search", "q=" + quote_plus(v), None, i) for i, v in enumerate(norm[cut:])
    ]
    test_a = [_ev("GET", "/search", "q=" + quote_plus(v), None, i) for i, (v, _) in enumerate(anom)]
    sn = scores_for(analyzer, test_n, ["/search"] * len(test_n))
    sa = scores_for(analyzer, test_a, ["/search"] * len(test_a))
    out = {
        "train_normal": cut,
        "test_normal": len(test_n),
        "test_anomalous": len(test_a),
        "overall": report(sn, sa),
        "by_attack_type": {},
    }
    types = np.array([t for _, t in anom])
    for t in sorted(set(types)):
        mask = types == t
        out["by_attack_type"][t] = {
            d: round(detection_at(sn[d], sa[d][mask]), 4) for d in DETECTORS
        }
    return out


def _payloads(rng: random.Random, n: int) -> list[tuple[str, str]]:
    path = DATA / "payloads" / "payloads_combined.jsonl.gz"
    if not path.exists():
        return [
            ("1' OR '1'='1", "sqli"),
            ("<script>alert(1)</script>", "xss"),
            ("../../../../etc/passwd", "path_traversal"),
            (";cat /etc/passwd", "cmdi"),
        ]
    with gzip.open(path, "rt", encoding="utf-8") as f:
        recs = [json.loads(x) for x in f]
    recs = [r for r in recs if r.get("label") == "attack" and 3 <= len(r["payload"]) <= 400]
    rng.shuffle(recs)
    return [(r["payload"], r["category"]) for r in recs[:n]]


def _first_param(ev: AccessEvent) -> tuple[str, str, str] | None:
    params = parse_request(ev.query, ev.body)
    return params[0] if params else None


def mutate(
    ev: AccessEvent, kind: str, rng: random.Random, payloads: list[tuple[str, str]]
) -> AccessEvent | None:
    body: Any = None
    if ev.body:
        try:
            body = orjson.loads(ev.body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, dict) or not body:
            return None
    q = ev.query
    if kind in ("unknown_param", "mass_assignment"):
        name, value = (
            ("zz_" + rng.choice(["extra", "debug", "trace", "legacy"]), "1")
            if kind == "unknown_param"
            else rng.choice(
                [
                    ("is_admin", "true"),
                    ("role", "admin"),
                    ("permissions", "all"),
                    ("account_balance", "1000000"),
                ]
            )
        )
        if body is not None:
            body[name] = True if value == "true" else value
        else:
            q = f"{q}&{name}={value}"
    else:
        if body is not None:
            key = rng.choice(
                [k for k, v in body.items() if not isinstance(v, (dict, list))] or [None]
            )
            if key is None:
                return None
            old = body[key]
            if kind == "type_change":
                body[key] = (
                    {"value": old} if not isinstance(old, str) else rng.randint(10**6, 10**9)
                )
            elif kind == "huge_value":
                body[key] = (str(old) or "x") * (2000 // max(len(str(old)), 1) + 1)
            else:
                body[key] = payloads[rng.randrange(len(payloads))][0]
        else:
            pairs = [p.split("=", 1) + [""] for p in q.split("&") if p]
            if not pairs:
                return None
            j = rng.randrange(len(pairs))
            old = pairs[j][1]
            if kind == "type_change":
                new = (
                    "abc+def" if old.replace("-", "").isdigit() else str(rng.randint(10**6, 10**9))
                )
            elif kind == "huge_value":
                new = (old or "x") * (2000 // max(len(old), 1) + 1)
            else:
                new = quote_plus(payloads[rng.randrange(len(payloads))][0])
            pairs[j][1] = new
            q = "&".join(f"{k}={v}" for k, v, *_ in pairs)
    return ev._replace(query=q, body=orjson.dumps(body).decode() if body is not None else ev.body)


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


MUTATIONS = ("unknown_param", "mass_assignment", "type_change", "huge_value", "attack")


def simulated(hours: float, seed: int) -> dict[str, Any]:
    from detector.simulate import simulate

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulate(Path(tmp), hours=hours, seed=seed)
        events: list[AccessEvent] = []
        for f in sim.files:
            if f.startswith("access-"):
                events += [e for e in FileSource(str(Path(tmp) / f)) if type(e) is AccessEvent]
        labels = [json.loads(x) for x in (Path(tmp) / "labels.jsonl").read_text().splitlines()]
    # The simulator injects labelled content anomalies of its own: keep them out of "normal".
    spans = [(lb["service"], lb.get("client"), _epoch(lb["start"]), _epoch(lb["end"]))
             for lb in labels if lb["kind"] in ("attack_payload", "unusual_payload", "scanning")]
    events = [e for e in events
              if not any(e.service == s and (c is None or e.client == c) and a <= e.ts <= b + 60
                         for s, c, a, b in spans)]
    events.sort(key=lambda e: e.ts)
    templater = RouteTemplater()
    for e in events:
        templater.template(e.service, e.path)
    routes = [templater.template(e.service, e.path) for e in events]
    cut = int(len(events) * 0.7)
    analyzer = fit(events[:cut], routes[:cut], templater, seed)
    hold = [(e, r) for e, r in zip(events[cut:], routes[cut:], strict=True) if e.query or e.body]
    rng.shuffle(hold)
    hold = hold[:20000]
    normal_ev = [e for e, _ in hold]
    normal_rt = [r for _, r in hold]
    payloads = _payloads(rng, 3000)
    anom: dict[str, tuple[list[AccessEvent], list[str]]] = {m: ([], []) for m in MUTATIONS}
    for i, (e, r) in enumerate(hold[:5000]):
        m = MUTATIONS[i % len(MUTATIONS)]
        bent = mutate(e, m, rng, payloads)
        if bent is not None:
            anom[m][0].append(bent)
            anom[m][1].append(r)
    sn = scores_for(analyzer, normal_ev, normal_rt)
    all_ev = [e for m in MUTATIONS for e in anom[m][0]]
    all_rt = [r for m in MUTATIONS for r in anom[m][1]]
    sa = scores_for(analyzer, all_ev, all_rt)
    out: dict[str, Any] = {
        "events": len(events),
        "train_events": cut,
        "test_normal": len(normal_ev),
        "test_anomalous": len(all_ev),
        "overall": report(sn, sa),
        "by_mutation": {},
    }
    start = 0
    for m in MUTATIONS:
        n = len(anom[m][0])
        out["by_mutation"][m] = {
            d: round(detection_at(sn[d], sa[d][start : start + n]), 4) for d in DETECTORS
        }
        start += n
    return out


def _table(title: str, res: dict[str, Any]) -> str:
    if "skipped" in res:
        return f"{title}: skipped ({res['skipped']})"
    lines = [
        f"{title}: {res['test_normal']:,} normal vs {res['test_anomalous']:,} anomalous held out",
        f"  {'detector':<11} {'AUROC':>7} {'det@1%FP':>9} {'FP@0.5':>7} {'det@0.5':>8}",
    ]
    for d, r in res["overall"].items():
        lines.append(
            f"  {d:<11} {r['auroc']:>7.4f} {r['detection_at_1pct_fp']:>9.4f} "
            f"{r['fp_rate_flagged']:>7.4f} {r['detection_flagged']:>8.4f}"
        )
    per = res.get("by_attack_type") or res.get("by_mutation") or {}
    if per:
        lines.append(
            f"  detection at 1% FP by {'attack type' if 'by_attack_type' in res else 'mutation'}"
            f" ({', '.join(DETECTORS)}):"
        )
        for k, v in per.items():
            lines.append(f"    {k:<16} " + "  ".join(f"{v[d]:.3f}" for d in DETECTORS))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hours", type=float, default=2.0, help="simulated hours (default 2)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args()
    began = time.perf_counter()
    res = {"httpparams": httpparams(args.seed), "simulated": simulated(args.hours, args.seed)}
    res["elapsed_s"] = round(time.perf_counter() - began, 1)
    print(_table("httpparams (GET /search?q=<value>)", res["httpparams"]))
    print(_table(f"simulated traffic ({args.hours:g} h, seed {args.seed})", res["simulated"]))
    print(f"elapsed {res['elapsed_s']} s")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
