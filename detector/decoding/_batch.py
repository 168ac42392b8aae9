"""Column helpers shared by the chunk decoders (``*_batch.py``).

A chunk decoder reads a chunk of lines with msgspec into fixed record shapes, then
computes each event field for the whole column, exactly as the per-line decoder
computes it for one record. Every helper here either returns that exact answer or
raises (any exception): the caller then gives up the chunk, which is decoded line by
line. msgspec and orjson agree on which bytes are JSON and on their values, except
integers outside orjson's range (it reads them as floats): :func:`orjson_ints`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from msgspec import UNSET

from detector.decoding._common import ABSENT, split_target, to_method
from detector.decoding.base import MAX_LINE_BYTES
from detector.decoding.otel_batch import event_times

_I64 = -(1 << 63)
_U64 = 1 << 64


def orjson_ints(*columns: Sequence[Any]) -> bool:
    """Whether every int in ``columns`` is one orjson reads as an int (``-2**63`` to
    ``2**64 - 1``; beyond, orjson gives a float where msgspec gives an int).

    >>> orjson_ints([1, "x", None], [2**64 - 1]), orjson_ints([2**64])
    (True, False)
    """
    for col in columns:
        ints = [v for v in col if v.__class__ is int]
        if ints and (min(ints) < _I64 or max(ints) >= _U64):
            return False
    return True


def records(raws: list[bytes], decode: Callable[[bytes], Any]) -> list[Any] | None:
    """Each of ``raws`` through msgspec's ``decode`` into its record shape, or None when a
    line is over the line cap or not of that shape (the chunk goes line by line).

    >>> decode = msgspec.json.Decoder(dict).decode
    >>> records([b'{"a": 1}'], decode), records([b'['], decode)
    ([{'a': 1}], None)
    """
    if max(map(len, raws)) > MAX_LINE_BYTES:
        return None
    try:
        return list(map(decode, raws))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def unset_to_none(col: Sequence[Any]) -> Sequence[Any]:
    """A column of an optional field with a missing key as None, as ``dict.get`` sees it.

    >>> unset_to_none((UNSET, 1))
    [None, 1]
    """
    return [None if v is UNSET else v for v in col] if UNSET in col else col


def times(ts: tuple[str, ...], parse: Callable[[Any], float]) -> list[float]:
    """``parse`` of each of ``ts`` (strings): once per distinct value when the chunk
    repeats them (per-second stamps), else :func:`event_times`.

    >>> from detector.decoding.timestamps import parse_timestamp
    >>> times(("2026-03-17T09:06:00+00:00",) * 3, parse_timestamp)[2]
    1773738360.0
    """
    distinct = set(ts)
    if 4 * len(distinct) <= len(ts):
        memo = {s: parse(s) for s in distinct}
        return list(map(memo.__getitem__, ts))
    return event_times(ts, parse)


def methods(raw: Sequence[str], memo: dict[str, str]) -> list[str]:
    """Canonical methods (:func:`to_method`), through ``memo`` (raw -> canonical); a
    spelling new to ``memo`` is checked but not added (the per-line decoder's memo
    changes no answer, so neither does leaving it).

    >>> methods(["get", "POST"], {"get": "GET"})
    ['GET', 'POST']
    """
    distinct = {m: memo[m] if m in memo else to_method(m) for m in set(raw)}
    return list(map(distinct.__getitem__, raw))


def targets(raw: Sequence[Any], field: str) -> tuple[list[str], list[str]]:
    """Paths and queries of request targets, as :func:`split_target` splits them.

    >>> targets(["/a?b=1", "https://h/c"], "path")
    (['/a', '/c'], ['b=1', ''])
    """
    if all(t.__class__ is str and t[:1] == "/" for t in raw):  # origin forms: column-wise
        split = [t.partition("?") for t in raw]
        return [p for p, _, _ in split], [q for _, _, q in split]
    paths: list[str] = []
    queries: list[str] = []
    for t in raw:
        if t.__class__ is str and t[:1] == "/":
            path, _, query = t.partition("?")  # what split_target does with an origin form
        else:
            path, query = split_target(t, field)
        paths.append(path)
        queries.append(query)
    return paths, queries


def peers(xffs: Sequence[Any], addrs: Sequence[Any], client_of: Callable[[Any, Any], str],
          strip: Callable[[str], str]) -> list[str]:
    """The original clients (:func:`~detector.decoding._common.client_of`): a record
    without a forwarded-for hop costs a comparison or two, others the call.

    >>> from detector.decoding._common import client_of, strip_port
    >>> peers([None, "", "9.9.9.9, 1.1.1.1"], ["1.2.3.4:5", "-", "8.8.8.8"], client_of,
    ...       strip_port)
    ['1.2.3.4', '', '9.9.9.9']
    """
    return [
        (("" if a in ABSENT else strip(a) if ":" in a else a)
         if (x is None or x == "" or x == "-") and a.__class__ is str else client_of(x, a))
        for x, a in zip(xffs, addrs, strict=True)
    ]


def user_agents(raw: Sequence[Any]) -> list[str]:
    """The JSON formats' User-Agent: a string but "-"; anything else (absent) ""."""
    return [u if u.__class__ is str and u != "-" else "" for u in raw]


def opt_texts(raw: Sequence[Any]) -> list[str | None]:
    """:func:`~detector.decoding._common.opt_text` of a column of strings and None."""
    return [None if v is None or v == "" or v == "-" else v for v in raw]
