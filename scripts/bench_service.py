"""End-to-end service benchmark on an embedded broker (Tansu).

Throughput: N simulated JSON lines (flat otel) are produced into a 4-partition
topic first; then, in the same run, a bare aiokafka consume loop reads them
(no decoding), and one service instance consumes, decodes and detects until
drained. Reported: events/s of both and their ratio.

Detection latency: a real-time phase. A service's history is produced fast
(event times in the past, ending now), then events are produced with event
time = wall time; an error burst is injected on a different route in some
windows. The window holding a burst is closed by the first record whose event
time passes window end + allowed lateness; latency = wall time the incident
reached the sink - wall time that closing record was produced. (Event-time
design: the window length and lateness come on top, by construction.)

    .venv/bin/python scripts/bench_service.py --lines 300000
    .venv/bin/python scripts/bench_service.py --lines 1000000 --skip-latency --instances 2
    .venv/bin/python scripts/bench_service.py --lines 300000 --processes 2

With --processes N, `detector run --processes N` (one instance, N consumer processes)
consumes the same topic in a new group; its time runs from the command's start to its exit,
less the idle drain. With --instances N, N instances in separate processes (a new consumer group,
one state directory) then consume the same topic again; the figure is from
their start, group join included, to the last record processed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from detector.config import DetectorSettings, Settings, WindowSettings
from detector.decoding import parse_timestamp
from detector.incidents.model import Incident
from detector.jobs.feed import merged_keyed, produce_keyed, sim_access_files
from detector.kafka import EmbeddedBroker, KafkaConnection, TopicAdmin, TopicSpec, produce_lines
from detector.kafka.tail import assign_all, read_to_end
from detector.service.config import ServiceSettings
from detector.service.runtime import JsonLog, ServiceRuntime
from detector.simulate import simulate

FAST = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 250, "poll_timeout_ms": 100,
        "request_timeout_ms": 5000}


class TimedSink:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, Incident]] = []

    def write(self, incident: Incident) -> None:
        self.arrivals.append((time.time(), incident))

    def flush(self) -> None: ...

    def close(self) -> None: ...


async def bare_loop(conn: KafkaConnection, topic: str, expected: int
                    ) -> tuple[int, float, dict[int, int]]:
    """A bare consume loop over every record of ``topic`` (``expected``): the records, the
    seconds they took, and the records of each partition."""
    c = await assign_all(conn, topic)
    n = [0]
    t0 = time.perf_counter()
    per_partition: dict[int, int] = {}

    def count(r: Any) -> None:
        n[0] += 1
        per_partition[r.partition] = per_partition.get(r.partition, 0) + 1

    deadline = time.monotonic() + 300
    try:
        # Right after producing, the broker's end offsets may still lag what it holds:
        # read again until every record came (else the baseline is a few hundred records).
        while n[0] < expected:
            await read_to_end(c, count, 300)
            if time.monotonic() > deadline:
                raise SystemExit(f"bare loop: {n[0]} of {expected} records in 300 s")
            if n[0] < expected:
                await asyncio.sleep(0.05)
    finally:
        await c.stop()
    return n[0], time.perf_counter() - t0, per_partition


def _instance(bs: str, group: str, state: str, queue: Any) -> None:
    """One more instance of the group in a process of its own (--instances)."""
    async def go() -> None:
        cfg = ServiceSettings(bootstrap_servers=bs, topics=("bench",),
                              deployments_topic="bench-deps", group_id=group, metrics_port=0,
                              state_dir=Path(state),
                              checkpoint_every=10.0, drain_when_idle=3.0, dead_letter_topic=None,
                              **FAST)
        rt = ServiceRuntime(cfg, Settings(), [TimedSink()], log=JsonLog(open("/dev/null", "w")))  # noqa: SIM115
        task = asyncio.create_task(rt.run())
        events, last = 0, time.time()
        while not task.done():
            now = sum(st.pipeline.summary.events for st in rt.parts.values() if st.ready)
            if now != events:
                events, last = now, time.time()
            await asyncio.sleep(0.01)
        queue.put(last)
    asyncio.run(go())


async def instances(bs: str, n: int, total: int, bare: float, tmp: Path) -> None:
    """N instances, each in its own process, over the topic already produced."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_instance, args=(bs, f"bench-{n}", str(tmp / f"state-{n}"), queue))
             for i in range(n)]
    t0 = time.time()
    for p in procs:
        p.start()
    ends = [await asyncio.to_thread(queue.get) for _ in procs]
    for p in procs:
        p.join()
    el = max(ends) - t0
    print(f"{n} instances (separate processes, group join included): {total:,} events in "
          f"{el:.2f} s = {total / el:,.0f} events/s; ratio to bare loop {total / el / bare:.2f}")


