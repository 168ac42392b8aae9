"""Flat OTel records decoded a chunk at a time: msgspec reads and type-checks each
line into a fixed record shape in C, and the checks the per-line fast path makes
(:meth:`~detector.decoding.otel.OtelDecoder._fast`) run once per column.

msgspec was measured against the alternatives on the bench corpus (one process,
lines of flat OTel JSON): ``orjson.loads`` alone costs 2.7x what msgspec costs to
decode *and* validate a line into this shape; polars ``read_ndjson`` of 1,024-line
chunks 1.7-2.0x (columns still to be turned into Python values).

The shape accepts exactly the records the fast path takes: the core keys with
their types, and optionally ``url.query`` and ``http.request.body.content`` (strings)
and the ``network.peer.address`` and ``http.request.header.x-forwarded-for`` keys
(any value: the event ignores them). Anything else (request headers, a deployment,
a null, another type, a line that is not JSON) fails the chunk, which the caller
then decodes line by line: never a different answer.
"""

from __future__ import annotations

from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
from msgspec import UNSET, UnsetType

from detector.decoding._common import ABSENT, new_event, strip_port, to_body
from detector.decoding.base import MAX_LINE_BYTES, DecodeError
from detector.decoding.timestamps import MAX_TS, MIN_TS
from detector.events import AccessEvent

if TYPE_CHECKING:
    from collections.abc import Callable

_INF = float("inf")
_U64 = 1 << 64  # orjson reads larger integers as floats, which the fast path refuses
_event = partial(new_event, AccessEvent)
_STR = {str}
_INT = {int}


class FlatOtel(msgspec.Struct, forbid_unknown_fields=True, gc=False, rename={
    "ts": "timestamp", "method": "http.request.method", "path": "url.path",
    "status": "http.response.status_code", "duration": "http.server.request.duration",
    "client": "client.address", "ua": "user_agent.original", "service": "service.name",
    "version": "service.version", "size": "http.response.body.size", "query": "url.query",
    "body": "http.request.body.content", "peer": "network.peer.address",
    "forwarded": "http.request.header.x-forwarded-for"}):
    """One flat OTel record of the fast path's layout (see the module docstring).

    >>> r = _DECODE(b'{"timestamp": "t", "http.request.method": "GET", "url.path": "/",'
    ...             b' "http.response.status_code": 200, "http.server.request.duration": 0.5,'
    ...             b' "client.address": "c", "user_agent.original": "", "service.name": "s",'
    ...             b' "service.version": "1", "http.response.body.size": 3}')
    >>> r.status, r.query is UNSET
    (200, True)
    """

    ts: str
    method: str
    path: str
    status: int
    duration: float | int  # an int is refused below, as the fast path refuses it
    client: str
    ua: str
    service: str
    version: str
    size: int
    query: str | UnsetType = UNSET
    body: str | UnsetType = UNSET
    peer: Any = UNSET
    forwarded: Any = UNSET


_DECODE = msgspec.json.Decoder(FlatOtel).decode
_FIELDS = len(FlatOtel.__struct_fields__)


