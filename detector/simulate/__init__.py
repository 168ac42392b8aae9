"""Labelled, realistic API access-log traffic (``detector simulate``).

``simulate(out_dir)`` writes one access log per service (otel, nginx_json,
envoy, nested otel, plus a CLF copy of one service), ``deployments.jsonl``,
``labels.jsonl`` (one line per injected anomaly, ``params.shape`` naming its
variant) and ``manifest.json``. Runs of a day or more (``REAL_WORLD_HOURS``)
add the real-world shapes, a low-traffic service, an hourly batch job and
campaigns; weekends are quieter in any run that covers one.
"""

from __future__ import annotations

from detector.simulate.planner import MIN_LABELLED_HOURS, REAL_WORLD_HOURS, hours_problem
from detector.simulate.runner import DEFAULT_START, PROFILES, SimulationSummary, simulate

__all__ = [
    "DEFAULT_START",
    "MIN_LABELLED_HOURS",
    "PROFILES",
    "REAL_WORLD_HOURS",
    "SimulationSummary",
    "hours_problem",
    "simulate",
]
