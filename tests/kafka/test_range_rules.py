"""The end-of-partition rule of a time-range read, without a broker: a fake
consumer reports the end offset as Kafka does (last + 1) or as Tansu does
(the last offset, or the base offset of the last batch + 1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import SaslAuthenticationFailed, TopicAuthorizationFailedError
from aiokafka.structs import OffsetAndTimestamp

from detector.events import AccessEvent
from detector.kafka._range_reader import RangeReader
from detector.kafka.config import KafkaConnection
from detector.kafka.range_query import TimeRangeError, TimeRangeQuery
from detector.kafka.range_rules import end_reached, seek_offset
from detector.kafka.records import KafkaRecord, partition_lag
from detector.kafka.time_range import read_time_range

T0 = 1_793_491_200
TP = TopicPartition("access", 0)


def record(offset: int) -> KafkaRecord:
    ts = T0 + offset
    line = json.dumps({"timestamp": ts, "service.name": "shop", "http.request.method": "GET",
                       "url.path": "/cart", "http.response.status_code": 200}).encode()
    return KafkaRecord(TP.topic, TP.partition, offset, b"shop", line, ts * 1000, ())


class FakeConsumer:
    """One partition of ``n`` records, ``chunk`` per fetch; ``end_offset`` as the
    broker reports it; the first ``unanswered`` polls come back empty with no
    fetch answered (no high watermark yet), as a slow broker's do."""

    def __init__(self, n: int, end_offset: int, chunk: int, unanswered: int = 2) -> None:
        self.records = [record(i) for i in range(n)]
        self.end_offset = end_offset
        self.chunk = chunk
        self.unanswered = unanswered
        self.pos = 0
        self.hw: int | None = None
        self.polls = 0

    def assign(self, tps: list[TopicPartition]) -> None:
        assert tps == [TP]

    def pause(self, *tps: TopicPartition) -> None: ...
    def resume(self, *tps: TopicPartition) -> None: ...

    async def offsets_for_times(self, asked: dict[TopicPartition, int]) -> dict[Any, Any]:
        return {TP: OffsetAndTimestamp(0, T0 * 1000)}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.pos = offset

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {TP: self.end_offset}

    async def getmany(self, *tps: TopicPartition, timeout_ms: int,
                      max_records: int) -> dict[TopicPartition, list[KafkaRecord]]:
        self.polls += 1
        assert self.polls < 100, "the read never ended"
        if self.polls <= self.unanswered:
            return {}
        got = self.records[self.pos:self.pos + self.chunk]
        self.pos += len(got)
        self.hw = len(self.records)  # every fetch answer carries it: last offset + 1
        return {TP: got} if got else {}

    async def position(self, tp: TopicPartition) -> int:
        return self.pos

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.hw


# Eleven records, appended in batches of four (0-3, 4-7, 8-10): the end offset each
# broker answers. Fetches hand out ``chunk`` records, whatever the batches were.
ENDS = {"kafka: last + 1": 11, "tansu: last": 10, "tansu: last batch base + 1": 9}


@pytest.mark.parametrize("convention", sorted(ENDS))
@pytest.mark.parametrize("chunk", [1, 3, 50])
async def test_every_record_read_and_the_read_ends(convention: str, chunk: int) -> None:
    n, end = 11, ENDS[convention]
    consumer = FakeConsumer(n, end, chunk)
    reader = RangeReader(KafkaConnection(), TimeRangeQuery(
        topics=("access",), start=T0, end=T0 + 3600))
    await reader._position(consumer, {"access": [0]})
    await reader._drain(consumer)
    kept = reader.parts[TP].kept
    assert [it.offset for it in kept] == list(range(n))
    assert all(isinstance(it, AccessEvent) for it in kept)
    assert not reader.live and reader.records == n
    assert partition_lag(consumer.pos, end) == 0  # clamped with Tansu's shorter end


@pytest.mark.parametrize("end_offset", [10, 9, 7])
def test_end_offset_alone_never_ends_a_partition(end_offset: int) -> None:
    # Ten records; the position at the last one (9) or past it (10).
    assert not end_reached(9, end_offset, None)
    assert not end_reached(10, end_offset, None)  # no fetch answered yet: not known
    assert not end_reached(9, end_offset, 10)
    assert end_reached(10, end_offset, 10)


def test_seek_offset_nothing_at_or_after_the_start() -> None:
    assert seek_offset(OffsetAndTimestamp(12, T0 * 1000)) == 12
    assert seek_offset(None) is None  # Kafka
    assert seek_offset(OffsetAndTimestamp(0, -1)) is None  # Tansu
    assert seek_offset(OffsetAndTimestamp(-1, -1)) is None


@pytest.mark.parametrize(("error", "said", "retry"), [
    (SaslAuthenticationFailed("Authentication failed: Invalid username or password"),
     "SaslAuthenticationFailed: Authentication failed: Invalid username or password", False),
    (TopicAuthorizationFailedError(), "TopicAuthorizationFailedError", False),
    (ConnectionResetError(104, "Connection reset by peer"),
     "ConnectionResetError: [Errno 104] Connection reset by peer", True),
])
async def test_broker_refusals_are_one_line(monkeypatch: pytest.MonkeyPatch, error: Exception,
                                            said: str, retry: bool) -> None:
    async def refused(self: RangeReader) -> None:
        raise error

    monkeypatch.setattr(RangeReader, "run", refused)
    with pytest.raises(TimeRangeError) as exc:
        await read_time_range("k1:9092", TimeRangeQuery(topics=("access", "edge"), start=T0,
                                                        end=T0 + 60))
    text = str(exc.value)
    assert text.startswith("cannot read access, edge from k1:9092: ")
    assert said in text and "\n" not in text
    assert exc.value.retriable is retry


async def test_unreadable_credentials_are_one_line(tmp_path: Path) -> None:
    conn = KafkaConnection(bootstrap_servers="k1:9092", security_protocol="SASL_SSL",
                           sasl_mechanism="PLAIN", sasl_plain_username="key",
                           sasl_plain_password_file=tmp_path / "missing")
    with pytest.raises(TimeRangeError, match=r"^cannot read access from k1:9092: cannot read "
                                             r"sasl_plain_password_file .*missing: No such file"):
        await read_time_range(conn, TimeRangeQuery(topics=("access",), start=T0, end=T0 + 60))
