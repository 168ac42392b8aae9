"""Fewer points, the same picture: min/max per pixel column.

A line of a day of 60 s windows has 1,440 points, a week 10,080; a chart a few hundred
pixels wide cannot show more than two values per column (the lowest and the highest),
and dropping the others changes no pixel. Unlike averaging, this keeps every spike and
every drop to zero, which are what the report is for.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]


def _column(x: float, x0: float, x1: float, columns: int) -> int:
    if x1 <= x0:
        return 0
    return min(columns - 1, max(0, int((x - x0) / (x1 - x0) * columns)))


def minmax(xs: Sequence[float], ys: Sequence[float | None], x0: float, x1: float,
           columns: int) -> list[list[Point]]:
    """The line through (``xs``, ``ys``) as runs of points, at most two per column of
    ``columns`` between ``x0`` and ``x1``: each column's lowest and highest point in time
    order. A None value is a gap: the run ends there.

    >>> minmax([0, 1, 2, 3], [5, 1, 9, 4], 0, 4, 1)
    [[(1, 1), (2, 9)]]
    >>> minmax([0, 1, 2, 3], [5, None, 9, 4], 0, 4, 4)
    [[(0, 5)], [(2, 9), (3, 4)]]
    """
    if columns < 1:
        raise ValueError("columns must be at least 1")
    runs: list[list[Point]] = []
    run: list[Point] = []
    col = -1
    lo: Point | None = None
    hi: Point | None = None

    def flush() -> None:
        if lo is None or hi is None:
            return
        if lo == hi:
            run.append(lo)
        else:
            run.extend((lo, hi) if lo[0] <= hi[0] else (hi, lo))

    for x, y in zip(xs, ys, strict=True):
        if y is None:
            flush()
            lo = hi = None
            col = -1
            if run:
                runs.append(run)
                run = []
            continue
        c = _column(x, x0, x1, columns)
        if c != col:
            flush()
            col = c
            lo = hi = (x, y)
            continue
        assert lo is not None and hi is not None
        if y < lo[1]:
            lo = (x, y)
        if y > hi[1]:
            hi = (x, y)
    flush()
    if run:
        runs.append(run)
    return runs


def band_columns(xs: Sequence[float], bands: Sequence[tuple[float, float] | None],
                 x0: float, x1: float, columns: int) -> list[list[tuple[float, float, float]]]:
    """A band as runs of (x, low, high), one per column: its lowest low and highest high
    (the drawn band covers every window's), at the column's first x.

    >>> band_columns([0, 1, 2, 3], [(1, 2), (0, 3), None, (2, 4)], 0, 4, 2)
    [[(0, 0, 3)], [(3, 2, 4)]]
    """
    if columns < 1:
        raise ValueError("columns must be at least 1")
    runs: list[list[tuple[float, float, float]]] = []
    run: list[tuple[float, float, float]] = []
    col = -1
    for x, b in zip(xs, bands, strict=True):
        if b is None:
            if run:
                runs.append(run)
                run, col = [], -1
            continue
        c = _column(x, x0, x1, columns)
        if c != col or not run:
            run.append((x, b[0], b[1]))
            col = c
        else:
            px, plo, phi = run[-1]
            run[-1] = (px, min(plo, b[0]), max(phi, b[1]))
    if run:
        runs.append(run)
    return runs
