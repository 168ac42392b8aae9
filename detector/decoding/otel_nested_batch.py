"""Nested OTel records decoded a chunk at a time (see :mod:`detector.decoding.otel_batch`).

The shape is the nested layout of the OTel HTTP conventions as exporters (and the
simulator) write it: ``{"timestamp", "service": {"name", "version"}, "http":
{"request": {"method", "body": {"content"}}, "response": {"status_code", "body":
{"size"}}, "server": {"request": {"duration"}}}, "url": {"path", "query"},
"client": {"address"}, "user_agent": {"original"}}``, no other key at any level.
Per line, such a record is flattened to dotted keys and read by
:meth:`OtelDecoder._generic <detector.decoding.otel.OtelDecoder._generic>`; here each
field is computed column-wise as that reads it. A chunk with any other record, or a
value a helper refuses, is decoded line by line: never a different answer.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

from detector.decoding import _batch as col
from detector.decoding._common import ABSENT, new_event, strip_port, to_status
from detector.decoding.otel_batch import event_times
from detector.events import AccessEvent

_INF = float("inf")


class _Service(Struct, forbid_unknown_fields=True, gc=False):
    name: str
    version: str | UnsetType = UNSET


class _Content(Struct, forbid_unknown_fields=True, gc=False):
    content: str


class _Request(Struct, forbid_unknown_fields=True, gc=False):
    method: str
    body: _Content | UnsetType = UNSET


class _Size(Struct, forbid_unknown_fields=True, gc=False):
    size: int


class _Response(Struct, forbid_unknown_fields=True, gc=False):
    status_code: int
    body: _Size | UnsetType = UNSET


class _Duration(Struct, forbid_unknown_fields=True, gc=False):
    duration: float | int


class _Server(Struct, forbid_unknown_fields=True, gc=False):
    request: _Duration


class _Http(Struct, forbid_unknown_fields=True, gc=False):
    request: _Request
    response: _Response
    server: _Server | UnsetType = UNSET


class _Url(Struct, forbid_unknown_fields=True, gc=False):
    path: str
    query: str | UnsetType = UNSET


class _Client(Struct, forbid_unknown_fields=True, gc=False):
    address: str


class _Agent(Struct, forbid_unknown_fields=True, gc=False):
    original: str


class NestedOtel(Struct, forbid_unknown_fields=True, gc=False):
    """One nested OTel record of the chunk path's shape (see the module docstring).

    >>> r = _DECODE(b'{"timestamp": "t", "service": {"name": "s"}, "http": {"request":'
    ...             b' {"method": "GET"}, "response": {"status_code": 200}}, "url": {"path":'
    ...             b' "/"}, "client": {"address": "c"}, "user_agent": {"original": ""}}')
    >>> r.http.response.status_code, r.url.query is UNSET
    (200, True)
    """

    timestamp: str
    service: _Service
    http: _Http
    url: _Url
    client: _Client
    user_agent: _Agent


_DECODE = msgspec.json.Decoder(NestedOtel).decode


def decode_chunk(raws: list[bytes], source: str, first: int, default_service: str,
                 methods: dict[str, str], parse_ts: Callable[[Any], float]
                 ) -> list[AccessEvent] | None:
    """The events of ``raws`` (lines ``first``, ``first + 1``... of ``source``) when every
    one is a record of :class:`NestedOtel`'s shape, else None.

    >>> from detector.decoding.timestamps import parse_timestamp
    >>> line = (b'{"timestamp": "2026-03-17T09:06:00.250Z", "service": {"name": "s"}, "http":'
    ...         b' {"request": {"method": "get"}, "response": {"status_code": 404}}, "url":'
    ...         b' {"path": "/a", "query": "b=1"}, "client": {"address": "1.2.3.4:5"},'
    ...         b' "user_agent": {"original": "-"}}')
    >>> [(e.method, e.query, e.status, e.duration, e.client, e.user_agent, e.offset)
    ...  for e in decode_chunk([line], "f", 9, "web", {}, parse_timestamp)]
    [('GET', 'b=1', 404, None, '1.2.3.4', '-', 9)]
    """
    recs = col.records(raws, _DECODE)
    if recs is None:
        return None
    sizes = [UNSET if r.http.response.body is UNSET else r.http.response.body.size
             for r in recs]
    durations = [UNSET if r.http.server is UNSET else r.http.server.request.duration
                 for r in recs]
    status = [r.http.response.status_code for r in recs]
    if not col.orjson_ints(sizes, durations, status):
        return None
    try:
        return _events(recs, sizes, durations, status, source, first, default_service,
                       methods, parse_ts)
    except Exception:  # a DecodeError, or a value no helper here expected: line by line
        return None


def _events(recs: list[NestedOtel], sizes: list[Any], durations: list[Any],
            status: list[int], source: str, first: int, default_service: str,
            memo: dict[str, str], parse_ts: Callable[[Any], float]) -> list[AccessEvent]:
    n = len(recs)
    paths = [r.url.path for r in recs]
    if not all(paths) or "?" in "".join(paths):
        raise ValueError("a path with a query, or none: the per-line decoder's _target")
    queries = [r.url.query if r.url.query is not UNSET else "" for r in recs]
    codes = {v: to_status(v) for v in set(status)}
    seconds = [None if d is UNSET else float(d) if 0.0 <= d < _INF else None
               for d in durations]  # to_seconds(d): d * 1.0 when it is a duration
    counts = [None if s is UNSET or s < 0 else s for s in sizes]  # to_count
    clients = ["" if c in ABSENT else strip_port(c) if ":" in c else c  # client_of(None, c)
               for c in (r.client.address for r in recs)]
    services = [s if s not in ABSENT else default_service for s in (r.service.name for r in recs)]
    versions = [None if v is UNSET or v in ABSENT else v for v in (r.service.version for r in recs)]
    bodies = [None if b is UNSET or b.content in ABSENT else b.content
              for b in (r.http.request.body for r in recs)]
    return list(map(new_event, repeat(AccessEvent, n), zip(
        event_times(tuple(r.timestamp for r in recs), parse_ts), services, versions,
        col.methods([r.http.request.method for r in recs], memo), paths, queries,
        map(codes.__getitem__, status), seconds, counts, clients,
        [r.user_agent.original for r in recs], bodies, repeat(None, n), repeat(source, n),
        range(first, first + n), repeat(None, n), strict=False)))
