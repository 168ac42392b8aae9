"""The end of ``detector demo``: each anomaly the simulation injected next to what was found.

A list of incidents alone does not tell a newcomer whether the detector did
well; the labels the simulation wrote do. Matching is the evaluation's own
(:func:`detector.evaluate.matching.matches`: service, kind, route or client,
overlapping spans), so the demo and ``detector evaluate`` never disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from detector.evaluate.matching import CollapsedIncident, Label, matches


def _hhmm(label: Label) -> str:
    return f"{label.start:%H:%M}-{label.end:%H:%M}"


def _where(label: Label) -> str:
    where = " ".join(p for p in (label.method, label.route) if p)
    if label.client and not label.route:
        where = f"client {label.client}"
    if label.deployment:
        where += f" (deploy {label.deployment})"
    return where or "-"


def _found(label: Label, inc: CollapsedIncident) -> str:
    text = f"found {inc.id}"
    if inc.detected_at is not None:
        delay = (inc.detected_at - label.start).total_seconds() / 60
        text += f", detected {inc.detected_at:%H:%M} ({delay:+.0f} min)"
    if label.deployment and inc.suspect and inc.version == label.deployment:
        text += f", blamed on {inc.version}"
    return text


def injected_vs_found(labels: Sequence[Label], incidents: Sequence[CollapsedIncident]) -> list[str]:
    """Lines for the terminal: one per injected anomaly (found by which incident, or
    missed), then how many incidents matched no injected anomaly.

    >>> from datetime import datetime, UTC
    >>> t = lambda m: datetime(2026, 3, 20, 1, m, tzinfo=UTC)
    >>> lab = Label(id="l1", service="pay", kind="error_surge", route="/r", method="POST",
    ...             start=t(10), end=t(20))
    >>> inc = CollapsedIncident(id="inc-1", kind="error_surge", service="pay", route="/r",
    ...                         start=t(11), end=t(19), detected_at=t(12))
    >>> for line in injected_vs_found([lab], [inc]): print(line)
    injected anomalies and what the service found (1 of 1 found):
      01:10-01:20  pay  error_surge  POST /r  found inc-1, detected 01:12 (+2 min)
    """
    rows: list[tuple[str, str, str, str, str]] = []
    used: set[str] = set()
    found = 0
    for lab in sorted(labels, key=lambda x: (x.start, x.service, x.kind)):
        hits = sorted((i for i in incidents if matches(lab, i)),
                      key=lambda i: i.detected_at or i.start)
        if hits:
            found += 1
            used.update(i.id for i in hits)
        rows.append((_hhmm(lab), lab.service, lab.kind, _where(lab),
                     _found(lab, hits[0]) if hits else "MISSED"))
    widths = [max((len(r[c]) for r in rows), default=0) for c in range(4)]
    lines = [f"injected anomalies and what the service found ({found} of {len(rows)} found):"]
    lines += ["  " + "  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4]
              for r in rows]
    extra = Counter(i.kind for i in incidents if i.id not in used)
    if extra:
        lines.append(f"  not injected: {sum(extra.values())} other incident(s) ("
                     + ", ".join(f"{k} {n}" for k, n in sorted(extra.items())) + ")")
    return lines
