"""Report benchmark: size and generation time of `detector report` on a day of traffic.

Simulates (or reuses) 24 h of the five simulated services (`detector simulate --hours 24
--rate 0.25`), then times, each in a child process:
  1. `detector replay` of the logs (the replay the report cannot avoid);
  2. `detector report` of the same logs (replay + collection + rendering);
  3. `detector report` of the incidents file alone (rendering without timelines).
Prints the figures (wall seconds, HTML bytes, SVG path points) and, with --json, writes
them. Not a test: a benchmark.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

START = "2026-03-20T00:00:00Z"


def _detector(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "detector", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/bench-report"))
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=61002)
    ap.add_argument("--rate", type=float, default=0.25)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    sim = args.out / "sim"
    if not (sim / "manifest.json").exists():
        _detector("simulate", str(sim), "--hours", str(args.hours), "--seed", str(args.seed),
                  "--rate", str(args.rate), "--start", START)
    logs = sorted(str(p) for p in sim.glob("*.log"))  # clf/ holds a copy in another format
    deploys = str(sim / "deployments.jsonl")
    incidents = args.out / "incidents.jsonl"
    incidents.unlink(missing_ok=True)
    replay_s = _detector("replay", *logs, "--deployments", deploys, "--sink",
                         f"jsonl:{incidents}")
    html = args.out / "report.html"
    report_s = _detector("report", *logs, "--deployments", deploys, "--out", str(html))
    text = html.read_text()
    alone = args.out / "report-incidents.html"
    alone_s = _detector("report", str(incidents), "--deployments", deploys, "--out", str(alone))
    figures = {
        "hours": args.hours, "seed": args.seed, "rate": args.rate,
        "lines": sum(Path(p).read_bytes().count(b"\n") for p in logs),
        "incidents": len({json.loads(line)["id"] for line in incidents.read_text().splitlines()}),
        "replay_s": round(replay_s, 1), "report_s": round(report_s, 1),
        "report_bytes": len(text.encode()),
        "svg_elements": text.count("<svg"),
        "path_points": sum(len(re.findall(r"-?\d+", d)) // 2
                           for d in re.findall(r' d="([^"]*)"', text)),
        "incidents_only_s": round(alone_s, 1), "incidents_only_bytes": alone.stat().st_size,
    }
    for k, v in figures.items():
        print(f"{k:>22}  {v}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
