"""Reading the access events of a time range from Kafka topics: what a release
verdict (CONTRACTS §4 ``verdict``) needs when the logs are in Kafka.

No consumer group: partitions are assigned, never committed, so a verdict
never moves the service's offsets nor joins its group. Each partition starts
at ``offsets_for_times(start - lateness)`` and is read until an item's time
passes ``end + lateness`` or the partition's end is reached; the deployments
topic, small, is read whole. Records are decoded as the service decodes them
(:class:`detector.decoding.records.RecordDecoder`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence

from aiokafka.errors import KafkaError

from detector.events import Item
from detector.kafka._range_reader import RangeReader
from detector.kafka.config import KafkaConnection
from detector.kafka.errors import KafkaEdgeError, retriable
from detector.kafka.range_query import (
    TimeRangeError,
    TimeRangeQuery,
    TimeRangeRead,
    time_range_query,
)

__all__ = ["TimeRangeError", "TimeRangeQuery", "TimeRangeRead", "load_deployments_topic",
           "load_time_range", "read_time_range", "time_range_query"]


def _connection(cluster: str | KafkaConnection) -> KafkaConnection:
    return KafkaConnection(bootstrap_servers=cluster) if isinstance(cluster, str) else cluster


def _why(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc)
    return text if text.startswith(name) else f"{name}: {text}" if text else name


async def read_time_range(cluster: str | KafkaConnection, query: TimeRangeQuery) -> TimeRangeRead:
    """Read ``query``'s range from ``cluster`` (``HOST:PORT`` or a connection with
    its TLS/SASL settings); :class:`TimeRangeError` when it cannot.

    Partitions start by record timestamp, the producer's CreateTime; topics
    with ``message.timestamp.type=LogAppendTime`` work as well, as does an
    index by append time (Tansu's): records before ``start - lateness`` by
    record timestamp are skipped on the client too, so every broker yields the
    same items. Items kept: access and deployment events with ``start <= time
    < end`` (of ``query.services``), every bad record met between a
    partition's start and stop, and the whole deployments topic::

        got = await read_time_range("k:9092", TimeRangeQuery(
            topics=("access",), start=t0, end=t0 + 3600, deployments_topic="deployments"))
    """
    conn = _connection(cluster)
    reader = RangeReader(conn, query)
    where = reader.where
    try:
        conn.client_kwargs()  # reads the password and TLS files now: one line if unusable
    except (ValueError, OSError) as exc:
        raise TimeRangeError(f"{where}: {exc}") from None
    try:
        async with asyncio.timeout(query.deadline):
            return await reader.run()
    except TimeRangeError:
        raise
    except TimeoutError:
        raise TimeRangeError(f"{where}: not done within the {query.deadline:g} s deadline "
                             f"({reader.progress()})", retriable=True) from None
    except (KafkaError, KafkaEdgeError, OSError) as exc:
        raise TimeRangeError(f"{where}: {_why(exc)}", retriable=retriable(exc)) from None


@contextlib.contextmanager
def _no_last_resort(name: str = "aiokafka") -> Iterator[None]:
    """aiokafka logs each refused connection at ERROR. Where logging is not
    configured (the command line), Python's last-resort handler would print
    those lines beside the one-line error; a NullHandler for the read's
    duration stops that and leaves any configured handler fed."""
    logger = logging.getLogger(name)
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def load_time_range(cluster: str | KafkaConnection, topics: Sequence[str], start: float,
                    end: float, **options: object) -> list[Item]:
    """:func:`read_time_range` for synchronous callers (the command line): the items.

    ``options`` are :class:`TimeRangeQuery`'s fields; a bad one is a one-line
    :class:`UsageError`, an unreadable range a :class:`TimeRangeError`::

        items = load_time_range(settings.kafka_connection(), ["access"], t0, t0 + 3600,
                                deployments_topic="deployments", services=("payments",))
    """
    query = time_range_query(topics, start, end, **options)
    with _no_last_resort():
        return asyncio.run(read_time_range(cluster, query)).items


def load_deployments_topic(cluster: str | KafkaConnection, topic: str,
                           **options: object) -> list[Item]:
    """The whole deployments topic (deployment events and bad records, in offset
    order per partition), for synchronous callers; a missing topic is a
    :class:`TimeRangeError`, as any read that fails. ``options`` as for
    :func:`load_time_range` (``services``, ``deadline``...)::

        deps = load_deployments_topic("k:9092", "deployments", services=("payments",))
    """
    # The range does not apply to the deployments topic: any valid one will do.
    query = time_range_query((), 0.0, 1.0, deployments_topic=topic, **options)
    with _no_last_resort():
        got = asyncio.run(read_time_range(cluster, query))
    if not got.deployments_topic_found:
        raise TimeRangeError(f"cannot read {topic} from {_connection(cluster).bootstrap_servers}: "
                             "unknown topic (or not authorised to describe it)")
    return got.items
