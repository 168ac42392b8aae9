"""Memory benchmark: 1 M distinct clients and 500k distinct raw paths in one hour of event time.

Issue 15's memory row. Writes (or reuses) one flat OTel file under
``.bench/memory/``: ``--events`` requests (default 1 M) spread evenly over one
hour, each from a client never seen before (IPv4 and, one in eight, IPv6), over
``--paths`` distinct raw paths (default 500k; every path is new until that many
were used, then earlier ones come back). The paths are what real services and
the internet send: ids on REST routes, slugs, hashed assets, per-user
sub-resources, and one in ten a scanner's junk path that templates to nothing
learned. One in five requests carries a query string, so request analysis has
candidates to profile.

Then ``detector replay`` of that file runs in a child process, with and without
request analysis; printed per run: peak RSS of the child (``ru_maxrss``),
events/s, incidents. Target (issue 15): peak RSS <= 300 MB. Not a test: a
benchmark.

    python scripts/bench_memory.py [--events 1000000] [--paths 500000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
T0 = 1_773_964_800.0  # 2026-03-20T00:00:00Z
SERVICES = ("shop", "accounts", "catalog", "orders", "media")
HOUR = 3600.0

CHILD = r"""
import json, resource, sys, time
from detector.config import Settings
from detector.jobs.replay import build_analyzer, run_replay
from detector.sinks import make_sink
analyzer = build_analyzer(None, enabled=sys.argv[2] == "analysis")
t0 = time.perf_counter()
summary, problems = run_replay([sys.argv[3]], analyzer=analyzer, settings=Settings(),
                               fmt="auto", service="default", deployments=None,
                               sinks=[make_sink("jsonl:" + sys.argv[1])], dead_letter=None,
                               progress=False)
wall = time.perf_counter() - t0
print(json.dumps({"events": summary.events, "bad": summary.bad, "wall_s": wall,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "incidents": dict(summary.incidents), "problems": problems}))
"""


def raw_path(p: int) -> tuple[str, str]:
    """The service and raw path number ``p`` stands for (distinct ``p``: distinct paths)."""
    family = p % 10
    n = 100_000 + p
    if family < 3:
        return "orders", f"/v1/orders/{n}"
    if family == 3:
        return "accounts", f"/v1/users/{n}/addresses"
    if family == 4:
        return "catalog", f"/products/sku-{n * 2654435761 % (1 << 32):08x}"
    if family == 5:
        return "catalog", f"/blog/{('spring', 'summer', 'sale', 'guide')[p % 4]}-tips-{n}"
    if family == 6:
        return "media", f"/static/app.{n * 40503 % (1 << 28):07x}.js"
    if family == 7:
        return "media", f"/img/{n % 997}/{n}.jpg"
    if family == 8:
        return "shop", f"/cart/{n:x}-{n % 7919}/items"
    return "shop", f"/{('wp', 'old', 'bak', 'tmp')[p % 4]}-{n * 7 % 100_003:x}/x{n % 13}.php"


def client(i: int) -> str:
    if i % 8 == 7:
        return f"2001:db8:{i >> 16 & 0xFFFF:x}:{i & 0xFFFF:x}::1"
    return f"{10 + (i >> 24)}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def write_corpus(path: Path, events: int, paths: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    step = HOUR / events
    with tmp.open("wb") as out:
        for i in range(events):
            p = i if i < paths else (i * 2_654_435_761) % paths  # new, then earlier paths again
            service, url = raw_path(p)
            ts = T0 + i * step
            whole = int(ts)
            frac = int(round((ts - whole) * 1e6))
            if frac == 1_000_000:
                whole, frac = whole + 1, 0
            stamp = f"2026-03-20T{(whole - int(T0)) // 3600:02d}:{(whole // 60) % 60:02d}:" \
                    f"{whole % 60:02d}.{frac:06d}Z"
            status = 404 if url.endswith(".php") else (200 if i % 50 else 500)
            rec = {"timestamp": stamp, "http.request.method": "GET", "url.path": url,
                   "http.response.status_code": status,
                   "http.server.request.duration": 0.02 + (i % 97) / 1000.0,
                   "client.address": client(i), "user_agent.original":
                   f"Mozilla/5.0 (bench; build {i % 40})", "service.name": service,
                   "service.version": "1.0.0", "http.response.body.size": 500 + i % 4000}
            if i % 5 == 0:
                rec["url.query"] = f"q={('red', 'blue', 'shoes', 'hat')[i % 4]}&page={i % 9}"
            out.write(orjson.dumps(rec) + b"\n")
    tmp.replace(path)


def run(corpus: Path, mode: str, out: Path) -> dict[str, object]:
    out.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", CHILD, str(out), mode, str(corpus)],
                          capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"replay ({mode}) failed: {done.stderr.strip().splitlines()[-1:]}")
    fig: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    fig["mode"] = mode
    fig["events_per_s"] = round(float(fig["events"]) / float(fig["wall_s"]))  # type: ignore[arg-type]
    return fig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--paths", type=int, default=500_000)
    ap.add_argument("--data", type=Path, default=REPO / ".bench" / "memory")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if a.paths > a.events:
        raise SystemExit("--paths cannot exceed --events")
    corpus = a.data / f"memory-{a.events}-{a.paths}.otel.log"
    if not corpus.exists():
        write_corpus(corpus, a.events, a.paths)
    rows = [run(corpus, mode, a.data / f"incidents-{mode}.jsonl")
            for mode in ("no-analysis", "analysis")]
    print(f"corpus: {a.events:,} events in one hour, {a.events:,} distinct clients, "
          f"{a.paths:,} distinct raw paths ({corpus})")
    print(f"{'mode':<12} {'events/s':>9} {'peak RSS':>9} {'incidents':>9}")
    for r in rows:
        incidents = sum(r["incidents"].values())  # type: ignore[attr-defined]
        print(f"{r['mode']:<12} {r['events_per_s']:>9,} {r['peak_rss_mb']:>7.1f}MB "
              f"{incidents:>9}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
