"""nginx JSON records decoded a chunk at a time (see :mod:`detector.decoding.otel_batch`).

The shape is the usual ``log_format ... escape=json`` record: the keys below and
no others, each of a type the per-line decoder reads without a detour (strings,
numbers, null). No key of it is a request header (``http_user_agent`` and
``http_x_forwarded_for`` are carried by the event's own fields), so the events
have none. Each field is computed as :meth:`NginxJsonDecoder._generic
<detector.decoding.nginx_json.NginxJsonDecoder._generic>` computes it (its fast path
gives the same events); a chunk with any other record, or a value a helper refuses,
is decoded line by line: never a different answer.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from detector.decoding import _batch as col
from detector.decoding._common import (
    ABSENT,
    client_of,
    new_event,
    split_request,
    strip_port,
    sum_seconds,
    to_count,
    to_seconds,
    to_status,
)
from detector.events import AccessEvent

_INF = float("inf")


class NginxRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One nginx JSON record of the chunk path's shape.

    >>> _DECODE(b'{"time_iso8601": "t", "request": "GET / HTTP/1.1", "status": 200}').status
    200
    """

    time_iso8601: str
    request: str
    status: int | str | None = None
    request_time: float | int | str | None | UnsetType = UNSET
    upstream_response_time: float | int | str | None | UnsetType = UNSET
    body_bytes_sent: int | str | None | UnsetType = UNSET
    remote_addr: str | None | UnsetType = UNSET
    http_x_forwarded_for: str | None | UnsetType = UNSET
    http_user_agent: str | None | UnsetType = UNSET
    request_body: str | None | UnsetType = UNSET
    service: str | None | UnsetType = UNSET
    version: str | None | UnsetType = UNSET


_DECODE = msgspec.json.Decoder(NginxRecord).decode


def _status(v: object) -> int | None:
    """:meth:`NginxJsonDecoder._generic`'s status."""
    if type(v) is str and len(v) == 3 and v.isdigit() and v.isascii():
        code = int(v)
        return code if 100 <= code <= 599 else to_status(code)
    return to_status(v)


def _duration(v: object, upstream: object) -> float | None:
    """:meth:`NginxJsonDecoder._generic`'s duration: ``$request_time``, else the upstreams'."""
    if v is None or v in ABSENT:
        return sum_seconds(upstream)
    return to_seconds(v)


def _requests(raw: tuple[str, ...], memo: dict[str, str]
              ) -> tuple[list[str], list[str], list[str]]:
    """Methods, paths and queries of ``$request`` lines, as :func:`split_request` gives them."""
    split = [r.split(" ") for r in raw]
    if set(map(len, split)) == {3}:  # "GET /a?b HTTP/1.1" in every record: column-wise
        paths, queries = col.targets([t for _, t, _ in split], "request_uri")
        return col.methods([v for v, _, _ in split], memo), paths, queries
    verbs: list[str] = []
    paths = []
    queries = []
    for r in raw:
        parts = r.split(" ")
        if len(parts) == 3 and parts[1][:1] == "/":
            verb = parts[0]
            path, _, query = parts[1].partition("?")
        else:  # "-", HTTP/0.9, spaces in the target: the general case (raises on junk)
            if r in ABSENT:
                raise ValueError("no $request: $request_method and $request_uri")
            verb, path, query = split_request(r)
        verbs.append(verb)
        paths.append(path)
        queries.append(query)
    return col.methods(verbs, memo), paths, queries


def decode_chunk(raws: list[bytes], source: str, first: int, default_service: str,
                 methods: dict[str, str], parse_ts: Callable[[Any], float]
                 ) -> list[AccessEvent] | None:
    """The events of ``raws`` (lines ``first``, ``first + 1``... of ``source``) when every
    one is a record of :class:`NginxRecord`'s shape, else None.

    >>> from detector.decoding.timestamps import parse_timestamp
    >>> line = (b'{"time_iso8601": "2026-03-17T09:06:00+00:00", "request": "GET /a?b=1 HTTP/1.1",'
    ...         b' "status": "200", "request_time": "0.010", "remote_addr": "10.0.0.2",'
    ...         b' "http_x_forwarded_for": "1.2.3.4, 10.0.0.2", "body_bytes_sent": "5"}')
    >>> [(e.path, e.query, e.status, e.duration, e.client, e.offset)
    ...  for e in decode_chunk([line], "f", 3, "web", {}, parse_timestamp)]
    [('/a', 'b=1', 200, 0.01, '1.2.3.4', 3)]
    >>> decode_chunk([line[:-1] + b', "x": 1}'], "f", 1, "web", {}, parse_timestamp) is None
    True
    """
    recs = col.records(raws, _DECODE)
    if recs is None:
        return None
    (ts, request, status, rt, upstream, size, addr, xff, ua, body, service, version
     ) = zip(*map(msgspec.structs.astuple, recs), strict=True)
    if not col.orjson_ints(status, rt, upstream, size):
        return None
    try:
        return _events(ts, request, status, rt, upstream, size, addr, xff, ua, body, service,
                       version, source, first, default_service, methods, parse_ts)
    except Exception:  # a DecodeError, or a value no helper here expected: line by line
        return None


def _events(ts: tuple[str, ...], request: tuple[str, ...], status: tuple[Any, ...],
            rt: tuple[Any, ...], upstream: tuple[Any, ...], size: tuple[Any, ...],
            addr: tuple[Any, ...], xff: tuple[Any, ...], ua: tuple[Any, ...],
            body: tuple[Any, ...], service: tuple[Any, ...], version: tuple[Any, ...],
            source: str, first: int, default_service: str, memo: dict[str, str],
            parse_ts: Callable[[Any], float]) -> list[AccessEvent]:
    n = len(ts)
    verbs, paths, queries = _requests(request, memo)
    codes = {v: _status(v) for v in set(status)}
    if set(map(type, rt)) == {float}:
        durations: list[float | None] = [d if 0.0 <= d < _INF else None for d in rt]
    else:
        durations = list(map(_duration, col.unset_to_none(rt), col.unset_to_none(upstream)))
    sizes = [s if s.__class__ is int and s >= 0 else to_count(None if s is UNSET else s)
             for s in size]
    clients = col.peers(col.unset_to_none(xff), col.unset_to_none(addr), client_of, strip_port)
    services = [s if s.__class__ is str and s else default_service for s in service]
    return list(map(new_event, repeat(AccessEvent, n), zip(
        col.times(ts, parse_ts), services, col.opt_texts(col.unset_to_none(version)), verbs,
        paths, queries, map(codes.__getitem__, status), durations, sizes, clients,
        col.user_agents(ua), col.opt_texts(col.unset_to_none(body)), repeat(None, n),
        repeat(source, n), range(first, first + n), repeat(None, n), strict=False)))
