"""Benchmark the routes stage: cache hits, misses, and memory of RouteTemplater.

Usage: .venv/bin/python scripts/bench_routes.py [--lookups 1000000] [--distinct 50000]

A realistic shop API (tests/routes/synthetic.py) gives ``--distinct`` raw paths;
the lookup stream draws ``--lookups`` of them with a skewed (Zipf-like)
popularity, as real traffic does. Timings are process CPU time per lookup
(steadier than wall time on a shared machine), best of ``--repeat``; memory
is measured in a separate run under tracemalloc, since tracing slows every
allocation.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.routes import RouteTemplater  # noqa: E402
from tests.routes.synthetic import distinct_realistic_paths  # noqa: E402


def _best(repeat: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeat))


def _time_misses(paths: list[str]) -> float:
    t = RouteTemplater()
    template = t.template
    start = time.process_time()
    for p in paths:
        template("shop", p)
    return (time.process_time() - start) / len(paths)


def _time_stream(t: RouteTemplater, stream: list[str]) -> float:
    template = t.template
    start = time.process_time()
    for p in stream:
        template("shop", p)
    return (time.process_time() - start) / len(stream)


def _time_loop_overhead(stream: list[str]) -> float:
    def noop(service: str, path: str) -> str:
        return path

    start = time.process_time()
    for p in stream:
        noop("shop", p)
    return (time.process_time() - start) / len(stream)


def _memory(stream: list[str]) -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t = RouteTemplater()
    for p in stream:
        # A fresh str per lookup, as decoded events give: the cache then owns its keys.
        t.template("shop", p.encode().decode())
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del t
    return current - base, peak - base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lookups", type=int, default=1_000_000)
    ap.add_argument("--distinct", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    paths = distinct_realistic_paths(args.distinct, seed=args.seed)
    r = random.Random(args.seed)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(paths))]
    stream = paths + r.choices(paths, weights=weights, k=args.lookups - len(paths))
    r.shuffle(stream)

    miss = _best(args.repeat, lambda: _time_misses(paths))
    warm = RouteTemplater()
    _time_stream(warm, stream)
    hit = _best(args.repeat, lambda: _time_stream(warm, stream))
    cold = _best(args.repeat, lambda: _time_stream(RouteTemplater(), stream))
    loop = _best(args.repeat, lambda: _time_loop_overhead(stream))
    retained, peak = _memory(stream)
    templates = warm.templates("shop")

    print(f"python {sys.version.split()[0]}, {args.lookups:,} lookups over {len(paths):,} paths")
    print(f"miss (first sight of a path)      {miss * 1e6:8.3f} us/lookup")
    print(f"hit  (all cached)                 {hit * 1e6:8.3f} us/lookup")
    print(f"  of which the benchmark loop     {loop * 1e6:8.3f} us/lookup (no-op call)")
    print(f"cold stream (misses + hits)       {cold * 1e6:8.3f} us/lookup")
    print(f"templates learned                 {len(templates):8d}")
    nodes, cached = warm.node_count("shop"), warm.cached_paths()
    print(f"nodes / cached paths              {nodes:8d} / {cached:,}")
    print(f"memory retained / peak            {retained / 2**20:8.1f} / {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
