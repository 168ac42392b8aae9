"""``detector train``: learn route templates, request profiles and the batch model from history.

Two passes over the events held in memory: the first teaches the route
templater (a learned collapse may change templates of paths seen earlier), the
second templates every request with the final templates, learns the profiles,
and builds feature rows for requests with a query or body. Requests that hit a
signature are left out of both (history is *mostly* normal; known attacks in it
must not become normal). The model is fitted, evaluated on its training data,
and published with its card, the profiles and the templater state as a new
registry version that becomes ``current``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.batch_model import RequestForest
from detector.analysis.features import RequestRow, feature_matrix, schema
from detector.analysis.params import parse_request
from detector.analysis.profiles import ProfileStore, body_kind
from detector.analysis.request_model import MODEL_NAME, PROFILES_FILE, ROUTES_FILE
from detector.decoding import FORMATS
from detector.decoding.stage import Item
from detector.events import AccessEvent, BadRecord
from detector.models.registry import ModelRegistry, model_key
from detector.routes.templater import RouteTemplater
from detector.sources.files import FileSource, SourceError, merged

__all__ = ["MIN_MODEL_ROWS", "TrainReport", "train"]

MIN_MODEL_ROWS = 200  # fewer payload requests than this: publish profiles without a model
_CHUNK = 4096


class TrainReport(BaseModel):
    """What ``train`` learned and published."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    out_dir: str
    events: int
    bad_records: int
    payload_requests: int  # requests with a query or body
    excluded_signature_hits: int
    routes: int  # (service, method, route) profiles
    model_rows: int  # rows the model was fitted on (0: no model)
    first_event: float | None
    last_event: float | None
    evaluation: dict[str, Any]
    problems: list[str]
    elapsed_s: float
    signed: bool = False  # card signed with DETECTOR_MODEL_KEY(_FILE)


def check_format(fmt: str) -> None:
    if fmt != "auto" and fmt not in FORMATS:
        raise SourceError(f"unknown format {fmt!r} (one of auto, {', '.join(FORMATS)})")


def _read(
    items: Iterable[Item],
    templater: RouteTemplater,
) -> tuple[list[AccessEvent], int, float | None, float | None]:
    events: list[AccessEvent] = []
    bad = 0
    first: float | None = None
    last: float | None = None
    template = templater.template
    for it in items:
        if it.__class__ is AccessEvent:
            ev: AccessEvent = it
            template(ev.service, ev.path)
            events.append(ev)
            ts = ev.ts
            first = ts if first is None or ts < first else first
            last = ts if last is None or ts > last else last
        elif it.__class__ is BadRecord:
            bad += 1
    return events, bad, first, last


def _quantiles(scores: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, float]:
    if scores.size == 0:
        return {}
    qs = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p99.9": 0.999, "max": 1.0}
    return {k: round(float(np.quantile(scores, q)), 4) for k, q in qs.items()}


def train(
    files: list[str],
    out_dir: Path,
    *,
    fmt: str = "auto",
    service: str = "default",
    name: str = MODEL_NAME,
    contamination: float | str = "auto",
    n_estimators: int = 100,
    paranoia: int = 2,
    threshold: float = 0.5,
    min_history: int = 50,
    random_state: int = 0,
) -> TrainReport:
    """Train on ``files`` ('-' = stdin) and publish a new version into ``out_dir``."""
    began = time.perf_counter()
    check_format(fmt)
    # A configured but unusable signing key fails now, not after the whole training.
    signed = model_key() is not None
    sources = [FileSource(f, fmt=fmt, service=service) for f in (files or ["-"])]
    templater = RouteTemplater()
    try:
        events, bad, first, last = _read(merged(sources), templater)
    finally:
        for s in sources:
            s.close()
    problems = [s.error for s in sources if s.error]
    if not events:
        raise SourceError("no access events to train on" + (f" ({bad} bad records)" if bad else ""))

    profiles = ProfileStore(min_history=min_history)
    analyzer = RequestAnalyzer(
        profiles=profiles, templater=templater, paranoia=paranoia, threshold=threshold
    )
    template = templater.template
    resources = profiles.resources
    rows: list[RequestRow] = []
    excluded = 0
    # Prequential: each request is assessed before its route learns it, so the model's
    # profile features and each route's calibration see what scoring unseen traffic
    # gives, not a profile judging what it already holds.
    for ev in events:
        route = template(ev.service, ev.path)
        kind = body_kind(ev.body)
        if ev.query or ev.body:
            if analyzer.signature_hits(ev):
                excluded += 1
                continue
            params = parse_request(ev.query, ev.body)
            row = analyzer.profile_features(ev, route, params)
            rows.append(row)
            profiles.calibrate(ev.service, ev.method, route, row.profile_raw)
            profiles.learn(ev.service, ev.method, route, params, kind)
        else:
            profiles.learn(ev.service, ev.method, route, [], kind)
        resources.learn(ev.service, ev.method, route, ev.path)
        if ev.headers is not None:
            profiles.headers.learn(ev.service, ev.headers)
    payload = sum(1 for ev in events if ev.query or ev.body)
    evaluation: dict[str, Any] = {
        "threshold": threshold,
        "payload_requests": payload,
        "excluded_signature_hits": excluded,
    }
    prof = np.array([r.profile[0] for r in rows], dtype=np.float64)
    evaluation["profile_flagged_share"] = (
        round(float((prof >= threshold).mean()), 6) if rows else 0.0
    )
    model: RequestForest | None = None
    if len(rows) >= MIN_MODEL_ROWS:
        X = np.vstack([feature_matrix(rows[i : i + _CHUNK]) for i in range(0, len(rows), _CHUNK)])
        model = RequestForest(
            n_estimators=n_estimators, contamination=contamination, random_state=random_state
        ).fit(X)
        scores = model.score_samples(X)
        combined = 1.0 - (1.0 - prof) * (1.0 - scores)
        evaluation.update({
            "model_score_quantiles": _quantiles(scores),
            "model_flagged_share": round(float((scores >= model.threshold_).mean()), 6),
            "combined_flagged_share": round(float((combined >= threshold).mean()), 6),
            "contamination": model.contamination_,
        })  # fmt: skip
    else:
        evaluation["model"] = f"not trained: {len(rows)} payload requests (< {MIN_MODEL_ROWS})"

    registry = ModelRegistry(out_dir)
    version = registry.publish(
        name, model,
        artifacts={PROFILES_FILE: profiles.save_state(), ROUTES_FILE: templater.save_state()},
        events=len(events), first_event=first, last_event=last,
        feature_schema=schema(), evaluation=evaluation,
        extra={"training": {"files": [s.name for s in sources], "bad_records": bad,
                            "routes": len(profiles), "model_rows": len(rows) if model else 0,
                            "paranoia": paranoia},
               "calibration": profiles.calibration_card()},
    )  # fmt: skip
    return TrainReport(
        name=name, version=version, out_dir=str(out_dir), events=len(events), bad_records=bad,
        payload_requests=payload, excluded_signature_hits=excluded, routes=len(profiles),
        model_rows=len(rows) if model else 0, first_event=first, last_event=last,
        evaluation=evaluation, problems=problems,
        elapsed_s=round(time.perf_counter() - began, 3), signed=signed,
    )  # fmt: skip
