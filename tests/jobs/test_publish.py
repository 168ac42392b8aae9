"""``detector publish`` against a real broker: keys, order, counts, --follow, signals."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.jobs.interrupt import StopRequest
from detector.jobs.publish import Publisher, PublishSummary, publish
from detector.kafka import EmbeddedBroker, KafkaConnection, TopicAdmin, TopicSpec
from detector.kafka.tail import assign_all, read_to_end
from tests.kafka.conftest import unique


def line(ts: int, service: str, path: str = "/a") -> bytes:
    return orjson.dumps({
        "timestamp": f"2026-03-20T00:{ts // 60:02d}:{ts % 60:02d}Z", "service.name": service,
        "http.request.method": "GET", "url.path": path, "http.response.status_code": 200})


async def topic_of(conn: KafkaConnection, partitions: int = 4) -> str:
    name = unique("pub")
    async with TopicAdmin(conn) as admin:
        await admin.ensure_topics([TopicSpec(name, partitions)])
    return name


async def read_back(conn: KafkaConnection, topic: str) -> list[Any]:
    out: list[Any] = []
    c = await assign_all(conn, topic)
    try:
        await read_to_end(c, out.append, 30)
    finally:
        await c.stop()
    return out


@pytest.fixture
def conn(broker: EmbeddedBroker) -> KafkaConnection:
    return KafkaConnection(bootstrap_servers=broker.bootstrap_servers)


async def test_files_are_merged_in_time_order_and_keyed_by_service(
        conn: KafkaConnection, tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log.gz"
    a.write_bytes(b"\n".join(line(t, "shop") for t in range(0, 100, 2)) + b"\n")
    b.write_bytes(gzip.compress(b"\n".join(line(t, "cart") for t in range(1, 100, 2)) + b"\n"))
    topic = await topic_of(conn, 1)  # one partition: the order across files shows
    summary = await publish([str(a), str(b)], topic, conn)
    assert (summary.lines, summary.bad) == (100, 0)
    assert summary.bytes == a.stat().st_size + len(gzip.decompress(b.read_bytes()))
    records = await read_back(conn, topic)
    assert [r.value for r in records] == [line(t, "shop" if t % 2 == 0 else "cart")
                                          for t in range(100)]
    assert [r.key for r in records] == [b"shop" if t % 2 == 0 else b"cart" for t in range(100)]


async def test_a_service_stays_in_one_partition(conn: KafkaConnection, tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    a.write_bytes(b"\n".join(line(t, f"svc{t % 7}") for t in range(70)))
    topic = await topic_of(conn, 4)
    await publish([str(a)], topic, conn)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for r in await read_back(conn, topic):
        partitions[r.key].add(r.partition)
    assert len(partitions) == 7 and all(len(p) == 1 for p in partitions.values())
    assert len(set().union(*partitions.values())) > 1  # keys spread over the partitions


async def test_bad_lines_are_sent_and_counted_overlong_ones_only_counted(
        conn: KafkaConnection, tmp_path: Path) -> None:
    from detector.jobs.publish import MAX_LINE

    f = tmp_path / "a.log"
    good = [line(t, "shop") for t in range(10)]
    f.write_bytes(b"\n".join([*good[:5], b'{"broken', b"x" * (MAX_LINE + 10), *good[5:]]))
    topic = await topic_of(conn, 1)
    summary = await publish([str(f)], topic, conn, service="fallback")
    assert (summary.lines, summary.bad, summary.skipped) == (11, 2, 1)
    records = await read_back(conn, topic)
    assert [r.value for r in records] == [*good[:5], b'{"broken', *good[5:]]
    assert records[5].key == b"fallback"  # no service found: the default key


async def test_follow_publishes_appends_across_rotation_until_stopped(
        conn: KafkaConnection, tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(line(0, "shop") + b"\n")
    topic = await topic_of(conn, 1)
    stop = StopRequest()
    task = asyncio.create_task(publish([str(p)], topic, conn, follow=True, stop=stop, poll=0.05))

    async def count() -> int:
        return len(await read_back(conn, topic))

    async def until(n: int) -> None:
        async with asyncio.timeout(30):
            while await count() < n:
                await asyncio.sleep(0.1)

    await until(1)
    with p.open("ab") as out:
        out.write(line(1, "shop") + b"\n" + line(2, "shop")[:20])  # half a line
    await until(2)
    p.rename(tmp_path / "app.log.1")
    with (tmp_path / "app.log.1").open("ab") as out:
        out.write(line(2, "shop")[20:] + b"\n")  # the writer finishes its line, then rotates
    p.write_bytes(line(3, "shop") + b"\n")
    await until(4)
    stop.signum = signal.SIGTERM
    summary = await asyncio.wait_for(task, 30)
    assert summary.lines == 4 and summary.bad == 0
    assert [r.value for r in await read_back(conn, topic)] == [line(t, "shop") for t in range(4)]


class RecordingBatcher:
    """Takes records without a broker; the rate test only looks at the pacing."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []
        self.flushes = 0

    def try_add(self, key: bytes | None, value: bytes) -> bool:
        self.records.append((key, value))
        return True

    async def add(self, key: bytes | None, value: bytes) -> None:
        self.records.append((key, value))

    async def flush(self) -> None:
        self.flushes += 1


async def test_rate_paces_lines_on_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import detector.jobs.publish as mod

    clock = [1000.0]
    monkeypatch.setattr(mod.time, "monotonic", lambda: clock[0])

    async def sleep(seconds: float) -> None:
        clock[0] += seconds  # a virtual clock: no timing in the test

    monkeypatch.setattr(mod.asyncio, "sleep", sleep)
    batcher = RecordingBatcher()
    pub = Publisher(batcher, PublishSummary("t"), b"d", 100.0, StopRequest())  # type: ignore[arg-type]
    await pub.send_all((b"k", b"x") for _ in range(1000))
    assert len(batcher.records) == 1000
    assert clock[0] - 1000.0 == pytest.approx(10.0, abs=0.2)  # 1000 lines at 100 lines/s
    assert batcher.flushes > 10  # paced lines go out, not held in a batch


def test_cli_follow_stops_on_sigterm_with_summary(broker: EmbeddedBroker, tmp_path: Path) -> None:
    conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)
    topic = asyncio.run(topic_of(conn, 1))
    p = tmp_path / "app.log"
    p.write_bytes(b"\n".join(line(t, "shop") for t in range(5)) + b"\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "detector", "publish", str(p), "--topic", topic, "--follow",
         "--bootstrap-servers", broker.bootstrap_servers],
        stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        while len(asyncio.run(read_back(conn, topic))) < 5:
            assert time.monotonic() < deadline, "publish --follow sent nothing"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143
    assert b"publish: 5 lines" in err and b"0 bad lines" in err
