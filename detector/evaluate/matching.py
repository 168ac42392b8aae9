"""Loading labels and incidents, collapsing incident states, the matching rule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

BEFORE_S = 120.0  # a label's span is widened by 2 min before ...
AFTER_S = 300.0  # ... and 5 min after, for detector windows and watermarks
_PLACEHOLDER = re.compile(r"\{[^}]*\}")
USAGE = "usage: detector evaluate LABELS INCIDENTS..."


class EvaluateInputError(ValueError):
    """A labels or incidents file that is not one (a wrong file, swapped arguments)."""


def _records(path: Path, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, JSON object) of each non-blank line; anything else is an error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvaluateInputError(f"cannot read {what} file {path}: {exc.strerror}") from None
    for no, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise EvaluateInputError(f"{path}:{no}: not JSON, so not the {what} file "
                                     f"({USAGE})") from None
        if not isinstance(obj, dict):
            raise EvaluateInputError(f"{path}:{no}: not a JSON object, so not the {what} file")
        yield no, obj


def _is_incident(obj: dict[str, Any]) -> bool:
    return "status" in obj and "detected_at" in obj


def _why(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or "record"
    return f"{where}: {err['msg']}"[:200]


class Label(BaseModel):
    """One injected anomaly (a line of labels.jsonl).

    >>> Label.model_validate({"id": "l1", "service": "s", "kind": "traffic_spike",
    ...     "start": "2026-03-17T09:00:00Z", "end": "2026-03-17T09:10:00Z"}).route is None
    True
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    service: str
    kind: str
    route: str | None = None
    method: str | None = None
    client: str | None = None
    start: datetime
    end: datetime
    deployment: str | None = None
    description: str = ""
    params: dict[str, Any] = {}

    @property
    def shape(self) -> str:
        """The variant of its kind (``params.shape``); "default" for labels without one.

        >>> Label.model_validate({"id": "l1", "service": "s", "kind": "traffic_spike",
        ...     "start": "2026-03-17T09:00:00Z", "end": "2026-03-17T09:10:00Z",
        ...     "params": {"shape": "ramped"}}).shape
        'ramped'
        """
        shape = self.params.get("shape")
        return shape if isinstance(shape, str) and shape else "default"


class CollapsedIncident(BaseModel):
    """An incident collapsed over its open/update/resolved records.

    >>> CollapsedIncident(id="i", kind="k", service="s",
    ...                   start=datetime(2026, 1, 1, tzinfo=UTC),
    ...                   end=datetime(2026, 1, 1, tzinfo=UTC)).suspect
    False
    """

    id: str
    kind: str  # not Kind: evaluation reads any incidents file and scores what it finds
    service: str
    route: str | None = None
    method: str | None = None
    client: str | None = None
    start: datetime
    end: datetime
    detected_at: datetime | None = None
    version: str | None = None  # deployment.version
    scoped_version: str | None = None  # the incident's own ``version`` (a canary's)
    suspect: bool = False  # deployment.suspect


def norm_route(route: str | None) -> str | None:
    """Every placeholder is the same placeholder; a trailing slash does not count.

    >>> norm_route("/v2/payments/{id}/refunds/") == norm_route("/v2/payments/{payment_id}/refunds")
    True
    """
    if route is None:
        return None
    r = _PLACEHOLDER.sub("{}", route)
    return r.rstrip("/") or "/"


def parse_time(v: Any) -> datetime | None:
    if v is None or v == "":
        return None
    if isinstance(v, int | float):
        return datetime.fromtimestamp(float(v), UTC)
    d = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def load_labels(path: Path) -> list[Label]:
    """The labels of ``labels.jsonl``; a file of something else is an error in one line."""
    out = []
    for no, obj in _records(path, "labels"):
        if _is_incident(obj):
            raise EvaluateInputError(f"{path} holds incidents, not labels: the labels file "
                                     f"comes first ({USAGE})")
        try:
            out.append(Label.model_validate(obj))
        except ValidationError as exc:
            raise EvaluateInputError(f"{path}:{no}: not a label ({_why(exc)}); labels come "
                                     "from `detector simulate`") from None
    if not out:
        raise EvaluateInputError(f"{path} holds no labels: nothing to score against")
    return out


