"""Scoring incidents against labelled anomalies (``detector evaluate``)."""

from __future__ import annotations

from detector.evaluate.matching import (
           CollapsedIncident,
           Label,
           load_incidents,
           load_labels,
           matches,
)
from detector.evaluate.report import EvaluationReport, Figures, evaluate, render_text

__all__ = ["CollapsedIncident", "EvaluationReport", "Figures", "Label", "evaluate",
           "load_incidents", "load_labels", "matches", "render_text"]
