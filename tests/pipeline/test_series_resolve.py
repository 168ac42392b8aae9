"""SeriesIndex.resolve: raw paths to series, methods folded, the overflow, odd paths."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.config import DetectorSettings
from detector.detectors.base import SeriesKey
from detector.detectors.registry import build
from detector.pipeline import series
from detector.pipeline.series import _SUSPICIOUS_CHAR, _SUSPICIOUS_PATH, SeriesIndex
from detector.routes import RouteTemplater
from detector.windows.state import ServiceStarts


def _index() -> SeriesIndex:
    made = build(DetectorSettings())
    return SeriesIndex(RouteTemplater(), made.series, made.traffic, made.new_endpoint,
                       ServiceStarts())


def test_paths_of_one_route_share_a_series_and_odd_methods_fold() -> None:
    ix = _index()
    a = ix.resolve(("shop", "GET", "/items/1"), 0, 1.0)
    assert ix.resolve(("shop", "GET", "/items/2"), 0, 2.0) == a
    assert ix.resolve(("shop", "GET", "/items/SKU-12345"), 0, 3.0) == a
    b = ix.resolve(("shop", "BREW", "/items/3"), 0, 4.0)
    assert ix.resolve(("shop", "WHEN", "/items/4"), 0, 5.0) == b != a
    assert ix.keys[b] == SeriesKey("shop", "OTHER", "/items/{id}")
    assert ("shop", "BREW", "/items/3") in ix.odd_paths  # a method no route answers
    assert ("shop", "GET", "/items/1") not in ix.odd_paths


def test_new_routes_past_the_series_cap_share_the_overflow(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr(series, "MAX_SERIES", 2)
    ix = _index()
    ix.resolve(("shop", "GET", "/a"), 0, 1.0)
    ix.resolve(("shop", "GET", "/b"), 0, 1.0)
    c = ix.resolve(("shop", "GET", "/c"), 0, 1.0)
    assert ix.resolve(("shop", "GET", "/d"), 0, 1.0) == c
    assert ix.keys[c] == SeriesKey("shop", "GET", "/{overflow}") and len(ix.keys) == 3
    assert ix.resolve(("shop", "GET", "/a/"), 0, 1.0) == 0  # a known route keeps its own


@settings(max_examples=3000, deadline=None)
@given(st.text(max_size=40) | st.text("abc./%'<>;~()-_1", max_size=40))
def test_every_suspicious_path_has_a_prefilter_character(path: str) -> None:
    if _SUSPICIOUS_PATH.search(path) is not None:
        assert _SUSPICIOUS_CHAR.search(path) is not None


_PATHS = st.tuples(st.sampled_from(["shop", "pay"]), st.sampled_from(["GET", "BREW", "PUT"]),
                   st.sampled_from(["/items/1", "/items/2", "/items/x", "/a/b", "/a/../etc",
                                    "/img/3f2a9c1be9d04c7a.png", "/u/SKU-12", "/u/7/orders"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_PATHS, max_size=60), st.integers(2, 8))
def test_resolving_misses_in_one_loop_equals_resolving_each(
        pks: list[tuple[str, str, str]], cap: int) -> None:
    # A small cache cap makes drops happen mid-loop: the loop must stop right there.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(series, "PATH_CACHE_MAX", cap)
        each, loop = _index(), _index()
        expected = []
        for k, pk in enumerate(pks):
            sid = each.path_cache.get(pk)
            expected.append((each.resolve(pk, k // 10, float(k)) if sid is None else sid,
                             pk in each.odd_paths))
        got: list[tuple[int, bool]] = []
        start = 0
        while start < len(pks):
            rest = pks[start:]
            sids: list[int | None] = [None] * len(rest)
            odd = [False] * len(rest)
            stop = loop.resolve_misses(rest, range(len(rest)),
                                       [(start + k) // 10 for k in range(len(rest))],
                                       [float(start + k) for k in range(len(rest))], sids, odd)
            done = len(rest) if stop < 0 else stop + 1
            got += [(s, o) for s, o in zip(sids[:done], odd[:done], strict=True)
                    if s is not None]
            start += done
    assert got == expected
    assert loop.keys == each.keys and loop.birth == each.birth
    assert loop.path_cache == each.path_cache and loop.odd_paths == each.odd_paths
    assert loop.starts.first == each.starts.first
