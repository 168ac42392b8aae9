"""Reading a time range from a real broker (embedded Tansu): offsets-for-times,
the lateness rule, bad records, the deployments topic, and the errors."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from detector.errors import UsageError
from detector.events import AccessEvent, BadRecord, DeploymentEvent
from detector.kafka import KafkaConnection, TopicAdmin
from detector.kafka.broker import free_port
from detector.kafka.time_range import (
    TimeRangeError,
    TimeRangeQuery,
    load_time_range,
    read_time_range,
    time_range_query,
)
from detector.sources.files import SourceError

from ..conftest import REPO
from .conftest import NewTopic

T0 = 1_793_491_200  # 2026-11-01T00:00:00Z
HOUR = 3600
SERVICES = ("shop", "cart")  # one per partition
START, END = T0 + HOUR, T0 + 2 * HOUR
LATENESS = 120.0


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def access_line(service: str, ts: float, path: str = "/cart") -> bytes:
    return json.dumps({"timestamp": iso(ts), "service.name": service,
                       "http.request.method": "GET", "url.path": path,
                       "http.response.status_code": 200}).encode()


def deployment_line(service: str, version: str, ts: float) -> bytes:
    return json.dumps({"type": "deployment", "timestamp": iso(ts), "service.name": service,
                       "service.version": version}).encode()


# Per partition, in append order: (event time, value). One event a minute over
# three hours, the record timestamp (CreateTime) set to the event time, plus:
# a straggler for the range appended just after its end (within the lateness:
# kept), one appended after an event past end + lateness (the partition has
# stopped: not kept), and, on partition 1, bad records before and inside the range.
def partition_records(part: int) -> list[tuple[float, bytes]]:
    service = SERVICES[part]
    out = [(float(T0 + 60 * m), access_line(service, T0 + 60 * m)) for m in range(180)]
    out.insert(121, (END + 5.0, access_line(service, END - 1, "/late")))  # after minute 120
    out.insert(127, (END + 400.0, access_line(service, END - 100, "/too-late")))
    if part == 1:
        out.insert(90, (T0 + 5400.5, b"not a log line {"))
        out.insert(10, (T0 + 600.5, b"not a log line either {"))
    return out


async def produce(connection: KafkaConnection, topic: str,
                  records: dict[int, list[tuple[float, bytes]]]) -> None:
    producer = AIOKafkaProducer(**connection.client_kwargs(), acks="all")
    await producer.start()
    try:
        for part, recs in records.items():
            for ts, value in recs:
                await producer.send(topic, value, key=SERVICES[part % 2].encode(),
                                    partition=part, timestamp_ms=int(ts * 1000))
        await producer.flush()
    finally:
        await producer.stop()


@pytest.fixture
async def topics(connection: KafkaConnection,
                 new_topic: NewTopic) -> AsyncIterator[tuple[str, str]]:
    access = await new_topic(2, "access")
    deployments = await new_topic(1, "deployments")
    await produce(connection, access, {0: partition_records(0), 1: partition_records(1)})
    await produce(connection, deployments, {0: [
        (T0 + 200.0, deployment_line("cart", "1.1", T0 + 200)),
        (T0 + 5400.0, deployment_line("shop", "2.0", T0 + 5400)),
        (T0 + 5401.0, b'{"type": "deployment", "timestamp": "yesterday"}'),
    ]})
    yield access, deployments


def expected_access(service: str) -> list[tuple[float, str]]:
    inside = [(float(T0 + 60 * m), "/cart") for m in range(60, 120)]
    return [*inside, (float(END - 1), "/late")]


async def test_reads_exactly_the_range(connection: KafkaConnection,
                                       topics: tuple[str, str]) -> None:
    access, deployments = topics
    got = await read_time_range(connection, TimeRangeQuery(
        topics=(access,), start=START, end=END, deployments_topic=deployments,
        lateness=LATENESS))
    events = [it for it in got.items if isinstance(it, AccessEvent)]
    for part, service in enumerate(SERVICES):
        mine = [(e.ts, e.path) for e in events if e.service == service]
        assert mine == expected_access(service)
        assert {e.source for e in events if e.service == service} == {f"{access}:{part}"}
    # Only the in-range bad record: the earlier one comes before the range's start.
    bad = [it for it in got.items if isinstance(it, BadRecord)]
    in_range = [b for b in bad if b.source == f"{access}:1"]
    assert [(b.raw, b.offset) for b in in_range] == [(b"not a log line {", 91)]
    assert [b.source for b in bad if b not in in_range] == [f"{deployments}:0"]
    deps = [it for it in got.items if isinstance(it, DeploymentEvent)]
    assert [(d.service, d.version, d.ts) for d in deps] == [
        ("cart", "1.1", T0 + 200.0), ("shop", "2.0", T0 + 5400.0)]
    assert got.deployments_topic_found and got.skipped == 0 and got.partitions == 3
    # Records read: from the first at or after start - lateness (minute 58) to the
    # first event past end + lateness (minute 123) on each partition, and the
    # deployments topic; whatever the broker's offsets-for-times index is.
    assert got.records == 2 * (123 - 58 + 1 + 1) + 1 + 3
    # Each partition in offset order: the straggler after the event it followed.
    for source in {it.source for it in got.items}:
        offsets = [it.offset for it in got.items if it.source == source]
        assert offsets == sorted(offsets)
    assert [e.path for e in events if e.service == "shop"][-2:] == ["/cart", "/late"]


async def test_deployments_topic_alone(connection: KafkaConnection,
                                       topics: tuple[str, str]) -> None:
    _, deployments = topics
    got = await read_time_range(connection, TimeRangeQuery(
        topics=(), deployments_topic=deployments, start=START, end=END))
    assert [type(it).__name__ for it in got.items] == [  # offset order
        "DeploymentEvent", "DeploymentEvent", "BadRecord"]
    assert got.items[-1].reason == "deployment: missing service"  # type: ignore[union-attr]
    missing = await read_time_range(connection, TimeRangeQuery(
        topics=(), deployments_topic=f"missing-{uuid.uuid4().hex[:8]}", start=START, end=END))
    assert missing.items == [] and not missing.deployments_topic_found


async def test_range_up_to_the_end_of_the_topic(connection: KafkaConnection,
                                               topics: tuple[str, str]) -> None:
    # No event past end + lateness: each partition ends at its end offset, which
    # Tansu answers short of the last batch; the last records must still come.
    access, _ = topics
    got = await read_time_range(connection, TimeRangeQuery(
        topics=(access,), start=T0 + 2 * HOUR, end=T0 + 3 * HOUR, lateness=LATENESS))
    for service in SERVICES:
        times = [it.ts for it in got.items if isinstance(it, AccessEvent)
                 and it.service == service]
        assert times == [float(T0 + 60 * m) for m in range(120, 180)]


async def test_service_filter_and_sync_wrapper(connection: KafkaConnection,
                                               topics: tuple[str, str]) -> None:
    access, deployments = topics
    # In a thread: load_time_range runs its own event loop, as the command line's does.
    items = await asyncio.to_thread(load_time_range, connection.bootstrap_servers, [access],
                                    START, END, deployments_topic=deployments,
                                    services=("shop",))
    services = {it.service for it in items if not isinstance(it, BadRecord)}
    assert services == {"shop"}
    assert sum(isinstance(it, AccessEvent) for it in items) == 61


@pytest.mark.parametrize(("start", "end"), [
    (T0 + 5 * HOUR, T0 + 6 * HOUR),  # after every record
    (T0 - 3 * HOUR, T0 - 2 * HOUR),  # before every record
])
async def test_empty_range(connection: KafkaConnection, topics: tuple[str, str],
                           start: float, end: float) -> None:
    access, _ = topics
    got = await read_time_range(connection, TimeRangeQuery(topics=(access,), start=start,
                                                           end=end, lateness=LATENESS))
    assert got.items == []
    assert not got.deployments_topic_found


async def test_empty_topic_is_skipped_not_waited_for(connection: KafkaConnection,
                                                     new_topic: NewTopic) -> None:
    access = await new_topic(3, "access")
    got = await read_time_range(connection, TimeRangeQuery(topics=(access,), start=T0,
                                                           end=T0 + HOUR))
    assert got.items == [] and got.records == 0
    assert got.skipped + got.partitions == 3


def one_line(exc: pytest.ExceptionInfo[TimeRangeError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and isinstance(exc.value, SourceError)  # the CLI: exit 2
    return text


async def test_unknown_topic(connection: KafkaConnection) -> None:
    name = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(TimeRangeError) as exc:
        await read_time_range(connection, TimeRangeQuery(topics=(name,), start=T0,
                                                         end=T0 + HOUR))
    assert f"unknown topic {name}" in one_line(exc)
    async with TopicAdmin(connection) as admin:  # asking did not create it (Tansu would)
        assert name not in await admin.list_topics()


async def test_unreachable_port() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(TimeRangeError) as exc:
        await read_time_range(f"127.0.0.1:{port}", TimeRangeQuery(
            topics=("access",), start=T0, end=T0 + HOUR, deadline=20))
    text = one_line(exc)
    assert f"cannot read access from 127.0.0.1:{port}: KafkaConnectionError" in text
    assert exc.value.retriable


def test_command_line_gets_the_one_line_alone() -> None:
    # aiokafka logs each refused connection; with logging unconfigured, as on the
    # command line, nothing but the error itself may reach stderr.
    code = ("import sys\n"
            "from detector.kafka.time_range import load_time_range, TimeRangeError\n"
            "try:\n"
            f"    load_time_range('127.0.0.1:{free_port()}', ['access'], 0, 3600)\n"
            "except TimeRangeError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.stderr == ""
    assert done.stdout.startswith("cannot read access from 127.0.0.1:")
    assert done.stdout.count("\n") == 1


async def test_silent_broker_ends_on_the_deadline() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(TimeRangeError) as exc:
            await read_time_range(f"127.0.0.1:{port}", TimeRangeQuery(
                topics=("access",), start=T0, end=T0 + HOUR, deadline=1.5))
    text = one_line(exc)
    assert "not done within the 1.5 s deadline (no answer from the cluster" in text


async def test_bounded_records(connection: KafkaConnection, topics: tuple[str, str]) -> None:
    access, _ = topics
    with pytest.raises(TimeRangeError) as exc:
        await read_time_range(connection, TimeRangeQuery(
            topics=(access,), start=START, end=END, max_records=50))
    assert "the range holds more than 50 records" in one_line(exc)
    # The bound is on what is kept: another service's records cost time, not memory.
    got = await read_time_range(connection, TimeRangeQuery(
        topics=(access,), start=START, end=END, services=("shop",), max_records=70))
    assert len(got.items) == 62 and got.records == 135  # 61 events and the bad record


def test_bad_query_is_a_one_line_usage_error() -> None:
    with pytest.raises(UsageError, match=r"^unknown format .json. \(one of auto, otel"):
        time_range_query(["access"], T0, T0 + HOUR, fmt="json")
    with pytest.raises(UsageError, match="max_records: Input should be greater than 0"):
        time_range_query(["access"], T0, T0 + HOUR, max_records=0)
