"""`make demo` (offline): simulate two hours of traffic, replay it, show incidents and their score.

Runs the same commands a user would type:
  detector simulate OUT --hours 2 --seed 7
  detector replay OUT/access-*.log --deployments OUT/deployments.jsonl \
      --sink stdout --sink jsonl:OUT/incidents.jsonl
  detector evaluate OUT/labels.jsonl OUT/incidents.jsonl
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path


def sh(*args: str) -> None:
    print(f"\n$ detector {' '.join(args)}", flush=True)
    res = subprocess.run([sys.executable, "-m", "detector", *args])
    if res.returncode != 0:
        raise SystemExit(res.returncode)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/demo"))
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    sh("simulate", str(out), "--hours", str(args.hours), "--seed", str(args.seed))
    logs = sorted(str(p) for p in out.glob("access-*.log"))
    incidents = out / "incidents.jsonl"
    sh(
        "replay",
        *logs,
        "--deployments",
        str(out / "deployments.jsonl"),
        "--sink",
        "stdout",
        "--sink",
        f"jsonl:{incidents}",
        "--dead-letter",
        str(out / "bad.jsonl"),
    )
    sh("evaluate", str(out / "labels.jsonl"), str(incidents))
    print(f"\nfiles: {out}/ (logs, deployments.jsonl, labels.jsonl, incidents.jsonl)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
