"""Topic administration: create (idempotent), delete, describe."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, NamedTuple

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from detector.kafka.config import KafkaConnection
from detector.kafka.errors import TopicAdminError

TOPIC_ALREADY_EXISTS = 36
UNKNOWN_TOPIC = 3


class TopicSpec(NamedTuple):
    """A topic to create. ``configs`` are topic-level settings such as
    ``{"cleanup.policy": "compact"}``.

    >>> TopicSpec("access", 4).partitions
    4
    """

    name: str
    partitions: int = 1
    replication: int = 1
    configs: Mapping[str, str] = {}


def _check(topic: str, code: int, message: str | None, what: str) -> None:
    if code == 0:
        return
    err = for_code(code)
    raise TopicAdminError(
        f"{what} {topic}: {err.__name__} ({message or err.description})",
        retriable=bool(err.retriable),
    )


class TopicAdmin:
    """Thin facade over ``AIOKafkaAdminClient`` for the topics the service owns::

    async with TopicAdmin(KafkaConnection(bootstrap_servers=servers)) as admin:
        await admin.ensure_topics([TopicSpec("access", 4)])
        assert (await admin.partitions("access")) == 4
    """

    def __init__(self, connection: KafkaConnection) -> None:
        self._client = AIOKafkaAdminClient(**connection.client_kwargs())

    async def __aenter__(self) -> TopicAdmin:
        await self._client.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.close()

    async def ensure_topics(self, specs: Iterable[TopicSpec]) -> list[str]:
        """Create the topics that do not exist yet; return the names created.

        An existing topic is left as it is, even with another partition count:
        changing partitions moves keys between partitions, a deliberate act.
        """
        specs = list(specs)
        for s in specs:
            # Tansu accepts 0 or negative partition counts and makes a useless topic.
            if s.partitions < 1 or s.replication < 1:
                raise ValueError(f"topic {s.name}: partitions and replication must be >= 1")
        new = [
            NewTopic(s.name, s.partitions, s.replication, topic_configs=dict(s.configs))
            for s in specs
        ]
        if not new:
            return []
        resp = await self._client.create_topics(new)
        created = []
        for topic, code, message in resp.topic_errors:
            if code == TOPIC_ALREADY_EXISTS:
                continue
            _check(topic, code, message, "create topic")
            created.append(topic)
        return created

    async def delete_topics(self, names: Iterable[str], *, missing_ok: bool = True) -> None:
        resp = await self._client.delete_topics(list(names))
        for topic, code, *_ in resp.topic_error_codes:
            if code == UNKNOWN_TOPIC and missing_ok:
                continue
            _check(topic, code, None, "delete topic")

    async def list_topics(self) -> list[str]:
        return sorted(await self._client.list_topics())

    async def describe(self, names: Iterable[str]) -> dict[str, list[int]]:
        """Partition ids of each existing topic; unknown topics are left out."""
        out: dict[str, list[int]] = {}
        # aiokafka's describe_topics sends Metadata with auto-creation allowed,
        # and Tansu then creates the unknown topic: ask only for existing ones.
        existing = set(await self._client.list_topics())
        wanted = [n for n in names if n in existing]
        if not wanted:
            return out
        info: list[dict[str, Any]] = await self._client.describe_topics(wanted)
        for t in info:
            if t["error_code"] == UNKNOWN_TOPIC:
                continue
            _check(t["topic"], t["error_code"], None, "describe topic")
            out[t["topic"]] = sorted(p["partition"] for p in t["partitions"])
        return out

    async def partitions(self, name: str) -> int:
        """Number of partitions of ``name``, 0 when the topic does not exist."""
        return len((await self.describe([name])).get(name, []))

    async def topic_config(self, name: str) -> dict[str, str]:
        """Topic-level configuration as the broker reports it."""
        resp = await self._client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        out: dict[str, str] = {}
        for r in resp:
            for code, message, _type, rname, entries in r.resources:
                _check(rname, code, message, "describe configs of")
                for entry in entries:
                    out[entry[0]] = entry[1]
        return out
