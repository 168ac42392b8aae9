"""The two charts of a report: a service's timeline and an incident's metric.

A service timeline stacks four panels on one time axis (request rate, 5xx share, 4xx
share, latency p50/p95), each over its baseline band (:mod:`detector.report.metrics`),
with the deployments as labelled vertical markers and the incidents as shaded spans
linking to their details. An incident chart shows the metric that raised it on its
route, around its span, with the detector's own baseline from the evidence dashed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detector.incidents.model import Incident
from detector.report.collect import Window
from detector.report.data import anchor
from detector.report.inputs import Deploy, Records, ts
from detector.report.metrics import (
    BAND_WINDOWS,
    ERR4_ALL,
    ERR5,
    KIND_METRIC,
    P50,
    P95,
    RATE,
    SHARES,
    Metric,
    band,
    dense,
    values,
)
from detector.report.svg import Frame, Line, axes, esc, panel, y_top

WIDTH = 960
LEFT, RIGHT, TOP = 64, 12, 44
LABEL_ROWS, LABEL_CHAR_PX = 3, 6  # rows of deployment labels; a label character's width
PANEL_H, PANEL_GAP = 78, 12
PANELS: tuple[tuple[str, tuple[Metric, ...], Metric, float], ...] = (
    # title, lines, the line with a band, smallest top of the value axis
    ("requests / min", (RATE,), RATE, 1.0),
    ("5xx share", (ERR5,), ERR5, 0.01),
    ("4xx share (all 4xx)", (ERR4_ALL,), ERR4_ALL, 0.01),
    ("latency p50 (thin), p95", (P50, P95), P95, 0.01),
)
INC_W, INC_H, INC_LEFT = 440, 84, 58
INC_BEFORE, INC_AFTER = 3600.0, 1800.0  # seconds of context around an incident


def _verdict(records: Records, d: Deploy) -> str | None:
    rec = records.get(d.service, d.version)
    return str(rec.get("verdict")) if isinstance(rec, dict) else None


def _deploy_marks(frame: Frame, deploys: Sequence[Deploy], records: Records,
                  bottom: int) -> list[str]:
    parts: list[str] = []
    free = [-1000] * LABEL_ROWS  # where each row of labels is free again
    for d in deploys:
        if not frame.t0 <= d.ts <= frame.t1:
            continue
        x = frame.x(d.ts)
        # The first row with room for the label, else the one freed first: close
        # deployments stack their versions instead of printing them over each other.
        row = next((r for r in range(LABEL_ROWS) if free[r] <= x),
                   min(range(LABEL_ROWS), key=free.__getitem__))
        free[row] = x + 4 + LABEL_CHAR_PX * len(d.version)
        verdict = _verdict(records, d)
        how = "deploy" if d.explicit else "first seen in traffic"
        tip = f"{d.service} {d.version} ({how}) at {_when(d.ts)}"
        if d.previous:
            tip += f", after {d.previous}"
        if verdict:
            tip += f"; release verdict: {verdict}"
        css = f"deploy v-{esc(verdict)}" if verdict else "deploy"
        parts.append(
            f'<g class="{css}" data-service="{esc(d.service)}" data-version="{esc(d.version)}">'
            f"<title>{esc(tip)}</title>"
            f'<line x1="{x}" x2="{x}" y1="{frame.top - 8 - 10 * row}" y2="{bottom}"/>'
            f'<text x="{x + 2}" y="{frame.top - 10 - 10 * row}">{esc(d.version)}</text></g>')
    return parts


def _when(t: float) -> str:
    from detector.incidents.timefmt import iso

    return iso(t)


def _spans(frame: Frame, incidents: Sequence[Incident], top: int, bottom: int,
           link: bool) -> list[str]:
    parts = []
    for inc in incidents:
        a, b = ts(inc.start), ts(inc.end)
        if b < frame.t0 or a > frame.t1:
            continue
        x0, x1 = frame.x(max(a, frame.t0)), frame.x(min(b, frame.t1))
        rect = (f'<rect class="span sev-{esc(inc.severity)}" x="{x0}" y="{top}" '
                f'width="{max(x1 - x0, 2)}" height="{bottom - top}"/>')
        tip = f"<title>{esc(inc.kind)} {esc(inc.severity)}: {esc(inc.summary)}</title>"
        if link:
            parts.append(f'<a class="incident" href="#{anchor(inc.id)}" '
                         f'data-id="{esc(inc.id)}">{tip}{rect}</a>')
        else:
            parts.append(rect)
    return parts


def service_chart(service: str, windows: Sequence[Window], size: float,
                  span: tuple[float, float], deploys: Sequence[Deploy],
                  incidents: Sequence[Incident], records: Records) -> str:
    """One service's timeline as an inline SVG element."""
    t0, t1 = span
    windows = dense(windows, size)
    xs = [w.start for w in windows]
    width = WIDTH - LEFT - RIGHT
    height = TOP + len(PANELS) * (PANEL_H + PANEL_GAP) + 8
    bottom = TOP + len(PANELS) * (PANEL_H + PANEL_GAP) - PANEL_GAP
    parts = [f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="{esc(service)} timeline">']
    first = Frame(t0, t1, LEFT, TOP, width, PANEL_H, 1.0)
    drawn: list[str] = []
    for k, (title, metrics, banded, minimum) in enumerate(PANELS):
        top = TOP + k * (PANEL_H + PANEL_GAP)
        lines = [Line(values(windows, m, size), f"m-{m.key}") for m in metrics]
        frame = Frame(t0, t1, LEFT, top, width, PANEL_H, y_top(lines, minimum))
        parts.extend(axes(frame, title, banded.fmt(frame.ymax), ticks=k == len(PANELS) - 1))
        vals = lines[[m.key for m in metrics].index(banded.key)].values
        drawn.extend(panel(frame, xs, lines, band(windows, vals, banded, size)))
    # Over the panes, under the lines: a span links to its incident wherever it is hit.
    parts.extend(_spans(first, incidents, TOP, bottom, link=True))
    parts.extend(drawn)
    parts.extend(_deploy_marks(first, deploys, records, bottom))
    parts.append("</svg>")
    return "".join(parts)


def _evidence_baseline(inc: Incident, drawn: bool) -> float | None:
    ev: dict[str, Any] = inc.evidence
    base = ev.get("baseline")
    if not drawn or inc.client is not None or isinstance(base, bool):
        return None
    return float(base) if isinstance(base, int | float) else None


def incident_chart(inc: Incident, windows: Sequence[Window], size: float,
                   deploys: Sequence[Deploy], scope: str) -> str:
    """The metric that raised ``inc`` around its span (``scope`` says whose series:
    the route's or the service's), its band and the detector's baseline."""
    metric, has_baseline = KIND_METRIC.get(inc.kind, (RATE, False))
    windows = dense(windows, size)
    a, b = ts(inc.start), ts(inc.end)
    lo, hi = a - INC_BEFORE, b + INC_AFTER
    i0 = next((i for i, w in enumerate(windows) if w.start >= lo), len(windows))
    i1 = next((i for i, w in enumerate(windows) if w.start > hi), len(windows))
    past = max(0, i0 - BAND_WINDOWS)
    ctx = windows[past:i1]
    vals = values(ctx, metric, size)
    bands = band(ctx, vals, metric, size)[i0 - past:]
    shown, xs = vals[i0 - past:], [w.start for w in windows[i0:i1]]
    base = _evidence_baseline(inc, has_baseline)
    line = Line(shown, f"m-{metric.key}")
    minimum = 0.01 if metric in SHARES or metric in (P50, P95) else 1.0
    ymax = y_top([line], max(minimum, (base or 0.0) * 1.2))
    t0 = xs[0] if xs else lo
    t1 = max(xs[-1] + size, b) if xs else hi
    frame = Frame(min(t0, a), t1, INC_LEFT, 8, INC_W - INC_LEFT - 8, INC_H - 26, ymax)
    bottom = frame.top + frame.height
    parts = [f'<svg class="incchart" viewBox="0 0 {INC_W} {INC_H}" role="img" '
             f'aria-label="{esc(metric.label)} of {esc(scope)}">']
    parts.extend(axes(frame, f"{metric.label}, {scope}", metric.fmt(ymax), ticks=True))
    parts.extend(_spans(frame, [inc], frame.top, bottom, link=False))
    parts.extend(panel(frame, xs, [line], bands))
    if base is not None:
        y = frame.y(base)
        parts.append(f'<line class="detbase" x1="{frame.left}" x2="{frame.left + frame.width}" '
                     f'y1="{y}" y2="{y}"><title>detector baseline {esc(metric.fmt(base))}'
                     f"</title></line>")
    for d in deploys:
        if frame.t0 <= d.ts <= frame.t1:
            x = frame.x(d.ts)
            parts.append(f'<line class="depl" x1="{x}" x2="{x}" y1="{frame.top}" '
                         f'y2="{bottom}"><title>{esc(d.version)}</title></line>')
    parts.append("</svg>")
    return "".join(parts)
