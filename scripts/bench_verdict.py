"""Verdict benchmark (issue 13): `detector verdict` over one hour of one service, end to end.

Writes once (into --dir, default /tmp/detector-bench-verdict) one hour of the
simulated payments service, about 100,000 events in flat OTel JSON, with a
deploy 30 minutes in whose version fails one route 5-20 % of the time. Then
times, best of --runs (default 3):

* the raw decode rate of the same file: ``orjson.loads`` per line, in this
  process (the baseline every pipeline figure of docs/BENCHMARKS.md is a
  ratio of);
* ``python -m detector verdict --service payments --version V --logs FILE
  --deployments FILE --window 25m --json`` in a subprocess, wall clock from
  start to exit (interpreter start and imports included): baseline the 25
  minutes before the deploy, candidate 2-27 minutes after it.

Prints events, seconds, events/s and the ratio to orjson; the target is a
verdict in <= 10 s. Not a test: a benchmark.

    python scripts/bench_verdict.py [--dir DIR] [--runs 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.simulate.catalog import PAYMENTS  # noqa: E402
from detector.simulate.verdict_build import Case, build  # noqa: E402
from detector.simulate.verdict_effects import ErrorSurge  # noqa: E402

TARGET_S = 10.0
# 13:00-14:00 UTC, the afternoon peak: ~28 requests a second at this daily mean.
BENCH = Case("bench-verdict", "error_surge", PAYMENTS, "otel", 18.5, start_hours=(13.0, 13.0),
             history=(30, 30), after=(30, 30))
SEED = 4242


def scenario(folder: Path) -> dict[str, object]:
    """The benchmark's hour, written once; its expected.json (service, version, requests)."""
    info = folder / "expected.json"
    if info.is_file():
        return dict(json.loads(info.read_text()))
    expected = build(BENCH, ErrorSurge(), SEED, folder)
    info.write_text(json.dumps(expected, indent=2))
    return expected


def orjson_rate(path: Path, runs: int) -> float:
    """Best seconds of ``orjson.loads`` over every line of ``path``."""
    data = path.read_bytes().splitlines()
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        for line in data:
            orjson.loads(line)
        best = min(best, time.perf_counter() - began)
    return best


def verdict_seconds(folder: Path, expected: dict[str, object], runs: int) -> tuple[float, str]:
    """Best wall-clock seconds of the verdict subprocess, and the verdict it gave."""
    cmd = [sys.executable, "-m", "detector", "verdict", "--service", str(expected["service"]),
           "--version", str(expected["version"]), "--logs", str(folder / "access.log"),
           "--deployments", str(folder / "deployments.jsonl"), "--window", "25m", "--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    best, verdict = float("inf"), "?"
    for _ in range(runs):
        began = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, cwd=REPO, check=False)
        took = time.perf_counter() - began
        if proc.returncode not in (0, 1, 3, 4):
            raise SystemExit(f"detector verdict failed (exit {proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace').strip()[-400:]}")
        verdict = str(json.loads(proc.stdout)["verdict"])
        best = min(best, took)
    return best, verdict


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/detector-bench-verdict"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()
    expected = scenario(a.dir)
    events = int(str(expected["requests"]))
    raw_s = orjson_rate(a.dir / "access.log", a.runs)
    took, verdict = verdict_seconds(a.dir, expected, a.runs)
    raw_rate, rate = events / raw_s, events / took
    print(f"verdict benchmark: {expected['service']} {expected['version']}, one hour, "
          f"{events:,} events, deploy at {expected['deployed_at']} ({verdict})")
    print(f"  orjson.loads baseline          {raw_s:7.2f} s  {raw_rate:>10,.0f} lines/s")
    print(f"  detector verdict, best of {a.runs}    {took:7.2f} s  {rate:>10,.0f} events/s  "
          f"ratio {rate / raw_rate:.3f}")
    print(f"  target <= {TARGET_S:g} s: {'met' if took <= TARGET_S else 'NOT met'}")
    if a.json:
        a.json.write_text(json.dumps({
            "events": events, "verdict_s": round(took, 3), "events_per_s": round(rate),
            "orjson_s": round(raw_s, 3), "orjson_lines_per_s": round(raw_rate),
            "ratio": round(rate / raw_rate, 4), "verdict": verdict,
            "target_met": took <= TARGET_S}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
