"""A real Kafka-protocol broker (embedded Tansu) for the Kafka integration tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from detector.events import BadRecord
from detector.kafka import (
    EmbeddedBroker,
    KafkaConnection,
    KafkaSource,
    KafkaSourceConfig,
    TopicAdmin,
    TopicSpec,
)
from detector.kafka.records import KafkaRecord

# Tansu completes a JoinGroup about half a session timeout after it starts
# (at least ~1 s): a short session keeps each join and rebalance near 1 s.
FAST_GROUP: dict[str, Any] = {
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 250,
    "poll_timeout_ms": 200,
}


@pytest.fixture
def connection(broker: EmbeddedBroker) -> KafkaConnection:
    return KafkaConnection(bootstrap_servers=broker.bootstrap_servers)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


NewTopic = Callable[..., Awaitable[str]]


@pytest.fixture
async def new_topic(connection: KafkaConnection) -> AsyncIterator[NewTopic]:
    """Factory: a fresh topic with ``partitions`` partitions; deleted afterwards."""
    made: list[str] = []

    async def make(partitions: int = 4, prefix: str = "t", **configs: str) -> str:
        name = unique(prefix)
        async with TopicAdmin(connection) as admin:
            await admin.ensure_topics([TopicSpec(name, partitions, configs=configs)])
        made.append(name)
        return name

    yield make
    async with TopicAdmin(connection) as admin:
        await admin.delete_topics(made)


def source_config(topic: str, group: str | None = None, **kw: Any) -> KafkaSourceConfig:
    return KafkaSourceConfig(topics=(topic,), group_id=group or unique("g"), **{**FAST_GROUP, **kw})


async def collect(
    source: KafkaSource, n: int, timeout: float = 15.0
) -> list[KafkaRecord | BadRecord]:
    """Read ``n`` items through ``batches()``; fail if they do not come in time."""
    out: list[KafkaRecord | BadRecord] = []

    async def run() -> None:
        async for batch in source.batches():
            out.extend(batch)
            if len(out) >= n:
                return

    await asyncio.wait_for(run(), timeout)
    return out
