"""Chunk-wise merging and time checks against the item-by-item ones they replace:
the same items in the same order, on hostile interleavings."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import chain
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.events import AccessEvent, BadRecord, Item
from detector.sources.merge import merge_chunks
from detector.sources.timeguard import SLACK, plausible_chunks, plausible_times

BAD = float("-inf")  # a bad record's key (sources.files._key)
# Few distinct keys: ties between inputs, dips below the running maximum, repeats.
keys = st.one_of(st.sampled_from([0.0, 1.0, 2.0, 3.0, 5.0, 8.0]), st.just(BAD))
inputs = st.lists(st.lists(keys, max_size=30), min_size=1, max_size=5)


def _chunked(items: list[tuple[float, int, int]], cuts: list[int]) -> Iterator[list[Any]]:
    at = 0
    for size in cuts:
        yield items[at:at + size]  # empty lists too: a chunk of only filtered lines
        at += size
    if at < len(items):
        yield items[at:]


def _keys(chunk: list[tuple[float, int, int]]) -> Any:
    return np.array([x[0] for x in chunk])


@settings(max_examples=400, deadline=None)
@given(inputs, st.lists(st.integers(0, 7), max_size=40))
def test_merge_chunks_is_heapq_merge(keysets: list[list[float]], cuts: list[int]) -> None:
    streams = [[(k, j, n) for n, k in enumerate(ks)] for j, ks in enumerate(keysets)]
    want = list(heapq.merge(*streams, key=lambda x: x[0]))
    got = list(chain.from_iterable(
        merge_chunks([_chunked(s, cuts) for s in streams], _keys)))
    assert got == want


def test_bad_records_first_and_a_late_input_that_dips() -> None:
    a = [(5.0, 0, 0), (BAD, 0, 1), (1.0, 0, 2), (6.0, 0, 3)]
    b = [(BAD, 1, 0), (5.0, 1, 1), (0.0, 1, 2)]
    want = list(heapq.merge(a, b, key=lambda x: x[0]))
    got = list(chain.from_iterable(merge_chunks([iter([a[:1], a[1:]]), iter([b])],
                                                _keys)))
    assert got == want
    assert got[0] == (BAD, 1, 0)  # a bad record at an input's head goes first


def _ev(ts: float, n: int) -> AccessEvent:
    return AccessEvent(ts, "s", None, "GET", "/", "", 200, None, None, "c", "", None, None,
                       "f", n)


T0 = 1.9e9
# Normal times, a gap in the logs (a day and more ahead), absurd years, bad records.
times = st.one_of(st.floats(T0, T0 + 600), st.floats(T0 + 3 * SLACK, T0 + 3 * SLACK + 60),
                  st.sampled_from([4e9, 1e6]), st.just(BAD))


def _items(ts: list[float]) -> list[Item]:
    return [BadRecord("f", n, "bad", b"x") if t == BAD else _ev(t, n)
            for n, t in enumerate(ts)]


@settings(max_examples=300, deadline=None)
@given(st.lists(times, max_size=400), st.lists(st.integers(0, 90), max_size=30))
def test_plausible_chunks_is_plausible_times(ts: list[float], cuts: list[int]) -> None:
    items = _items(ts)
    want = [(type(i).__name__, i.offset) for i in plausible_times(items)]
    got = [(type(i).__name__, i.offset) for i in chain.from_iterable(
        plausible_chunks(_chunked(items, cuts)))]  # type: ignore[arg-type]
    assert got == want


def test_plausible_chunks_passes_a_plain_chunk_whole() -> None:
    head = _items([T0 + i for i in range(16)])
    body = _items([T0 + 16 + i for i in range(100)])
    out = list(plausible_chunks(iter([head, body])))
    assert out[1] is body  # no copy, no step per item
    jump = _items([T0 + 2 * SLACK] + [T0 + 200 + i for i in range(70)])
    got = list(chain.from_iterable(plausible_chunks(iter([head, jump]))))
    assert [i.offset for i in got if isinstance(i, BadRecord)] == [0]  # rejected after DECIDE