def decode_chunk(raws: list[bytes], source: str, first: int, methods: dict[str, str],
                 parse_ts: Callable[[Any], float]) -> list[AccessEvent] | None:
    """The events of ``raws`` (lines ``first``, ``first + 1``... of ``source``) when every
    one is a record the fast path takes, else None. ``methods`` maps raw methods to
    canonical ones (a miss: None), ``parse_ts`` reads event times (the decoder's).

    >>> line = (b'{"timestamp": "2026-03-17T09:06:00Z", "http.request.method": "get",'
    ...         b' "url.path": "/a", "http.response.status_code": 200,'
    ...         b' "http.server.request.duration": 0.1, "client.address": "1.2.3.4:5",'
    ...         b' "user_agent.original": "ua", "service.name": "s",'
    ...         b' "service.version": "1", "http.response.body.size": 5')
    >>> from detector.decoding.timestamps import parse_timestamp
    >>> [(e.method, e.client, e.query, e.offset) for e in decode_chunk(
    ...     [line + b"}", line + b', "url.query": "q=1"}'], "f", 7, {"get": "GET"},
    ...     parse_timestamp)]
    [('GET', '1.2.3.4', '', 7), ('GET', '1.2.3.4', 'q=1', 8)]
    >>> decode_chunk([line + b', "x": 1}'], "f", 1, {"get": "GET"}, parse_timestamp) is None
    True
    """
    if max(map(len, raws)) > MAX_LINE_BYTES:
        return None
    try:
        recs = list(map(_DECODE, raws))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    (ts, method, path, status, duration, client, ua, service, version, size, query, body,
     _peer, _fwd) = zip(*map(msgspec.structs.astuple, recs), strict=True)
    if not (
        all(path) and "?" not in "".join(path)
        and min(status) >= 100 and max(status) <= 599
        and set(map(type, duration)) == {float}
        and all(client) and all(service)
        and min(size) >= 0 and max(size) < _U64
    ):
        return None
    versions = set(version)
    if not versions.isdisjoint(ABSENT):
        return None
    d = np.array(duration, dtype=np.float64)
    if not ((d >= 0.0) & (d < _INF)).all():
        return None
    try:
        canonical = list(map(methods.__getitem__, method))
        times = event_times(ts, parse_ts)
    except (KeyError, DecodeError):
        return None  # a new spelling of a method, an absurd time: line by line
    if ":" in "".join(client):
        client = tuple(strip_port(c) if ":" in c else c for c in client)
    n = len(raws)
    queries = [q if q is not UNSET else "" for q in query] if query.count(UNSET) != n \
        else repeat("", n)
    bodies = [to_body(b) if b is not UNSET else None for b in body] if body.count(UNSET) != n \
        else repeat(None, n)
    return list(map(_event, zip(
        times, service, version, canonical, path, queries, status, duration, size, client,
        ua, bodies, repeat(None, n), repeat(source, n), range(first, first + n),
        repeat(None, n), strict=False)))


# Event times "YYYY-MM-DDTHH:MM:SS.fZ" with 1 to 9 fraction digits (beyond 9 the parser
# itself reads the fraction two ways): the per-line parser gives base + digits / 10**k,
# both exact or correctly rounded, so the same sum comes from numpy.
_ISO_MIN, _ISO_MAX = 22, 29
_SANE = (MIN_TS + 86400, MAX_TS - 86400)  # where the parser's cached bases lie


def event_times(ts: tuple[str, ...], parse_ts: Callable[[Any], float]) -> list[float]:
    """``parse_ts`` of each of ``ts``, at once for a chunk of UTC ISO times of one layout:
    each distinct second through ``parse_ts``, the fractions with numpy.

    >>> from detector.decoding.timestamps import parse_timestamp
    >>> ts = ("2026-03-17T09:06:00.004Z", "2026-03-17T09:06:01.250Z")
    >>> event_times(ts, parse_timestamp) == [parse_timestamp(t) for t in ts]
    True
    """
    lengths = set(map(len, ts))
    size = lengths.pop() if len(lengths) == 1 else 0
    if not _ISO_MIN <= size <= _ISO_MAX:
        return list(map(parse_ts, ts))
    text = np.array(ts)
    if text.dtype.itemsize != 4 * size:  # a character the fixed layout cannot hold
        return list(map(parse_ts, ts))
    codes = text.view(np.uint32).reshape(len(ts), size)
    digits = codes[:, 20:-1].astype(np.int64) - 48
    if not ((codes[:, 19] == 46).all() and (codes[:, -1] == 90).all()
            and ((digits >= 0) & (digits <= 9)).all()):
        return list(map(parse_ts, ts))
    k = size - 21
    frac = (digits @ (10 ** np.arange(k - 1, -1, -1, dtype=np.int64))) / float(10 ** k)
    seconds, which = np.unique(text.astype("U19"), return_inverse=True)
    bases = [parse_ts(s + "Z") for s in seconds.tolist()]  # DecodeError: line by line
    if not (min(bases) >= _SANE[0] and max(bases) < _SANE[1]):
        return list(map(parse_ts, ts))
    out: list[float] = (np.array(bases)[which.reshape(-1)] + frac).tolist()
    return out