async def processes(bs: str, n: int, total: int, bare: float, tmp: Path,
                    per_partition: dict[int, int]) -> None:
    """`detector run --processes N`: one instance, N consumer processes (a new group)."""
    import os
    import subprocess
    import sys

    drain = 2.0
    env = {**os.environ, **{f"DETECTOR_SERVICE__{k.upper()}": str(v) for k, v in FAST.items()}}
    args = [sys.executable, "-m", "detector", "run", "--bootstrap-servers", bs, "--topic", "bench",
            "--deployments-topic", "bench-deps", "--group-id", f"bench-p{n}",
            "--sink", f"jsonl:{tmp / f'processes-{n}.jsonl'}", "--state-dir",
            str(tmp / f"state-p{n}"), "--metrics-port", "0", "--checkpoint-every", "10",
            "--drain-when-idle", str(drain), "--processes", str(n)]
    t0 = time.perf_counter()
    done = await asyncio.to_thread(subprocess.run, args, env=env, capture_output=True,
                                   check=False)
    el = time.perf_counter() - t0 - drain
    if done.returncode != 0:
        print(f"--processes {n}: exit {done.returncode}: {done.stderr.decode()[-500:]}")
        return
    print(f"detector run --processes {n} (start to exit less the {drain:g} s idle drain; "
          f"imports and group join included): {total:,} events in {el:.2f} s = "
          f"{total / el:,.0f} events/s; ratio to bare loop {total / el / bare:.2f}")
    span, shares = _processing(done.stderr, per_partition)
    if span is not None:
        # The fixed start (imports, group join: seconds) weighs on a short run; this span
        # still holds the rebalances and the restores, which are the service's own cost.
        print(f"  assigned to drained (no imports, no first join): {span:.2f} s = "
              f"{total / span:,.0f} events/s; ratio to bare loop {total / span / bare:.2f}; "
              f"records per process as first assigned {shares} (at most "
              f"{total / max(shares.values()):.2f}x one process with this split: the group "
              "assigns partitions, not load)")


def _processing(log: bytes, per_partition: dict[int, int]
                ) -> tuple[float | None, dict[str, int]]:
    """From the children's JSON log: seconds from the first partition assigned to the
    last drain, and the records of the partitions each process owned before the first
    drain (the group's split of the load; a drained process leaving hands its own on)."""
    from datetime import datetime

    first = last = None
    owner: dict[int, str] = {}
    for line in log.splitlines():
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(rec, dict) or rec.get("event") not in ("assigned", "drained"):
            continue
        at = datetime.fromisoformat(rec["ts"]).timestamp()
        if rec["event"] == "assigned":
            first = at if first is None else min(first, at)
            if last is None:
                owner[int(rec["partition"])] = str(rec.get("process", "0"))
        else:
            last = at if last is None else max(last, at)
    shares: dict[str, int] = {}
    for part, proc in owner.items():
        shares[proc] = shares.get(proc, 0) + per_partition.get(part, 0)
    if first is None or last is None or not any(shares.values()):
        return None, shares
    return last - first, shares


async def throughput(bs: str, lines: int, tmp: Path, n_instances: int = 1,
                     n_processes: int = 1) -> None:
    conn = KafkaConnection(bootstrap_servers=bs)
    simulate(tmp / "sim", profile="bench", lines=lines, seed=1)
    records = merged_keyed(sim_access_files(tmp / "sim"))
    async with TopicAdmin(conn) as admin:
        await admin.ensure_topics([TopicSpec("bench", 4), TopicSpec("bench-deps", 1)])
    t0 = time.perf_counter()
    await produce_keyed(bs, "bench", records)
    print(f"produced {len(records):,} records in {time.perf_counter() - t0:.1f} s")
    n, el, per_partition = await bare_loop(conn, "bench", len(records))
    bare = n / el
    print(f"bare aiokafka loop: {n:,} records in {el:.2f} s = {bare:,.0f} records/s")
    cfg = ServiceSettings(bootstrap_servers=bs, topics=("bench",), deployments_topic="bench-deps",
                          group_id="bench", metrics_port=0, state_dir=tmp / "state",
                          checkpoint_every=10.0, drain_when_idle=1.0, dead_letter_topic=None,
                          **FAST)
    rt = ServiceRuntime(cfg, Settings(), [TimedSink()], log=JsonLog(open("/dev/null", "w")))  # noqa: SIM115
    task = asyncio.create_task(rt.run())
    first = None
    total = len(records)
    while True:
        done = sum(st.next_offset or 0 for st in rt.parts.values() if st.ready)
        if first is None and done:
            first = time.perf_counter()
        if done >= total:
            break
        await asyncio.sleep(0.01)
    el = time.perf_counter() - (first or time.perf_counter())
    rate = total / el
    print(f"service: {total:,} events in {el:.2f} s (from first record) = {rate:,.0f} events/s; "
          f"ratio to bare loop {rate / bare:.2f}")
    await task
    if n_instances > 1:
        await instances(bs, n_instances, total, bare, tmp)
    if n_processes > 1:  # the same command with one process: the speed-up of the flag alone
        await processes(bs, 1, total, bare, tmp, per_partition)
        await processes(bs, n_processes, total, bare, tmp, per_partition)


