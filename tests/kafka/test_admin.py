from __future__ import annotations

import pytest

from detector.kafka import KafkaConnection, TopicAdmin, TopicAdminError, TopicSpec

from .conftest import unique


async def test_create_is_idempotent_describe_delete(connection: KafkaConnection) -> None:
    name = unique("adm")
    async with TopicAdmin(connection) as admin:
        assert await admin.ensure_topics([TopicSpec(name, 4)]) == [name]
        assert await admin.ensure_topics([TopicSpec(name, 4)]) == []
        assert (await admin.describe([name])) == {name: [0, 1, 2, 3]}
        assert name in await admin.list_topics()
        await admin.delete_topics([name])
        assert await admin.partitions(name) == 0
        await admin.delete_topics([name])  # missing is fine by default
        with pytest.raises(TopicAdminError):
            await admin.delete_topics([name], missing_ok=False)


async def test_compacted_topic_config_is_kept(connection: KafkaConnection) -> None:
    name = unique("compact")
    async with TopicAdmin(connection) as admin:
        await admin.ensure_topics([TopicSpec(name, 2, configs={"cleanup.policy": "compact"})])
        try:
            assert (await admin.topic_config(name)).get("cleanup.policy") == "compact"
        finally:
            await admin.delete_topics([name])
