"""Downsampling keeps the picture: bounded points, every extreme, time order, gaps."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.report.downsample import band_columns, minmax


def _points(runs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    return [p for run in runs for p in run]


def test_a_day_of_windows_fits_two_points_per_column() -> None:
    rng = random.Random(61001)
    xs = [60.0 * i for i in range(1440)]
    ys: list[float | None] = [rng.gauss(100, 10) for _ in xs]
    ys[700] = 900.0  # one spike
    ys[900] = 0.0  # one drop to nothing
    runs = minmax(xs, ys, xs[0], xs[-1] + 60, 200)
    pts = _points(runs)
    assert len(runs) == 1 and len(pts) <= 400
    assert (xs[700], 900.0) in pts and (xs[900], 0.0) in pts
    assert [x for x, _ in pts] == sorted({x for x, _ in pts})  # time order, no repeats


def test_a_gap_splits_the_line() -> None:
    runs = minmax([0, 1, 2, 3, 4, 5], [1, 2, None, None, 3, 4], 0, 6, 6)
    assert runs == [[(0, 1), (1, 2)], [(4, 3), (5, 4)]]


def test_no_columns_is_refused() -> None:
    with pytest.raises(ValueError):
        minmax([0], [1], 0, 1, 0)
    with pytest.raises(ValueError):
        band_columns([0], [(0, 1)], 0, 1, 0)


@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=400),
       st.integers(1, 50))
def test_bounds_and_extremes_hold_for_any_series(ys: list[float | None], columns: int) -> None:
    xs = [float(i) for i in range(len(ys))]
    runs = minmax(xs, ys, 0.0, float(len(ys)), columns)
    pts = _points(runs)
    gaps = sum(1 for y in ys if y is None)
    assert len(pts) <= 2 * (columns + gaps)
    present = [y for y in ys if y is not None]
    if present:
        got = [y for _, y in pts]
        assert min(got) == min(present) and max(got) == max(present)
    assert all(a[0] < b[0] for run in runs for a, b in zip(run, run[1:], strict=False))
    assert all(ys[int(x)] == y for x, y in pts)  # only true points, never invented ones


@given(st.lists(st.one_of(st.none(), st.tuples(st.floats(0, 100), st.floats(0, 100))),
                min_size=1, max_size=300), st.integers(1, 40))
def test_band_columns_cover_every_window(bands: list[tuple[float, float] | None],
                                         columns: int) -> None:
    bands = [None if b is None else (min(b), max(b)) for b in bands]
    xs = [float(i) for i in range(len(bands))]
    runs = band_columns(xs, bands, 0.0, float(len(bands)), columns)
    gaps = sum(1 for b in bands if b is None)
    assert sum(len(r) for r in runs) <= columns + gaps
    cols = [(x, lo, hi) for run in runs for x, lo, hi in run]
    for x, b in zip(xs, bands, strict=True):
        if b is None:
            continue
        owner = max(c for c in cols if c[0] <= x)  # the column drawn where x falls
        assert owner[1] <= b[0] and owner[2] >= b[1]
