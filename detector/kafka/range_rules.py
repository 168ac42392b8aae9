"""The pure rules of reading a time range from Kafka: where a partition starts,
when it is done, which time says an item is past the range, and the merge order.

They are kept apart from the I/O (:mod:`detector.kafka.time_range`) so each can
be tested against both brokers' conventions without a broker.
"""

from __future__ import annotations

from typing import Any

from detector.events import BadRecord
from detector.events import Item as EventItem


def seek_offset(answer: Any) -> int | None:
    """The offset to start a partition at, from its ``offsets_for_times`` answer;
    None when nothing was appended at or after the time asked for.

    Kafka answers None (offset -1) then. Tansu 0.6 answers offset 0 with
    timestamp -1 instead, which would read the whole partition for nothing: a
    negative timestamp is no record, whatever the offset says.

    >>> from aiokafka.structs import OffsetAndTimestamp
    >>> seek_offset(OffsetAndTimestamp(41, 1_700_000_000_000))
    41
    >>> seek_offset(None), seek_offset(OffsetAndTimestamp(0, -1))  # Kafka, Tansu: nothing
    (None, None)
    """
    if answer is None or answer.offset < 0 or answer.timestamp < 0:
        return None
    return int(answer.offset)


def end_reached(position: int, end_offset: int, highwater: int | None) -> bool:
    """True when a partition has nothing left to read up to its end.

    ``end_offset`` is ListOffsets(latest) taken when the read began: Kafka
    answers the last offset + 1, Tansu 0.6 the last offset, or the base offset
    of the last batch + 1, so it may fall short of the end and cannot say
    "done" alone. ``highwater`` is the fetch high watermark, None until a fetch
    of the partition was answered: it is last offset + 1 on both brokers, and
    is the evidence. An empty poll is none: with aiokafka it only means no
    fetch answered within the poll's timeout. A partition whose fetches never
    get an answer ends on the read's deadline, as an error, never as a short
    read.

    Records 0..14 (last offset 14), as each broker reports them:

    >>> end_reached(15, end_offset=15, highwater=15)           # Kafka, all read
    True
    >>> end_reached(14, end_offset=15, highwater=15)           # Kafka, one left
    False
    >>> end_reached(14, end_offset=14, highwater=None)         # Tansu: not before a fetch
    False
    >>> end_reached(14, end_offset=14, highwater=15), end_reached(15, 14, 15)
    (False, True)
    """
    if highwater is None:
        return False
    return position >= max(end_offset, highwater)


def event_time(item: EventItem) -> float | None:
    """The event time (epoch seconds) deciding whether ``item`` is past the range;
    None for a bad record, which has none.

    A bad record's Kafka timestamp is no stand-in: a topic filled from files
    (``detector publish``) stamps every record with the time it was published,
    and one undecodable line would end its partition in the middle of the range.

    >>> from detector.events import DeploymentEvent
    >>> event_time(DeploymentEvent(1_700_000_000.0, "shop", "2"))
    1700000000.0
    >>> event_time(BadRecord("access:0", 7, "not a log line", b"?", timestamp_ms=1)) is None
    True
    """
    if isinstance(item, BadRecord):
        return None
    return float(item[0])


def merge_key(item: EventItem) -> float:
    """Key of the merge of partitions, as files are merged (sources.files): each
    partition in offset order, the partitions by event time, bad records as
    soon as they come up. Taken over the partitions in (topic, partition)
    order, ties go the same way whatever the polls were; a service's events,
    all in one partition when the topic is keyed by service, keep the order
    they were appended in, which is the order of the file they came from.

    >>> import heapq
    >>> from detector.events import DeploymentEvent
    >>> p0 = [DeploymentEvent(5.0, "shop", "2"), DeploymentEvent(9.0, "shop", "3")]
    >>> p1 = [BadRecord("access:1", 0, "not a log line", b"?"), DeploymentEvent(7.0, "cart", "1")]
    >>> [getattr(it, "ts", None) for it in heapq.merge(p0, p1, key=merge_key)]
    [None, 5.0, 7.0, 9.0]
    """
    t = event_time(item)
    return float("-inf") if t is None else t
