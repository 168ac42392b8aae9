"""Caches keyed by input-derived strings are bounded by bytes, not only entries (item 20).

400k distinct 2 KB paths took a replay to a GB through ``Pipeline.path_cache``
alone: an entry cap does not bound memory when the input picks the key sizes.
Every such cache (pipeline, route templater, request analyzer, timestamp
parser) now counts the bytes it holds and is cleared past a budget.
"""

from __future__ import annotations

import sys

import pytest

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.field_scans import CACHE_BYTES as _CACHE_BYTES
from detector.config import Settings
from detector.decoding.base import DecodeError
from detector.decoding.timestamps import TimestampParser
from detector.events import AccessEvent
from detector.memo import Memo
from detector.pipeline import Pipeline
from detector.pipeline.series import PATH_CACHE_BYTES
from detector.routes.templater import CACHE_BYTES, RouteTemplater
from detector.sinks.base import MemorySink

T0 = 1_780_000_000.0


def _ev(i: int, path: str, ua: str = "curl/8") -> AccessEvent:
    return AccessEvent(T0 + i * 0.01, "shop", None, "GET", path, "", 200, 0.01, 10, "10.0.0.1",
                       ua, None, None, "f", i)


def _key_bytes(keys: object) -> int:
    total = 0
    for k in keys:  # type: ignore[attr-defined]
        parts = k if isinstance(k, tuple) else (k,)
        total += sum(sys.getsizeof(p) for p in parts if isinstance(p, str) and len(p) > 64)
    return total


def test_pipeline_path_cache_is_bounded_by_bytes() -> None:
    p = Pipeline(Settings(), [MemorySink()])
    n = PATH_CACHE_BYTES // 8000 + 2000  # distinct 8 KB paths: well over the budget in all
    seg = "a" * 8000
    p.process(_ev(i, f"/files/{i}{seg}") for i in range(n))
    held = _key_bytes(p.path_cache)
    assert 0 < held <= PATH_CACHE_BYTES
    assert p.path_cache_bytes <= PATH_CACHE_BYTES + 8300
    assert p.summary.events == n  # every event still counted, on the route it belongs to
    assert {k.route for k in p.series_keys} == {"/files/{id}"}


def test_route_templater_cache_is_bounded_by_bytes() -> None:
    t = RouteTemplater()
    n = CACHE_BYTES // 500 + 5000  # distinct cacheable (<= 512 chars) paths
    pad = "b" * 480
    for i in range(n):
        assert t.template("shop", f"/p/x{i}{pad}") == "/p/{id}" or i < 60
    held = _key_bytes(k for c in t._caches.values() for k in c)
    assert 0 < held <= CACHE_BYTES and t.cached_bytes() <= CACHE_BYTES + 2000


def test_analyzer_memos_are_bounded_by_bytes() -> None:
    a = RequestAnalyzer()
    n = _CACHE_BYTES // 2000 + 1000
    for i in range(n):  # distinct 2 KB paths and user agents: the longest ever memoised
        a.signature_hits(_ev(i, f"/x/{i:06d}" + "c" * 2030, ua=f"agent-{i:06d}" + "d" * 2030))
    for memo in (a.scans.path_hits, a.scans.ua_hits):
        assert isinstance(memo, Memo)
        assert 0 < _key_bytes(memo) <= _CACHE_BYTES


def test_timestamp_memos_keep_no_long_keys() -> None:
    p = TimestampParser()
    padded = "10/Oct/" + "0" * 4000 + "2026:13:55:36 +0000"  # int() ignores leading zeros
    assert p.parse(padded) == p.parse("10/Oct/2026:13:55:36 +0000")
    with pytest.raises(DecodeError):
        p.parse("2026-03-17T09:06:00+" + "9" * 100_000)
    assert max(map(len, p._clf), default=0) < 100 and max(map(len, p._zones), default=0) < 100
