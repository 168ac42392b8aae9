"""Leave a consumer group whose generation is 0.

aiokafka only sends LeaveGroup when the generation is above 0, as Kafka's
generations start at 1. Tansu 0.6 starts them at 0, so a member stopped during
its first generation stays in the group until its session times out, and the
next member to join (a restarted service) waits that long for a rebalance.
After the consumer has stopped, this sends the LeaveGroup aiokafka skipped.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.group import LeaveGroupRequest

from detector.kafka.config import KafkaConnection

log = logging.getLogger(__name__)


def membership(consumer: Any) -> tuple[int, str, int | None]:
    """(generation, member id, coordinator node) of a started consumer, best effort."""
    coord = getattr(consumer, "_coordinator", None)
    return (
        int(getattr(coord, "generation", -1)),
        str(getattr(coord, "member_id", "") or ""),
        getattr(coord, "coordinator_id", None),
    )


async def leave_generation_zero(
    connection: KafkaConnection, group_id: str, generation: int, member_id: str, node: int | None
) -> None:
    if generation != 0 or not member_id or node is None:
        return
    client = AIOKafkaClient(**connection.client_kwargs())
    try:
        with contextlib.suppress(KafkaError, OSError):
            await client.bootstrap()
            await client.send(node, LeaveGroupRequest(group_id, member_id))
            log.debug("left group %s (generation 0) as %s", group_id, member_id)
    finally:
        await client.close()
