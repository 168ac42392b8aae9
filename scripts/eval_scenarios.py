"""Detection quality on simulated scenarios: simulate, replay, evaluate, one table.

    python scripts/eval_scenarios.py --seeds 5150,8086 --hours 72 \
        --start 2026-03-20T00:00:00Z --rate 0.25 --out /tmp/scenarios

For each seed: ``detector simulate`` (skipped when the directory already holds
that scenario), ``detector replay`` of its logs with its deployments into a
fresh incidents file, ``detector evaluate --json``. The per-kind figures of
every seed are then pooled (labels, incidents and matches added up, so a kind
with few labels per seed is judged on all of them) and printed as a Markdown
table, with the traffic kinds' false incidents per service-day and, when the
labels carry ``params.shape``, recall per shape.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

TRAFFIC_KINDS = ("traffic_spike", "traffic_drop", "error_surge", "client_error_surge",
                 "latency_regression", "new_endpoint")


def _run(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"detector {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr.strip().splitlines()[-1:] or ''}")


def _scenario(out: Path, seed: int, hours: float, start: str | None, rate: float) -> None:
    manifest = out / "manifest.json"
    if manifest.exists():
        m = orjson.loads(manifest.read_bytes())
        if m.get("seed") == seed and m.get("hours") == hours and m.get("rate") == rate:
            return
    args = ["simulate", str(out), "--hours", f"{hours:g}", "--seed", str(seed),
            "--rate", f"{rate:g}"]
    if start:
        args += ["--start", start]
    _run(args)


def _evaluate(out: Path, analysis: bool, workers: int) -> dict[str, Any]:
    inc = out / "incidents.jsonl"
    inc.unlink(missing_ok=True)  # the jsonl sink appends
    logs = sorted(str(p) for p in out.glob("access-*.log*"))
    args = ["replay", *logs, "--deployments", str(out / "deployments.jsonl"),
            "--sink", f"jsonl:{inc}", "--workers", str(workers)]
    if not analysis:
        args.append("--no-analysis")
    _run(args)
    report = out / "evaluation.json"
    _run(["evaluate", str(out / "labels.jsonl"), str(inc), "--json", str(report)])
    data: dict[str, Any] = orjson.loads(report.read_bytes())
    return data


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f} %" if b else "–"


def _table(reports: list[dict[str, Any]]) -> str:
    pooled: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    service_days = sum(r["services"] * r["days"] for r in reports)
    for r in reports:
        for kind, f in r["per_kind"].items():
            p = pooled[kind]
            for k in ("labels", "incidents", "matched_labels", "matched_incidents",
                      "false_incidents", "attributable", "attributed"):
                p[k] += f.get(k) or 0
    lines = ["| kind | labels | incidents | recall | precision | false / service-day "
             "| attribution |", "|---|---|---|---|---|---|---|"]
    for kind in sorted(pooled):
        p = pooled[kind]
        lines.append(
            f"| {kind} | {p['labels']:.0f} | {p['incidents']:.0f} "
            f"| {_pct(int(p['matched_labels']), int(p['labels']))} "
            f"| {_pct(int(p['matched_incidents']), int(p['incidents']))} "
            f"| {p['false_incidents'] / service_days:.2f} "
            f"| {_pct(int(p['attributed']), int(p['attributable']))} |")
    traffic_false = sum(pooled[k]["false_incidents"] for k in TRAFFIC_KINDS if k in pooled)
    all_false = sum(p["false_incidents"] for p in pooled.values())
    lines.append("")
    lines.append(f"Service-days: {service_days:.2f}. False incidents per service-day: "
                 f"traffic kinds {traffic_false / service_days:.2f}, all kinds "
                 f"{all_false / service_days:.2f}.")
    return "\n".join(lines)


def _shapes(outs: list[Path], reports: list[dict[str, Any]]) -> str:
    """Recall per (kind, shape) from the labels and each report's missed list."""
    total: dict[tuple[str, str], int] = defaultdict(int)
    missed: dict[tuple[str, str], int] = defaultdict(int)
    for out, r in zip(outs, reports, strict=True):
        gone = {m["id"] for m in r["missed"]}
        for line in (out / "labels.jsonl").read_bytes().splitlines():
            lab = orjson.loads(line)
            key = (lab["kind"], str((lab.get("params") or {}).get("shape", "step")))
            total[key] += 1
            missed[key] += lab["id"] in gone
    lines = ["| kind | shape | labels | recall |", "|---|---|---|---|"]
    for key in sorted(total):
        n = total[key]
        lines.append(f"| {key[0]} | {key[1]} | {n} | {_pct(n - missed[key], n)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", required=True, help="comma-separated simulate seeds")
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--start", default=None, help="ISO-8601 start of the scenario")
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/detector-scenarios"))
    ap.add_argument("--no-analysis", action="store_true", help="replay without request analysis")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    outs: list[Path] = []
    reports: list[dict[str, Any]] = []
    for seed in (int(s) for s in a.seeds.split(",")):
        out = a.out / f"seed-{seed}"
        _scenario(out, seed, a.hours, a.start, a.rate)
        reports.append(_evaluate(out, not a.no_analysis, a.workers))
        outs.append(out)
        ov = reports[-1]["overall"]
        print(f"seed {seed}: recall {ov['recall']}, precision {ov['precision']}, "
              f"false/service-day {ov['false_per_service_day']}", file=sys.stderr)
    print(_table(reports))
    print()
    print(_shapes(outs, reports))


if __name__ == "__main__":
    main()
