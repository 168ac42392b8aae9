"""Labelled, realistic API access-log traffic (``detector simulate``).

``simulate(out_dir)`` writes one access log per service (otel, nginx_json,
envoy, nested otel, plus a CLF copy of one service), ``deployments.jsonl``,
``labels.jsonl`` (one line per injected anomaly) and ``manifest.json``.
"""

from __future__ import annotations

from detector.simulate.planner import MIN_LABELLED_HOURS, hours_problem
from detector.simulate.runner import DEFAULT_START, PROFILES, SimulationSummary, simulate

__all__ = [
    "DEFAULT_START",
    "MIN_LABELLED_HOURS",
    "PROFILES",
    "SimulationSummary",
    "hours_problem",
    "simulate",
]
