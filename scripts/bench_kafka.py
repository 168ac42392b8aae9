"""Kafka read throughput: bare aiokafka vs KafkaSource, on an embedded broker.

    .venv/bin/python scripts/bench_kafka.py [--records 300000] [--partitions 4]

Produces ~300-byte JSON lines keyed by service into a fresh topic, then reads
them all three ways, each in its own consumer group, best of --repeat
interleaved runs. Rates are measured from
the first record received, so the group join (about half a session timeout on
Tansu) is not counted.

With confluent-kafka installed (``pip install confluent-kafka``: not a dependency of
the project, only measured here as the alternative client issue 15 asks about) two more
rows: its consumer reading with ``assign()`` (no group), and whether its group join
(``subscribe()``) gets an assignment from the broker at all, within --join-timeout s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from detector.kafka import (
    EmbeddedBroker,
    KafkaConnection,
    KafkaSource,
    KafkaSourceConfig,
    TopicAdmin,
    TopicSpec,
    produce_lines,
)

try:
    import confluent_kafka
except ImportError:  # optional: only measured when installed
    confluent_kafka = None

SERVICES = ["shop", "payments", "search", "auth", "catalog", "cart", "users", "orders"]
SESSION_MS, HEARTBEAT_MS = 2000, 250


def make_lines(n: int, seed: int = 1) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        rec = {
            "timestamp": f"2026-03-17T09:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}"
            f".{i % 1000:03d}Z",
            "service.name": rnd.choice(SERVICES),
            "http.request.method": "GET",
            "url.path": f"/api/v1/items/{rnd.randrange(100000)}",
            "url.query": f"page={rnd.randrange(50)}&sort=price",
            "http.response.status_code": rnd.choice([200, 200, 200, 201, 404, 500]),
            "http.server.request.duration": round(rnd.random() / 5, 4),
            "client.address": f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}",
            "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
        }
        out.append(json.dumps(rec).encode())
    return out


async def timed(n: int, read: Callable[[], AsyncGenerator[int, None]]) -> float:
    """Records/s of ``read`` (which yields counts) from its first record to the n-th."""
    seen, t0 = 0, 0.0
    gen = read()
    try:
        async for k in gen:
            if k and not seen:
                t0 = time.perf_counter()
            seen += k
            if seen >= n:
                break
        return n / (time.perf_counter() - t0)
    finally:
        await gen.aclose()  # leave the group now, while the broker still runs


async def main(n: int, partitions: int, fetch_kib: int, repeat: int, join_s: float) -> None:
    fetch = {"max_partition_fetch_bytes": fetch_kib * 1024}
    async with EmbeddedBroker() as broker:
        conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)
        async with TopicAdmin(conn) as admin:
            await admin.ensure_topics([TopicSpec("bench", partitions)])
        lines = make_lines(n)
        size = sum(map(len, lines)) / n
        t = time.perf_counter()
        await produce_lines(
            conn, "bench", lines, key_fn=lambda ln: json.loads(ln)["service.name"].encode()
        )
        dt = time.perf_counter() - t
        print(f"produced {n} records of ~{size:.0f} B in {dt:.2f}s: {n / dt:,.0f} rec/s")

        async def bare() -> AsyncGenerator[int, None]:
            c = AIOKafkaConsumer(
                "bench",
                group_id=f"bare-{next(gid)}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **conn.client_kwargs(),
                session_timeout_ms=SESSION_MS,
                heartbeat_interval_ms=HEARTBEAT_MS,
                **fetch,
            )
            await c.start()
            try:
                while True:
                    got = await c.getmany(timeout_ms=1000, max_records=10_000)
                    yield sum(len(v) for v in got.values())
            finally:
                await c.stop()

        def source(group: str) -> KafkaSource:
            cfg = KafkaSourceConfig(
                topics=("bench",),
                group_id=group,
                session_timeout_ms=SESSION_MS,
                heartbeat_interval_ms=HEARTBEAT_MS,
            )
            return KafkaSource(cfg, conn, max_partition_fetch_bytes=fetch_kib * 1024)

        async def batches() -> AsyncGenerator[int, None]:
            async with source(f"batches-{next(gid)}") as s:
                async for batch in s.batches():
                    yield len(batch)

        async def records() -> AsyncGenerator[int, None]:
            async with source(f"records-{next(gid)}") as s:
                async for _ in s:
                    yield 1

        results: dict[str, float] = {}
        gid = iter(range(1_000_000))
        runs: list[tuple[str, Callable[[], AsyncGenerator[int, None]]]] = [
            ("bare aiokafka getmany", bare),
            ("KafkaSource.batches()", batches),
            ("KafkaSource per record", records),
        ]
        # Interleaved, best of `repeat`: a shared machine makes single runs noisy.
        for _ in range(repeat):
            for name, read in runs:
                results[name] = max(results.get(name, 0.0), await timed(n, read))
        if confluent_kafka is not None:
            results["confluent-kafka assign()"] = max(
                [await asyncio.to_thread(confluent_assign, broker.bootstrap_servers, n,
                                         partitions, fetch_kib) for _ in range(repeat)])
        base = results["bare aiokafka getmany"]
        for name, rate in results.items():
            print(f"{name:24s} {rate:>12,.0f} rec/s   {rate / base:5.2f} x bare")
        if confluent_kafka is None:
            print("confluent-kafka: not installed (pip install confluent-kafka), not measured")
        else:
            print("confluent-kafka subscribe():",
                  await asyncio.to_thread(confluent_join, broker.bootstrap_servers, join_s))


def _confluent_consumer(bs: str, group: str, fetch_kib: int) -> Any:
    assert confluent_kafka is not None
    return confluent_kafka.Consumer({
        "bootstrap.servers": bs, "group.id": group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "max.partition.fetch.bytes": fetch_kib * 1024,
        "session.timeout.ms": 6000, "heartbeat.interval.ms": HEARTBEAT_MS,
    })


def confluent_assign(bs: str, n: int, partitions: int, fetch_kib: int) -> float:
    """Records/s of confluent-kafka's consume() over every partition, assigned (no group),
    from the first record to the n-th (as :func:`timed` measures the aiokafka rows)."""
    assert confluent_kafka is not None
    c = _confluent_consumer(bs, f"assign-{time.monotonic_ns()}", fetch_kib)
    try:
        c.assign([confluent_kafka.TopicPartition("bench", p, confluent_kafka.OFFSET_BEGINNING)
                  for p in range(partitions)])
        seen, t0, deadline = 0, 0.0, time.monotonic() + 300
        while seen < n and time.monotonic() < deadline:
            got = c.consume(num_messages=10_000, timeout=1.0)
            k = sum(1 for m in got if m.error() is None)
            if k and not seen:
                t0 = time.perf_counter()
            seen += k
        if seen < n:
            raise SystemExit(f"confluent-kafka assign(): {seen} of {n} records in 300 s")
        return n / (time.perf_counter() - t0)
    finally:
        c.close()


def confluent_join(bs: str, timeout: float) -> str:
    """Whether confluent-kafka's consumer group works on the broker: a member is given
    partitions and records, commits an offset the group then reads back, and a second
    member joining takes a share of the partitions (a rebalance)."""
    group = f"join-{time.monotonic_ns()}"
    a = _confluent_consumer(bs, group, 1024)
    b = None
    t0 = time.monotonic()
    try:
        a.subscribe(["bench"])
        m = _first_record(a, t0 + timeout)
        if isinstance(m, str):
            return f"no record within {timeout:.0f} s{m}"
        joined = time.monotonic() - t0
        a.commit(message=m, asynchronous=False)
        back = a.committed([confluent_kafka.TopicPartition("bench", m.partition())], 10)[0]
        committed = back.offset == m.offset() + 1
        b = _confluent_consumer(bs, group, 1024)
        b.subscribe(["bench"])
        shared = ""
        while time.monotonic() - t0 < 2 * timeout:
            a.poll(0.2)
            b.poll(0.2)
            pa = sorted(tp.partition for tp in a.assignment())
            pb = sorted(tp.partition for tp in b.assignment())
            if pa and pb and not set(pa) & set(pb):
                shared = f"second member: partitions {pa} / {pb}"
                break
        return (f"first record after {joined:.1f} s; commit read back: "
                f"{'yes' if committed else f'no ({back.offset})'}; "
                f"{shared or 'second member: no split of the partitions'}")
    finally:
        a.close()
        if b is not None:
            b.close()


def _first_record(c: Any, deadline: float) -> Any:
    """The first record ``c`` polls before ``deadline``, else why not (a string)."""
    errors: list[str] = []
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error() is None:
            return m
        errors.append(str(m.error()))
    return f" (errors: {errors[-1]})" if errors else ""


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=300_000)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    p.add_argument("--fetch-kib", type=int, default=1024, help="max_partition_fetch_bytes")
    p.add_argument("--join-timeout", type=float, default=30.0,
                   help="seconds confluent-kafka's group join is given")
    a = p.parse_args()
    asyncio.run(main(a.records, a.partitions, a.fetch_kib, a.repeat, a.join_timeout))


if __name__ == "__main__":
    cli()
