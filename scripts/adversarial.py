"""Run every hostile-input probe and print a table: probe, outcome, peak RSS.

    python scripts/adversarial.py            # all probes
    python scripts/adversarial.py -k gzip    # probes whose name contains "gzip"
    python scripts/adversarial.py --json     # one JSON object per probe

Probes live in ``scripts/probes/*.py`` (see its ``__init__``). Each runs in a
fresh process of its own, so its peak RSS (``ru_maxrss`` of that process and of
every process it started) is its own. Exit 0 when every row holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probes import Probe, ProbeFailed  # noqa: E402


def all_probes() -> list[tuple[str, Probe]]:
    import probes

    found: list[tuple[str, Probe]] = []
    for info in sorted(pkgutil.iter_modules(probes.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"probes.{info.name}")
        for probe in getattr(module, "PROBES", []):
            found.append((info.name, probe))
    return found


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def run_one(module: str, name: str) -> dict[str, object]:
    """Run one probe in this process; the result as a dict (printed as JSON by --one)."""
    probe = next(p for m, p in all_probes() if m == module and p.name == name)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="adversarial-") as tmp:
        try:
            outcome, held = probe.run(Path(tmp)), True
        except ProbeFailed as exc:
            outcome, held = f"FAILED: {exc}", False
        except Exception as exc:  # a crash of the probe itself is a failed row too
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            outcome, held = f"ERROR: {tb}", False
    rss = _peak_rss_mb()
    if held and rss > probe.max_rss_mb:
        held = False
        outcome = f"{outcome} (peak RSS {rss:.0f} MB over {probe.max_rss_mb:.0f} MB)"
    return {"module": module, "probe": name, "held": held, "outcome": outcome,
            "peak_rss_mb": round(rss, 1), "seconds": round(time.monotonic() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="run only probes whose name contains this")
    parser.add_argument("--json", action="store_true", help="one JSON object per probe")
    parser.add_argument("--one", nargs=2, metavar=("MODULE", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return 0
    rows: list[dict[str, object]] = []
    for module, probe in all_probes():
        if args.k not in probe.name and args.k not in module:
            continue
        proc = subprocess.run([sys.executable, __file__, "--one", module, probe.name],
                              capture_output=True, text=True)
        try:
            row = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            row = {"module": module, "probe": probe.name, "held": False,
                   "outcome": f"ERROR: probe process exited {proc.returncode}: {err}",
                   "peak_rss_mb": float("nan"), "seconds": float("nan")}
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            mark = "ok  " if row["held"] else "FAIL"
            print(f"{mark} {module + ':' + probe.name:<44} {row['peak_rss_mb']:>7} MB "
                  f"{row['seconds']:>6} s  {row['outcome']}", flush=True)
    failed = [r for r in rows if not r["held"]]
    if not args.json:
        print(f"\n{len(rows) - len(failed)} of {len(rows)} probes held")
    return 1 if failed or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
