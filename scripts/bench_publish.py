"""``detector publish`` throughput into the embedded broker (Tansu), against raw file reading.

A file of N simulated OTel lines (the flat and the nested layout, two
services) is built from a 24 h simulation; then, in the same run, it is read
line by line with nothing else done (the raw reading speed of this machine),
and published with :func:`detector.jobs.publish.publish` into a 4-partition
topic (keyed by service, batched, acknowledged by the broker). Reported:
lines/s of both and their ratio. Target (issue 14): >= 100,000 lines/s.

    .venv/bin/python scripts/bench_publish.py               # 1,000,000 lines
    .venv/bin/python scripts/bench_publish.py --lines 200000 --gzip
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import tempfile
import time
from pathlib import Path

from detector.jobs.publish import publish
from detector.kafka import EmbeddedBroker, KafkaConnection, TopicAdmin, TopicSpec
from detector.simulate import simulate


def build_file(work: Path, n: int, gz: bool) -> Path:
    sim = work / "sim"
    simulate(sim, hours=24, seed=61001, rate=0.25)
    lines: list[bytes] = []
    for f in sorted(sim.glob("access-*.otel.log")):
        lines += [ln for ln in f.read_bytes().splitlines() if ln]
    body = b"\n".join(itertools.islice(itertools.cycle(lines), n)) + b"\n"
    out = work / ("bench.log.gz" if gz else "bench.log")
    out.write_bytes(gzip.compress(body, 1) if gz else body)
    return out


def raw_read(path: Path) -> float:
    """Lines/s of reading the file line by line and nothing else."""
    t0 = time.perf_counter()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        n = sum(1 for _ in f)
    return n / (time.perf_counter() - t0)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--gzip", action="store_true", help="publish a .gz file")
    ap.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        path = build_file(Path(tmp), args.lines, args.gzip)
        size = path.stat().st_size
        print(f"file: {args.lines:,} lines, {size / 1e6:,.1f} MB{' (gzip)' if args.gzip else ''}")
        async with EmbeddedBroker() as broker:
            conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)
            async with TopicAdmin(conn) as admin:
                await admin.ensure_topics([TopicSpec("bench", args.partitions)])
            raw = raw_read(path)
            summary = await publish([str(path)], "bench", conn)
        print(summary.line())
        print(f"raw line reading: {raw:,.0f} lines/s")
        print(f"publish: {summary.rate:,.0f} lines/s = {summary.rate / raw:.3f} of raw reading "
              f"({'meets' if summary.rate >= 100_000 else 'below'} the 100,000 lines/s target)")


if __name__ == "__main__":
    asyncio.run(main())
