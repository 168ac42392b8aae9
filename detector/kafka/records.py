"""What a Kafka source hands out, and the small pure helpers around it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from detector.decoding.base import SCHEMA_PREFIX_LEN


class KafkaRecord(NamedTuple):
    """One record as read from Kafka; ``value`` is raw bytes, decoding comes later.

    >>> r = KafkaRecord("access", 3, 41, b"shop", b'{"status": 200}', 1700000000000, ())
    >>> f"{r.topic}:{r.partition}:{r.offset}"
    'access:3:41'
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int  # the record timestamp (producer or broker time), not the event time
    headers: Sequence[tuple[str, bytes]]

    @property
    def timestamp(self) -> int:
        """``timestamp_ms`` under aiokafka's name, so either record type reads the same."""
        return self.timestamp_ms


def strip_schema_prefix(value: bytes) -> bytes:
    """Drop a Confluent Schema Registry prefix when present.

    Values that do not start with the magic byte pass through unchanged, so a
    topic fed by framed and unframed producers alike still decodes.

    >>> strip_schema_prefix(b"\\x00\\x00\\x00\\x00\\x07{}")
    b'{}'
    >>> strip_schema_prefix(b"{}")
    b'{}'
    """
    if value[:1] == b"\x00" and len(value) >= SCHEMA_PREFIX_LEN:
        return value[SCHEMA_PREFIX_LEN:]
    return value


def partition_lag(position: int, end_offset: int, highwater: int | None = None) -> int:
    """Records still to read in one partition, never negative.

    ``position`` is the next offset to read. Kafka's ListOffsets(latest) gives
    last offset + 1; Tansu 0.6 answers (base offset of the last batch) + 1, so
    with single-record batches it is exact but with larger batches it lags
    behind, and a caught-up consumer would read a negative lag. The fetch
    high-watermark, when the consumer has one, is exact on both brokers, so
    the larger of the two is used, and the result is clamped at 0.

    >>> partition_lag(position=20, end_offset=20)  # standard broker, caught up
    0
    >>> partition_lag(position=20, end_offset=19)  # end offset = last record's offset
    0
    >>> partition_lag(position=10, end_offset=18, highwater=20)
    10
    """
    end = end_offset if highwater is None else max(end_offset, highwater)
    return max(0, end - position)
