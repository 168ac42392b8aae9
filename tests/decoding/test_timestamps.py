"""parse_timestamp: every shape the formats emit, and the absurd ones refused."""

from __future__ import annotations

import math

import pytest

from detector.decoding import DecodeError, parse_timestamp
from detector.decoding.timestamps import TimestampParser

T = 1773738360.0  # 2026-03-17T09:06:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-17T09:06:00Z", T),
        ("2026-03-17T09:06:00.250Z", T + 0.25),
        ("2026-03-17T09:06:00.123456789Z", T + 0.123456789),
        ("2026-03-17T09:06:00", T),  # no zone = UTC
        ("2026-03-17 09:06:00", T),
        ("2026-03-17T09:06:00.5", T + 0.5),
        ("2026-03-17T10:06:00+01:00", T),
        ("2026-03-17T10:06:00.5+01:00", T + 0.5),
        ("2026-03-17T04:06:00-0500", T),
        ("2026-03-17T09:06:00,25Z", T + 0.25),
        ("2026-03-17T09:06:00z", T),
        ("2026-03-17T09:06Z", T),  # minutes only: datetime fallback
        (T, T),
        (int(T), T),
        (T * 1000, T),  # epoch milliseconds
        (int(T * 1000) + 250, T + 0.25),
        (str(int(T)), T),
        (str(int(T * 1000)), T),
        ("1773738360.123", T + 0.123),  # nginx $msec
        (1773738360.123456, 1773738360.123456),  # Fluent Bit float @timestamp
        (int(T * 1e9), T),  # OTel nanoseconds
        ("17/Mar/2026:09:06:00 +0000", T),
        ("17/Mar/2026:02:06:00 -0700", T),
        ("[17/Mar/2026:09:06:00 +0000]", T),
        ("10/Oct/2000:13:55:36 -0700", 971211336.0),
    ],
)
def test_parses(value: object, expected: float) -> None:
    assert parse_timestamp(value) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "value",
    [
        "1970-01-01T00:00:00Z",
        "1979-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        0,
        -5,
        -1.0,
        math.nan,
        math.inf,
        -math.inf,
        10**30,
        "5000000000000000",
        "01/Jan/1970:00:00:00 +0000",
    ],
)
def test_absurd(value: object) -> None:
    with pytest.raises(DecodeError, match="^absurd timestamp"):
        parse_timestamp(value)


@pytest.mark.parametrize("value", [None, "", "-", "  "])
def test_missing(value: object) -> None:
    with pytest.raises(DecodeError, match="^missing timestamp$"):
        parse_timestamp(value)


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-13-17T09:06:00Z",
        "2026-03-32T09:06:00Z",
        "2026-03-17T25:06:00Z",
        "2026-03-17T09:06:00.abcZ",
        "2026-03-17T09:06:00+25:00",
        "17/Foo/2026:09:06:00 +0000",
        "17/Mar/2026:09:06 +0000",
        True,
        [1],
        {"a": 1},
    ],
)
def test_bad(value: object) -> None:
    with pytest.raises(DecodeError, match="^(bad|absurd|missing) timestamp"):
        parse_timestamp(value)


def test_cached_and_uncached_agree() -> None:
    p = TimestampParser()
    values = [f"2026-03-17T09:06:0{i}.{i}{i}Z" for i in range(10)]
    values += [f"2026-03-17T10:06:0{i}+01:00" for i in range(10)]
    first = [p.parse(v) for v in values]
    again = [p.parse(v) for v in values]  # now served from the memo
    fresh = [TimestampParser().parse(v) for v in values]
    assert first == again == fresh


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import detector.decoding.timestamps as mod

    monkeypatch.setattr(mod, "CACHE_LIMIT", 5)
    p = TimestampParser()
    for i in range(20):
        p.parse(f"{i + 1:02d}/Mar/2026:09:06:00 +0000")
        p.parse(f"2026-03-{i + 1:02d}T09:06:00Z")
    assert len(p._clf) <= 5 and len(p._iso) <= 5