def load_incidents(paths: list[Path]) -> list[CollapsedIncident]:
    """Collapse records by id: identity from the first (open) record, widest span."""
    by_id: dict[str, dict[str, Any]] = {}
    for path in paths:
        for no, rec in _records(path, "incidents"):
            _check_incident(path, no, rec)
            cur = by_id.get(rec["id"])
            if cur is None or (rec.get("status") == "open" and cur["_status"] != "open"):
                merged = dict(rec)
                merged["_status"] = rec.get("status")
                if cur is not None:  # an update seen before its open: keep the span seen so far
                    merged["_times"] = cur["_times"]
                    merged["_scoped"] = cur["_scoped"]
                else:
                    merged["_times"] = {"start": [], "end": [], "detected_at": []}
                    merged["_scoped"] = None
                by_id[rec["id"]] = cur = merged
            # An incident opened by a route-wide signal learns later that the change is
            # confined to one version (a canary): the version it was last given counts.
            if isinstance(rec.get("version"), str) and rec["version"]:
                cur["_scoped"] = rec["version"]
            for key in ("start", "end", "detected_at"):
                try:
                    t = parse_time(rec.get(key))
                except (ValueError, OverflowError, OSError):
                    raise EvaluateInputError(f"{path}:{no}: {key}: not a time: "
                                             f"{str(rec.get(key))[:40]!r}") from None
                if t is not None:
                    cur["_times"][key].append(t)
    out = []
    for rec in by_id.values():
        times = rec["_times"]
        start = min(times["start"] or times["detected_at"])
        end = max(times["end"] or [start, *times["detected_at"]])
        dep = rec.get("deployment") or {}
        try:
            out.append(CollapsedIncident(
                id=rec["id"], kind=rec["kind"], service=rec["service"], route=rec.get("route"),
                method=rec.get("method"), client=rec.get("client"), start=start,
                end=max(end, start),
                detected_at=min(times["detected_at"]) if times["detected_at"] else None,
                version=dep.get("version"), suspect=bool(dep.get("suspect", False)),
                scoped_version=rec["_scoped"]))
        except ValidationError as exc:
            raise EvaluateInputError(f"incident {rec['id'][:40]!r}: {_why(exc)}") from None
    return out


def _check_incident(path: Path, no: int, rec: dict[str, Any]) -> None:
    if not _is_incident(rec) and "start" in rec and "end" in rec:
        raise EvaluateInputError(f"{path} holds labels, not incidents: the labels file "
                                 f"comes first ({USAGE})")
    for key in ("id", "kind", "service"):
        if not isinstance(rec.get(key), str):
            raise EvaluateInputError(f"{path}:{no}: not an incident (no {key!r}); incidents "
                                     "come from `detector replay --sink jsonl:PATH`")
    if all(rec.get(k) in (None, "") for k in ("start", "detected_at")):
        raise EvaluateInputError(f"{path}:{no}: incident {rec['id'][:40]!r} has no start "
                                 "and no detected_at")
    if not isinstance(rec.get("deployment") or {}, dict):
        raise EvaluateInputError(f"{path}:{no}: deployment: not an object")


def matches(label: Label, inc: CollapsedIncident) -> bool:
    """Same service and kind, same route template or client, overlapping widened spans;
    a label confined to one version (``params.version``: a canary) needs that version."""
    if label.service != inc.service or label.kind != inc.kind:
        return False
    scoped = label.params.get("version")
    if isinstance(scoped, str) and scoped and inc.scoped_version != scoped:
        return False
    same_route = label.route is not None and norm_route(label.route) == norm_route(inc.route)
    same_client = label.client is not None and label.client == inc.client
    if not (same_route or same_client):
        return False
    lo = label.start.timestamp() - BEFORE_S
    hi = label.end.timestamp() + AFTER_S
    return inc.start.timestamp() <= hi and inc.end.timestamp() >= lo
