"""A broker that freezes (SIGSTOP) for a few seconds: the consumer carries on."""

from __future__ import annotations

import asyncio
import json

import pytest

from detector.kafka import (
    BrokerUnavailable,
    EmbeddedBroker,
    KafkaConnection,
    KafkaRecord,
    KafkaSource,
    TopicAdmin,
    TopicSpec,
    produce_lines,
)

from .conftest import source_config

# Longer than the request timeout, so requests in flight time out and the client
# reconnects; shorter than the session timeout, so the member keeps its
# partitions. Tansu answers JoinGroup only after half a session timeout, so the
# request timeout must stay above that.
PAUSE_S = 6.0
SESSION_MS = 8000
REQUEST_MS = 5000


@pytest.mark.broker
async def test_consumer_survives_frozen_broker() -> None:
    try:
        broker = await EmbeddedBroker().__aenter__()
    except BrokerUnavailable as e:
        pytest.skip(str(e))
    try:
        conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)
        async with TopicAdmin(conn) as admin:
            await admin.ensure_topics([TopicSpec("trouble", 4)])
        seen: list[int] = []
        config = source_config(
            "trouble", request_timeout_ms=REQUEST_MS, session_timeout_ms=SESSION_MS
        )
        async with KafkaSource(config, conn) as source:

            async def pump() -> None:
                async for batch in source.batches():
                    seen.extend(
                        json.loads(r.value)["i"] for r in batch if isinstance(r, KafkaRecord)
                    )

            task = asyncio.create_task(pump())
            before = [json.dumps({"i": i}).encode() for i in range(100)]
            await produce_lines(conn, "trouble", before)
            async with asyncio.timeout(15):
                while len(seen) < 100:
                    await asyncio.sleep(0.05)
            broker.pause()
            await asyncio.sleep(PAUSE_S)
            broker.resume()
            after = [json.dumps({"i": i}).encode() for i in range(100, 200)]
            await produce_lines(conn, "trouble", after)
            async with asyncio.timeout(30):
                while len(seen) < 200:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert sorted(seen) == list(range(200))
    finally:
        await broker.__aexit__(None, None, None)
