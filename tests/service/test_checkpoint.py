"""Checkpoint stores: atomic directory files; chunked Kafka changelog with alternating slots."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from detector.kafka import EmbeddedBroker, KafkaConnection, TopicAdmin, TopicSpec
from detector.state.checkpointing import DirectoryStore, KafkaChangelogStore, pack, unpack

from .conftest import unique


def test_directory_store_replaces_atomically(tmp_path: Path) -> None:
    s = DirectoryStore(tmp_path)
    s.save("g:t:0", pack(5, b"a"))
    s.save("g:t:0", pack(9, b"b"))
    assert unpack(s.load("g:t:0") or b"") == (9, b"b")
    assert [p.name for p in tmp_path.iterdir()] == ["g%3At%3A0.ckpt"]


async def test_changelog_chunks_and_survives_a_torn_save(broker: EmbeddedBroker) -> None:
    conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)
    topic = unique("changelog")
    async with TopicAdmin(conn) as admin:
        await admin.ensure_topics([TopicSpec(topic, 1, configs={"cleanup.policy": "compact"})])
    big = os.urandom(300_000)
    writer = KafkaChangelogStore(conn, topic, chunk_bytes=64 * 1024)
    try:
        await asyncio.to_thread(writer.save, "g:t:0", big)
        await asyncio.to_thread(writer.save, "g:t:1", b"small")
        await asyncio.to_thread(writer.save, "g:t:0", big[::-1])
    finally:
        await asyncio.to_thread(writer.close)
    reader = KafkaChangelogStore(conn, topic, chunk_bytes=64 * 1024)
    try:
        assert await asyncio.to_thread(reader.load, "g:t:0") == big[::-1]
        assert await asyncio.to_thread(reader.load, "g:t:1") == b"small"
        assert await asyncio.to_thread(reader.load, "nope") is None
    finally:
        await asyncio.to_thread(reader.close)
    # A save cut short after some chunks (no manifest): the previous snapshot stays whole.
    torn = KafkaChangelogStore(conn, topic, chunk_bytes=64 * 1024)
    try:
        assert await asyncio.to_thread(torn.load, "g:t:0") == big[::-1]  # learns the slot
        from aiokafka import AIOKafkaProducer

        p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await p.start()
        slot = torn._slot["g:t:0"] ^ 1
        await p.send_and_wait(topic, b"garbage", key=f"g:t:0#{slot}#0".encode())
        await p.stop()
    finally:
        await asyncio.to_thread(torn.close)
    fresh = KafkaChangelogStore(conn, topic)
    try:
        assert await asyncio.to_thread(fresh.load, "g:t:0") == big[::-1]
    finally:
        await asyncio.to_thread(fresh.close)
