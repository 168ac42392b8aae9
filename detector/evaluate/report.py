"""``evaluate``: recall, precision, false incidents per service-day, attribution, delay."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import BaseModel

from detector.evaluate.matching import (
    CollapsedIncident,
    Label,
    load_incidents,
    load_labels,
    matches,
)


class Figures(BaseModel):
    """Scores over one set of labels and incidents (all kinds, or one kind).

    >>> Figures().recall is None
    True
    """

    labels: int = 0
    incidents: int = 0
    matched_labels: int = 0
    matched_incidents: int = 0
    recall: float | None = None
    precision: float | None = None
    false_incidents: int = 0
    false_per_service_day: float | None = None
    attributable: int = 0  # matched labels caused by a deploy
    attributed: int = 0  # ... whose incident names that version as suspect
    attribution_accuracy: float | None = None
    wrong_suspect: int = 0  # matched labels without a deploy, incident suspects one
    delay_median_s: float | None = None
    delay_p90_s: float | None = None


class ShapeFigures(BaseModel):
    """Recall of one shape of a kind: incidents carry no shape, so no precision here.

    >>> ShapeFigures(labels=4, matched_labels=3, recall=0.75).recall
    0.75
    """

    labels: int = 0
    matched_labels: int = 0
    recall: float | None = None
    delay_median_s: float | None = None


class LabelRef(BaseModel):
    id: str
    kind: str
    service: str
    route: str | None
    client: str | None
    start: str
    shape: str = "default"


class IncidentRef(BaseModel):
    id: str
    kind: str
    service: str
    route: str | None
    client: str | None
    start: str


class EvaluationReport(BaseModel):
    """The whole evaluation; ``model_dump()`` gives its JSON form.

    >>> EvaluationReport(overall=Figures(), per_kind={}, missed=[], unmatched=[],
    ...                  services=1, days=1.0).overall.labels
    0
    """

    overall: Figures
    per_kind: dict[str, Figures]
    # kind -> shape (labels' params.shape) -> recall; "default" for labels without one
    per_shape: dict[str, dict[str, ShapeFigures]] = {}
    missed: list[LabelRef]
    unmatched: list[IncidentRef]
    services: int
    days: float


def evaluate(labels: Path, incidents: list[Path], *,
             kinds: set[str] | None = None) -> EvaluationReport:
    """Scores incident files against a labels file (see CONTRACTS §4)."""
    labs = load_labels(labels)
    incs = load_incidents(incidents)
    if kinds is not None:
        labs = [x for x in labs if x.kind in kinds]
        incs = [x for x in incs if x.kind in kinds]
    services, days = _exposure(labels.parent / "manifest.json", labs, incs)
    service_days = services * days
    # One pass of the matching rule; everything else is counting.
    pairs = {(li, ii) for li, lab in enumerate(labs) for ii, inc in enumerate(incs)
             if matches(lab, inc)}
    overall = _figures(labs, incs, pairs, service_days)
    per_kind = {}
    for kind in sorted({x.kind for x in labs} | {x.kind for x in incs}):
        li = [i for i, x in enumerate(labs) if x.kind == kind]
        ii = [i for i, x in enumerate(incs) if x.kind == kind]
        sub = {(li.index(a), ii.index(b)) for a, b in pairs if a in li and b in ii}
        per_kind[kind] = _figures([labs[i] for i in li], [incs[i] for i in ii], sub, service_days)
    hit_labels = {a for a, _ in pairs}
    hit_incs = {b for _, b in pairs}
    return EvaluationReport(
        overall=overall, per_kind=per_kind, per_shape=_per_shape(labs, incs, pairs),
        missed=[LabelRef(id=x.id, kind=x.kind, service=x.service, route=x.route,
                         client=x.client, start=_iso(x.start.timestamp()), shape=x.shape)
                for i, x in enumerate(labs) if i not in hit_labels],
        unmatched=[IncidentRef(id=x.id, kind=x.kind, service=x.service, route=x.route,
                               client=x.client, start=_iso(x.start.timestamp()))
                   for i, x in sorted(enumerate(incs), key=lambda p: p[1].start)
                   if i not in hit_incs],
        services=services, days=round(days, 6))


def _figures(labs: list[Label], incs: list[CollapsedIncident],
             pairs: set[tuple[int, int]], service_days: float) -> Figures:
    hit_labels = {a for a, _ in pairs}
    hit_incs = {b for _, b in pairs}
    false = len(incs) - len(hit_incs)
    f = Figures(labels=len(labs), incidents=len(incs), matched_labels=len(hit_labels),
                matched_incidents=len(hit_incs), false_incidents=false,
                recall=_ratio(len(hit_labels), len(labs)),
                precision=_ratio(len(hit_incs), len(incs)),
                false_per_service_day=round(false / service_days, 4) if service_days else None)
    delays = []
    for li in sorted(hit_labels):
        lab = labs[li]
        # The first incident raised is the one an on-call engineer would see.
        candidates = [incs[b] for a, b in pairs if a == li]
        first = min(candidates, key=lambda x: (x.detected_at or x.start, x.id))
        if lab.deployment is not None:
            f.attributable += 1
            f.attributed += int(first.version == lab.deployment and first.suspect)
        elif first.suspect:
            f.wrong_suspect += 1
        if first.detected_at is not None:
            delays.append((first.detected_at - lab.start).total_seconds())
    f.attribution_accuracy = _ratio(f.attributed, f.attributable)
    if delays:
        f.delay_median_s = round(_quantile(delays, 0.5), 3)
        f.delay_p90_s = round(_quantile(delays, 0.9), 3)
    return f


def _per_shape(labs: list[Label], incs: list[CollapsedIncident],
               pairs: set[tuple[int, int]]) -> dict[str, dict[str, ShapeFigures]]:
    """Recall and delay per (kind, shape), from the pairs the overall figures used."""
    first: dict[int, float] = {}
    for a, b in pairs:
        at = incs[b].detected_at or incs[b].start
        delay = (at - labs[a].start).total_seconds()
        first[a] = min(first.get(a, delay), delay)
    out: dict[str, dict[str, ShapeFigures]] = {}
    for kind in sorted({x.kind for x in labs}):
        out[kind] = {}
        for shape in sorted({x.shape for x in labs if x.kind == kind}):
            mine = [i for i, x in enumerate(labs) if x.kind == kind and x.shape == shape]
            delays = [first[i] for i in mine if i in first]
            out[kind][shape] = ShapeFigures(
                labels=len(mine), matched_labels=len(delays),
                recall=_ratio(len(delays), len(mine)),
                delay_median_s=round(_quantile(delays, 0.5), 3) if delays else None)
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _quantile(xs: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _exposure(manifest: Path, labs: list[Label],
              incs: list[CollapsedIncident]) -> tuple[int, float]:
    """(services, days) from the simulator's manifest, else from what the files show."""
    if manifest.exists():
        m = orjson.loads(manifest.read_bytes())
        return len(m["services"]), float(m["hours"]) / 24.0
    services = {x.service for x in labs} | {x.service for x in incs}
    times = [t.timestamp() for x in labs for t in (x.start, x.end)]
    times += [t.timestamp() for y in incs for t in (y.start, y.end)]
    span = (max(times) - min(times)) if times else 0.0
    return max(len(services), 1), max(span, 3600.0) / 86400.0


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_text(report: EvaluationReport) -> str:
    """A compact table: one row per kind and the overall row, then what to debug."""
    head = (f"{'kind':<20} {'labels':>6} {'incid':>6} {'recall':>7} {'prec':>6} "
            f"{'false/svc-day':>13} {'attrib':>7} {'wrong':>5} {'delay p50':>9} {'p90':>7}")
    lines = [head, "-" * len(head)]
    rows = [*report.per_kind.items(), ("overall", report.overall)]
    for kind, f in rows:
        lines.append(
            f"{kind:<20} {f.labels:>6} {f.incidents:>6} {_pct(f.recall):>7} "
            f"{_pct(f.precision):>6} {_num(f.false_per_service_day):>13} "
            f"{_pct(f.attribution_accuracy):>7} {f.wrong_suspect:>5} "
            f"{_secs(f.delay_median_s):>9} {_secs(f.delay_p90_s):>7}")
    lines.append(f"({report.services} services x {report.days:.3f} days)")
    if any(set(shapes) != {"default"} for shapes in report.per_shape.values()):
        lines += ["", f"{'kind':<20} {'shape':<12} {'labels':>6} {'found':>6} {'recall':>7} "
                      f"{'delay p50':>9}"]
        lines += [f"{kind:<20} {shape:<12} {f.labels:>6} {f.matched_labels:>6} "
                  f"{_pct(f.recall):>7} {_secs(f.delay_median_s):>9}"
                  for kind, shapes in report.per_shape.items() for shape, f in shapes.items()]
    if report.missed:
        lines.append("missed labels:")
        lines += [f"  {x.id} {x.kind} {x.service} {x.route or '-'} {x.client or ''} {x.start}"
                  + ("" if x.shape == "default" else f" ({x.shape})")
                  for x in report.missed]
    if report.unmatched:
        lines.append("unmatched incidents:")
        lines += [f"  {x.id} {x.kind} {x.service} {x.route or '-'} {x.client or ''} {x.start}"
                  for x in report.unmatched]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}s"
