"""Envoy JSON records decoded a chunk at a time (see :mod:`detector.decoding.otel_batch`).

The shape is Envoy's default JSON access log (and the simulator's): the keys below and
no others. Keys the event does not use (``protocol``, ``authority``...) may hold any
value; none of them names a request header (see :mod:`detector.decoding.headers`), so
the events have none. Each field is computed as :meth:`EnvoyDecoder._generic
<detector.decoding.envoy.EnvoyDecoder._generic>` computes it; a chunk with any other
record, or a value a helper refuses, is decoded line by line: never a different answer.
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
    opt_text,
    strip_port,
    to_count,
    to_seconds,
    to_status,
)
from detector.events import AccessEvent

_INF = float("inf")


class EnvoyRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One Envoy JSON record of the chunk path's shape.

    >>> _DECODE(b'{"start_time": "t", "method": "GET", "path": "/", "protocol": 1}').path
    '/'
    """

    start_time: str
    method: str
    path: str
    response_code: int | str | None = None
    duration: float | int | str | None | UnsetType = UNSET
    upstream_service_time: float | int | str | None | UnsetType = UNSET
    bytes_sent: int | str | None | UnsetType = UNSET
    downstream_remote_address: str | None | UnsetType = UNSET
    x_forwarded_for: str | None | UnsetType = UNSET
    user_agent: str | None | UnsetType = UNSET
    request_id: str | int | float | None | UnsetType = UNSET
    service: str | None | UnsetType = UNSET
    version: str | None | UnsetType = UNSET
    # Envoy's other default fields: the event does not read them.
    protocol: Any = None
    response_flags: Any = None
    bytes_received: Any = None
    authority: Any = None
    upstream_host: Any = None
    upstream_cluster: Any = None
    upstream_local_address: Any = None
    downstream_local_address: Any = None
    requested_server_name: Any = None
    route_name: Any = None
    upstream_transport_failure_reason: Any = None
    connection_termination_details: Any = None


_DECODE = msgspec.json.Decoder(EnvoyRecord).decode
_USED = 13  # the fields above the ones the event does not read


def _status(v: object) -> int | None:
    """:meth:`EnvoyDecoder._generic`'s status: 0 or absent, no response was sent."""
    if type(v) is int and 100 <= v <= 599:
        return v
    return to_status(v)


def _duration(v: object, upstream: object) -> float | None:
    """:meth:`EnvoyDecoder._generic`'s duration: ``%DURATION%``, else the upstream's, in ms."""
    if v is None or v in ABSENT:
        v = upstream
    return to_seconds(v, 1e-3)


def decode_chunk(raws: list[bytes], source: str, first: int, default_service: str,
                 methods: dict[str, str], parse_ts: Callable[[Any], float]
                 ) -> list[AccessEvent] | None:
    """The events of ``raws`` (lines ``first``, ``first + 1``... of ``source``) when every
    one is a record of :class:`EnvoyRecord`'s shape, else None.

    >>> from detector.decoding.timestamps import parse_timestamp
    >>> line = (b'{"start_time": "2026-03-17T09:06:00.000Z", "method": "POST", "path": "/p?x=1",'
    ...         b' "response_code": 0, "duration": 12, "downstream_remote_address":'
    ...         b' "10.1.2.3:5555", "x_forwarded_for": null}')
    >>> [(e.status, e.duration, e.client, e.query, e.offset)
    ...  for e in decode_chunk([line], "f", 4, "web", {}, parse_timestamp)]
    [(None, 0.012, '10.1.2.3', 'x=1', 4)]
    >>> decode_chunk([line[:-1] + b', "x-tenant": "a"}'], "f", 1, "web", {},
    ...              parse_timestamp) is None
    True
    """
    recs = col.records(raws, _DECODE)
    if recs is None:
        return None
    (ts, method, path, status, dur, upstream, size, addr, xff, ua, rid, service, version
     ) = list(zip(*map(msgspec.structs.astuple, recs), strict=True))[:_USED]
    if not col.orjson_ints(status, dur, upstream, size, rid):
        return None
    try:
        return _events(ts, method, path, status, dur, upstream, size, addr, xff, ua, rid,
                       service, version, source, first, default_service, methods, parse_ts)
    except Exception:  # a DecodeError, or a value no helper here expected: line by line
        return None


def _events(ts: tuple[str, ...], method: tuple[str, ...], path: tuple[str, ...],
            status: tuple[Any, ...], dur: tuple[Any, ...], upstream: tuple[Any, ...],
            size: tuple[Any, ...], addr: tuple[Any, ...], xff: tuple[Any, ...],
            ua: tuple[Any, ...], rid: tuple[Any, ...], service: tuple[Any, ...],
            version: tuple[Any, ...], source: str, first: int, default_service: str,
            memo: dict[str, str], parse_ts: Callable[[Any], float]) -> list[AccessEvent]:
    n = len(ts)
    verbs = col.methods(method, memo)
    paths, queries = col.targets(path, "path")
    codes = {v: _status(v) for v in set(status)}
    if set(map(type, dur)) == {int}:
        ms = [d * 1e-3 for d in dur]  # to_seconds(d, 1e-3): the same product
        durations: list[float | None] = [d if 0.0 <= d < _INF else None for d in ms]
    else:
        durations = list(map(_duration, col.unset_to_none(dur), col.unset_to_none(upstream)))
    sizes = [s if s.__class__ is int and s >= 0 else to_count(None if s is UNSET else s)
             for s in size]
    clients = col.peers(col.unset_to_none(xff), col.unset_to_none(addr), client_of, strip_port)
    services = [s if s.__class__ is str and s else default_service for s in service]
    request_ids = [None if r is UNSET or r is None else opt_text(r) for r in rid]
    return list(map(new_event, repeat(AccessEvent, n), zip(
        col.times(ts, parse_ts), services, col.opt_texts(col.unset_to_none(version)), verbs,
        paths, queries, map(codes.__getitem__, status), durations, sizes, clients,
        col.user_agents(ua), repeat(None, n), request_ids, repeat(source, n),
        range(first, first + n), repeat(None, n), strict=False)))
