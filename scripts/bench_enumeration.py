"""Object-enumeration benchmark: memory and speed with 1 M distinct object ids on one route.

Each case pushes the same number of in-memory events (default 1 M, 60 req/s of
event time: ~4.6 h, ~280 windows) through a Pipeline (no request analysis), in
a process of its own so that peak RSS (``ru_maxrss``) is that case's alone:

* ``baseline``: the same traffic on a route without ids (``GET /v1/orders``);
* ``walker``: one client walking 1 M distinct ids of ``GET /v1/orders/{id}``;
* ``many``: 10,000 clients sharing 1 M distinct ids (100 each, in turns);
* ``crowd``: 100,000 clients, 10 ids each (more walks than the table tracks).

Each id case runs twice, with the detector and without it (``-off``: its
window step replaced by a no-op), so the templater's and path cache's share of
1 M distinct raw paths is told apart from the detector's. Printed per run: peak
RSS, its growth over the baseline, µs per request, walks tracked at the end,
object_enumeration incidents. Not a test: a benchmark.

    python scripts/bench_enumeration.py [--events 1000000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = ("baseline", "walker", "many", "crowd")
RATE = 60.0  # events per second of event time: one walker stays under the window cap
T0 = 1_773_964_800.0  # 2026-03-20T00:00:00Z


def events(case: str, n: int) -> Iterator[object]:
    from detector.events import AccessEvent

    clients = {"baseline": 10_000, "walker": 1, "many": 10_000, "crowd": 100_000}[case]
    for i in range(n):
        path = "/v1/orders" if case == "baseline" else f"/v1/orders/{1_000_000 + i}"
        c = 0 if clients == 1 else (i // (n // clients)) % clients  # each walks its ids in turn
        client = f"10.{c // 65536}.{c // 256 % 256}.{c % 256}"
        yield AccessEvent(T0 + i / RATE, "orders", None, "GET", path, "", 200, 0.02, 900,
                          client, "bench/1.0", None, None, "bench", i)


def run_case(case: str, n: int, enum: bool) -> dict[str, float | int | str]:
    sys.path.insert(0, str(REPO))
    from detector.config import Settings
    from detector.pipeline import Pipeline
    from detector.sinks import MemorySink

    sink = MemorySink()
    p = Pipeline(Settings(), [sink], wall_clock=None)
    if not enum:  # the same run without the detector: what it alone costs
        p.object_enum.check_window = lambda *args: []  # type: ignore[method-assign]
    t0 = time.perf_counter()
    batch: list[object] = []
    for ev in events(case, n):
        batch.append(ev)
        if len(batch) == 4096:
            p.process(batch)  # type: ignore[arg-type]
            batch = []
    p.process(batch)  # type: ignore[arg-type]
    p.finish()
    dt = time.perf_counter() - t0
    return {"case": case if enum else f"{case}-off", "events": n,
            "us_per_request": round(1e6 * dt / n, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "tracked": p.object_enum.tracked,
            "incidents": len({i.id for i in sink.items if i.kind == "object_enumeration"})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--case", help=argparse.SUPPRESS)  # a child process: one case
    ap.add_argument("--off", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if a.case:
        print(json.dumps(run_case(a.case, a.events, not a.off)))
        return
    rows = []
    for case in a.cases.split(","):
        for off in ([False, True] if case != "baseline" else [False]):
            cmd = [sys.executable, __file__, "--case", case, "--events", str(a.events)]
            out = subprocess.run(cmd + (["--off"] if off else []), check=True,
                                 capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = next((r["peak_rss_mb"] for r in rows if r["case"] == "baseline"), None)
    print(f"{'case':<13} {'events':>9} {'peak RSS':>9} {'growth':>8} {'µs/req':>7} "
          f"{'tracked':>8} {'incidents':>9}")
    for r in rows:
        growth = "–" if base is None else f"{float(r['peak_rss_mb']) - float(base):+.1f}"
        r["rss_growth_mb"] = None if base is None else round(float(r["peak_rss_mb"]) - base, 1)
        print(f"{r['case']:<13} {r['events']:>9,} {r['peak_rss_mb']:>7.1f}MB {growth:>6}MB "
              f"{r['us_per_request']:>7.2f} {r['tracked']:>8,} {r['incidents']:>9}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
