"""What a time-range read asks for and what it gives back; the error it raises.

See :mod:`detector.kafka.time_range` for the read itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detector.decoding.base import MAX_LINE_BYTES
from detector.decoding.registry import FORMATS
from detector.errors import UsageError
from detector.events import Item
from detector.sources.files import SourceError

# Several times the pipeline's allowed lateness (30 s): the verdict reads a past
# range once, so waiting for stragglers costs two minutes of records, no latency.
DEFAULT_LATENESS = 120.0


class TimeRangeError(SourceError):
    """The range cannot be read: broker unreachable, unknown topic, refused
    credentials, more records than the bounds allow, or past the deadline.

    One line; a ``SourceError``, so the command line reports it and exits 2.
    ``retriable`` as for every Kafka edge error (:mod:`detector.kafka.errors`).

    >>> str(TimeRangeError("cannot read access from k:9092: unknown topic"))
    'cannot read access from k:9092: unknown topic'
    """

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class TimeRangeQuery(BaseModel):
    """What to read: topics, the event-time range [start, end), decoding and bounds.

    >>> q = TimeRangeQuery(topics=("access",), start=1_700_000_000, end=1_700_003_600)
    >>> q.lateness, q.deadline, q.max_records
    (120.0, 60.0, 2000000)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    topics: tuple[str, ...]  # access-log topics; none: the deployments topic alone
    start: float  # epoch seconds, inclusive
    end: float  # epoch seconds, exclusive
    deployments_topic: str | None = None
    # Keep only these services' events (None: all); bad records are always kept.
    services: tuple[str, ...] | None = None
    fmt: str = "auto"
    service: str = "default"  # for formats that carry no service (clf, alb)
    strip_schema_prefix: bool = False
    max_record_bytes: int = Field(default=MAX_LINE_BYTES, gt=0)
    lateness: float = Field(default=DEFAULT_LATENESS, ge=0)
    deadline: float = Field(default=60.0, gt=0)  # seconds for the whole read
    # Bounds on what is kept (memory): items, and the bytes of their records.
    max_records: int = Field(default=2_000_000, gt=0)
    max_bytes: int = Field(default=1 << 30, gt=0)
    poll_ms: int = Field(default=200, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.topics and not self.deployments_topic:
            raise ValueError("nothing to read: give topics, a deployments_topic or both")
        if self.end <= self.start:
            raise ValueError(f"empty time range: end {self.end:g} is not after start "
                             f"{self.start:g}")
        if self.fmt != "auto" and self.fmt not in FORMATS:
            raise ValueError(f"unknown format {self.fmt!r} (one of auto, {', '.join(FORMATS)})")
        return self

    def names(self) -> list[str]:
        """Every topic read, the deployments topic last.

        >>> TimeRangeQuery(topics=("a", "b"), start=0, end=1, deployments_topic="d").names()
        ['a', 'b', 'd']
        """
        return [*self.topics, *([self.deployments_topic] if self.deployments_topic else [])]


class TimeRangeRead(NamedTuple):
    """The items of a range, partitions merged in time order as files are
    (:func:`detector.kafka.range_rules.merge_key`), and what it took: records and
    bytes read between the partitions' starts and stops, partitions read, and
    partitions with nothing at or after the start.

    >>> got = TimeRangeRead([], records=0, bytes=0, partitions=0, skipped=4,
    ...                     deployments_topic_found=False)
    >>> got.items, got.skipped
    ([], 4)
    """

    items: list[Item]
    records: int
    bytes: int
    partitions: int
    skipped: int
    deployments_topic_found: bool


def time_range_query(topics: Sequence[str], start: float, end: float,
                     **options: object) -> TimeRangeQuery:
    """The query, or a one-line :class:`UsageError` naming the first bad option.

    >>> time_range_query(["access"], 10, 5)
    Traceback (most recent call last):
    detector.errors.UsageError: empty time range: end 5 is not after start 10
    """
    try:
        return TimeRangeQuery.model_validate(
            {"topics": tuple(topics), "start": start, "end": end, **options})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise UsageError(f"{where}: {msg}" if where else msg) from None
