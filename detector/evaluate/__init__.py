"""Scoring incidents against labelled anomalies (``detector evaluate``)."""

from __future__ import annotations

from detector.evaluate.matching import (
           CollapsedIncident,
           Label,
           load_incidents,
           load_labels,
           matches,
)
from detector.evaluate.report import (
    EvaluationReport,
    Figures,
    ShapeFigures,
    evaluate,
    render_text,
)

__all__ = ["CollapsedIncident", "EvaluationReport", "Figures", "Label", "ShapeFigures", "evaluate",
           "load_incidents", "load_labels", "matches", "render_text"]
