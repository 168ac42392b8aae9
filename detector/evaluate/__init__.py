"""Scoring incidents against labelled anomalies (``detector evaluate``)."""

from __future__ import annotations

from detector.evaluate.matching import Incident, Label, load_incidents, load_labels, matches
from detector.evaluate.report import EvaluationReport, Figures, evaluate, render_text

__all__ = ["EvaluationReport", "Figures", "Incident", "Label", "evaluate", "load_incidents",
           "load_labels", "matches", "render_text"]
