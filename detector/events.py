"""Canonical events shared by every pipeline stage.

Events are NamedTuples rather than pydantic models: they are created once per
log line on the hot path, where a tuple costs a fraction of a validated model.
Stage boundaries that face users (incidents, config) use pydantic.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class AccessEvent(NamedTuple):
    """One decoded access-log record (CONTRACTS §1).

    >>> e = AccessEvent(1.0, "shop", None, "GET", "/items/1", "", 200, 0.01, 12,
    ...                 "10.0.0.1", "curl/8", None, None, "access.log", 1)
    >>> e.status, e.path
    (200, '/items/1')
    """

    ts: float  # event time, epoch seconds UTC
    service: str
    version: str | None
    method: str  # upper case
    path: str  # no query string, percent-encoding kept as received
    query: str  # raw query string without '?', "" when absent; redact before printing
    status: int | None  # None when no response was sent (envoy response_code 0)
    duration: float | None  # seconds
    bytes: int | None  # response body bytes
    client: str  # original client: first X-Forwarded-For address, else the peer
    user_agent: str
    body: str | None  # request body, whole: bounded by the record (decoding.base.BODY_CAP)
    request_id: str | None
    source: str  # file name or "topic:partition"
    offset: int  # 1-based line number in a file, or the Kafka offset
    # Request headers the record carries, (name, value) in record order: names lower case
    # with '-' ("x-api-version"), a repeated header's values joined with ", ". None (not
    # an empty tuple) when there are none: most events, and every format without headers.
    # User-Agent and X-Forwarded-For are left out (``user_agent``, ``client`` have them).
    # At most decoding.headers.MAX_HEADERS of them, values bounded like ``body``.
    headers: tuple[tuple[str, str], ...] | None = None


# AccessEvent fields by position, for hot loops that index the tuple (faster than
# attribute access): ``ev[STATUS]`` rather than ``ev[6]``.
TS: Final = 0
SERVICE: Final = 1
VERSION: Final = 2
METHOD: Final = 3
PATH: Final = 4
QUERY: Final = 5
STATUS: Final = 6
DURATION: Final = 7
BYTES_SENT: Final = 8
CLIENT: Final = 9
USER_AGENT: Final = 10
BODY: Final = 11
SOURCE: Final = 13
OFFSET: Final = 14
HEADERS: Final = 15


class DeploymentEvent(NamedTuple):
    """A deployment of one service version (CONTRACTS §2).

    ``explicit`` is False for deployments inferred from a new
    ``service.version`` value in access events; explicit events win.

    >>> DeploymentEvent(10.0, "payments", "2.32.0").version
    '2.32.0'
    """

    ts: float
    service: str
    version: str
    environment: str | None = None
    revision: str | None = None
    explicit: bool = True
    source: str = ""
    offset: int = 0


class BadRecord(NamedTuple):
    """A record that could not be decoded; goes to the dead-letter output."""

    source: str
    offset: int
    reason: str
    raw: bytes  # capped copy of the input, for the dead-letter record
    # The input's true size when ``raw`` is only a prefix of it (None: ``len(raw)``),
    # and the Kafka record timestamp (ms) when it came from Kafka: dead-letter metadata.
    length: int | None = None
    timestamp_ms: int | None = None


# What a pipeline is fed, in arrival order.
Item = AccessEvent | DeploymentEvent | BadRecord
