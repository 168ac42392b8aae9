"""Inline SVG charts: panels of lines over a baseline band, on an event-time axis.

Coordinates are whole pixels of the chart's viewBox (the page scales it), lines are
downsampled per column before they are written (:mod:`detector.report.downsample`), and
every text goes through :func:`esc`: labels carry route names and versions from the logs.
Colours and strokes are CSS classes of the page, not repeated per element.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import NamedTuple

from detector.report.downsample import band_columns, minmax

TICK_STEPS = (60, 300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
MAX_TICKS = 9


def esc(text: object) -> str:
    """Text for HTML or SVG, inside elements and quoted attributes alike.

    >>> esc('<script>"x"</script>')
    '&lt;script&gt;&quot;x&quot;&lt;/script&gt;'
    """
    return escape(str(text), quote=True)


def nice_ceiling(v: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at or above ``v`` (1 for nothing to show).

    >>> nice_ceiling(0.0), nice_ceiling(0.031), nice_ceiling(730)
    (1.0, 0.05, 1000.0)
    """
    if not v > 0 or not math.isfinite(v):
        return 1.0
    exp = math.floor(math.log10(v))
    for m in (1.0, 2.0, 5.0, 10.0):
        top = m * 10.0 ** exp
        if top >= v * (1 - 1e-9):
            return float(f"{top:.12g}")
    return 10.0 ** (exp + 1)  # pragma: no cover - the loop ends at 10


def time_ticks(t0: float, t1: float) -> list[tuple[float, str]]:
    """Round event times between ``t0`` and ``t1`` (at most ``MAX_TICKS``), labelled
    ``HH:MM`` (``MM-DD`` at midnight).

    >>> [label for _, label in time_ticks(0, 6 * 3600)]
    ['01-01', '01:00', '02:00', '03:00', '04:00', '05:00', '06:00']
    """
    span = max(t1 - t0, 1.0)
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
    first = math.ceil(t0 / step) * step
    out = []
    t = float(first)
    while t <= t1:
        d = datetime.fromtimestamp(t, UTC)
        out.append((t, d.strftime("%m-%d") if t % 86400 == 0 else d.strftime("%H:%M")))
        t += step
    return out


class Frame(NamedTuple):
    """Where a panel sits in its SVG and which times and values it spans."""

    t0: float
    t1: float
    left: int
    top: int
    width: int
    height: int
    ymax: float

    def x(self, t: float) -> int:
        span = self.t1 - self.t0
        return self.left + round((t - self.t0) / span * self.width) if span > 0 else self.left

    def y(self, v: float) -> int:
        v = min(max(v, 0.0), self.ymax)
        return self.top + self.height - round(v / self.ymax * self.height)


class Line(NamedTuple):
    """One line of a panel: values per window start, and its CSS class."""

    values: Sequence[float | None]
    css: str


LINE_PX = 3  # pixels per column of a line (its lowest and highest point each)
BAND_PX = 6  # pixels per column of a band (smooth: fewer suffice)


def _relative(points: Sequence[tuple[int, int]]) -> str:
    """``M`` to the first point, then relative ``l`` steps: a step of a few pixels
    writes in a few characters where absolute coordinates take twice as many."""
    x, y = points[0]
    out = [f"M{x} {y}"]
    if len(points) > 1:
        steps = []
        for nx, ny in points[1:]:
            steps.append(f"{nx - x} {ny - y}")
            x, y = nx, ny
        out.append("l" + " ".join(steps))
    return "".join(out)


def line_path(frame: Frame, xs: Sequence[float], ys: Sequence[float | None],
              px: int = LINE_PX) -> str:
    """The SVG path data of a line, downsampled to two points per ``px`` pixels.

    >>> f = Frame(0, 10, 0, 0, 10, 10, 10.0)
    >>> line_path(f, [0, 5, 10], [0, None, 10]), line_path(f, [0, 5, 10], [0, 5, 10])
    ('M0 10M10 0', 'M0 10l5 -5 5 -5')
    """
    out = []
    for run in minmax(xs, ys, frame.t0, frame.t1, max(1, frame.width // px)):
        out.append(_relative([(frame.x(x), frame.y(y)) for x, y in run]))
    return "".join(out)


def band_path(frame: Frame, xs: Sequence[float],
              bands: Sequence[tuple[float, float] | None], px: int = BAND_PX) -> str:
    """The SVG path data of a band: each run's highs left to right, lows back."""
    out = []
    columns = max(1, frame.width // px)
    for run in band_columns(xs, bands, frame.t0, frame.t1, columns):
        if len(run) == 1:  # a lone column: as wide as a column
            x, lo, hi = run[0]
            run = [run[0], (x + (frame.t1 - frame.t0) / columns, lo, hi)]
        edge = [(frame.x(x), frame.y(hi)) for x, _lo, hi in run]
        edge += [(frame.x(x), frame.y(lo)) for x, lo, _hi in reversed(run)]
        out.append(_relative(edge) + "Z")
    return "".join(out)


def axes(frame: Frame, title: str, fmt_top: str, ticks: bool) -> list[str]:
    """A panel's frame, title, top value and (``ticks``) time labels."""
    f = frame
    bottom = f.top + f.height
    parts = [f'<rect class="pane" x="{f.left}" y="{f.top}" width="{f.width}" '
             f'height="{f.height}"/>',
             f'<text class="ttl" x="{f.left + 4}" y="{f.top + 11}">{esc(title)}</text>',
             f'<text class="yl" x="{f.left - 4}" y="{f.top + 9}">{esc(fmt_top)}</text>',
             f'<text class="yl" x="{f.left - 4}" y="{bottom}">0</text>']
    for t, label in time_ticks(f.t0, f.t1):
        x = f.x(t)
        parts.append(f'<line class="grid" x1="{x}" x2="{x}" y1="{f.top}" y2="{bottom}"/>')
        if ticks:
            parts.append(f'<text class="xl" x="{x}" y="{bottom + 13}">{esc(label)}</text>')
    return parts


def panel(frame: Frame, xs: Sequence[float], lines: Sequence[Line],
          bands: Sequence[tuple[float, float] | None] | None) -> list[str]:
    """A band (behind) and lines of one panel, as SVG elements."""
    parts = []
    if bands is not None:
        d = band_path(frame, xs, bands)
        if d:
            parts.append(f'<path class="band" d="{d}"/>')
    for ln in lines:
        d = line_path(frame, xs, ln.values)
        if d:
            parts.append(f'<path class="ln {esc(ln.css)}" d="{d}"/>')
    return parts


def y_top(lines: Sequence[Line], minimum: float = 0.0) -> float:
    """A round top for the panel's value axis: every line fits under it."""
    peak = max((v for ln in lines for v in ln.values if v is not None), default=0.0)
    return nice_ceiling(max(peak, minimum))
