"""``detector deploy record``: one deployment event (CONTRACTS §2) onto the deployments topic."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from detector.decoding import DecodeError, parse_timestamp
from detector.errors import UsageError
from detector.kafka import KafkaConnection


def deployment_record(
    service: str,
    version: str,
    *,
    at: str | None = None,
    environment: str | None = None,
    revision: str | None = None,
) -> bytes:
    """The JSON record, with OpenTelemetry names.

    >>> deployment_record("payments", "2.32.0", at="2026-03-17T09:06:00Z", revision="9f1c")
    b'{"type":"deployment","timestamp":"2026-03-17T09:06:00Z","service.name":"payments","service.version":"2.32.0","vcs.revision":"9f1c"}'
    """
    if not service.strip() or not version.strip():
        raise UsageError("--service and --version must not be empty")
    try:
        ts = parse_timestamp(at) if at is not None else time.time()
    except DecodeError as exc:
        raise UsageError(f"--at {at!r}: {exc.reason}") from None
    stamp = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    stamp = stamp.replace(".000+00:00", "Z").replace("+00:00", "Z")
    rec: dict[str, str] = {"type": "deployment", "timestamp": stamp, "service.name": service,
                           "service.version": version}
    if environment:
        rec["deployment.environment.name"] = environment
    if revision:
        rec["vcs.revision"] = revision
    return orjson.dumps(rec)


async def publish(connection: KafkaConnection, topic: str, service: str, record: bytes) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        **connection.client_kwargs(), acks="all",
        request_timeout_ms=10_000,
    )
    try:  # stopped even when start fails (an unreachable or refusing cluster)
        await producer.start()
        await producer.send_and_wait(topic, record, key=service.encode())
    finally:
        await producer.stop()