def event(ts: float, route: int, status: int, rng: random.Random) -> bytes:
    return orjson.dumps({
        "timestamp": round(ts, 3), "service.name": "lat", "http.request.method": "GET",
        "url.path": f"/api/r{route}/items/{rng.randint(1, 10**6)}",
        "http.response.status_code": status, "http.server.request.duration": 0.01,
        "client.address": f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 200)}",
    })


async def latency(bs: str, tmp: Path, bursts: int) -> None:
    size, lateness, routes, per_s = 5, 1.0, bursts, 8
    windows = WindowSettings(size_seconds=size, allowed_lateness_seconds=lateness)
    settings = Settings(windows=windows, detectors=DetectorSettings(warmup_windows=10))
    conn = KafkaConnection(bootstrap_servers=bs)
    async with TopicAdmin(conn) as admin:
        await admin.ensure_topics([TopicSpec("lat", 1)])
    rng = random.Random(3)
    now = time.time()
    start = (now // size - 40) * size
    hist = [event(start + i / (routes * per_s), i % routes, 200 if rng.random() > 0.01 else 500,
                  rng) for i in range(int((now - start) * routes * per_s))]
    await produce_lines(bs, "lat", hist, key_fn=lambda _l: b"lat")
    sink = TimedSink()
    cfg = ServiceSettings(bootstrap_servers=bs, topics=("lat",), deployments_topic=None,
                          group_id="lat", metrics_port=0, state_dir=tmp / "lat-state",
                          dead_letter_topic=None, **FAST)
    rt = ServiceRuntime(cfg, settings, [sink], log=JsonLog(open("/dev/null", "w")))  # noqa: SIM115
    task = asyncio.create_task(rt.run())
    produced: list[tuple[float, float]] = []  # (max event time in the batch, wall time produced)
    burst_windows = {}
    w0 = time.time() // size + 2
    for k in range(bursts):
        burst_windows[int(w0 + 2 * k)] = k
    end_wall = (w0 + 2 * bursts + 2) * size + lateness
    last = time.time()
    while time.time() < end_wall:
        await asyncio.sleep(0.2)
        t = time.time()
        batch = []
        n = int((t - last) * routes * per_s)
        for i in range(n):
            ts = last + (i + 1) * (t - last) / max(n, 1)
            w = int(ts // size)
            k = burst_windows.get(w)
            route = i % routes
            status = 500 if (k is not None and route == k and rng.random() < 0.7) else 200
            batch.append(event(ts, route, status, rng))
        last = t
        if batch:
            await produce_lines(bs, "lat", batch, key_fn=lambda _l: b"lat")
            produced.append((ts, time.time()))
    await asyncio.sleep(2)
    rt.request_stop("bench")
    await task
    lat = []
    for arrived, inc in sink.arrivals:
        if inc.status != "open" or inc.kind != "error_surge":
            continue

        w_end = parse_timestamp(inc.start) + size
        close_at = next((wall for ets, wall in produced if ets >= w_end + lateness), None)
        if close_at is not None:
            lat.append(arrived - close_at)
    if not lat:
        print("latency: no burst detected")
        return
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(f"detection latency after the closing record ({len(lat)} bursts): "
          f"median {statistics.median(lat) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
          f"(window {size} s, lateness {lateness:g} s come on top by design)")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--bursts", type=int, default=6)
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--instances", type=int, default=1,
                    help="also run N instances in separate processes (a consumer group)")
    ap.add_argument("--processes", type=int, default=1,
                    help="also run `detector run --processes N` (one instance, N processes)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        await throughput(broker.bootstrap_servers, args.lines, Path(tmp), args.instances,
                         args.processes)
        if not args.skip_latency:
            await latency(broker.bootstrap_servers, Path(tmp), args.bursts)


if __name__ == "__main__":
    asyncio.run(main())
