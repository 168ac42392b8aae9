"""``detector scan``: per-request verdicts as JSON lines (CONTRACTS §4).

Each input is read in file order (``line`` is 1-based per input file), in
chunks, so the batch model scores a few thousand payload requests per call.
Bad input lines are counted in the summary, never raised.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson
from pydantic import BaseModel, ConfigDict

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.findings import ATTACK, Finding
from detector.analysis.request_model import MODEL_NAME
from detector.errors import UsageError
from detector.events import AccessEvent, BadRecord
from detector.gc_tuning import throughput_gc
from detector.jobs.train import check_format
from detector.models.registry import DEFAULT_DIR, RegistryError
from detector.routes.templater import RouteTemplater
from detector.sources.files import FileSource

__all__ = ["CHUNK", "ScanSummary", "scan"]

CHUNK = 4096


class ScanSummary(BaseModel):
    """Counts of one scan."""

    model_config = ConfigDict(frozen=True)

    requests: int
    flagged: int
    by_kind: dict[str, int]
    by_attack_type: dict[str, int]
    bad_records: int
    bad_reasons: dict[str, int]
    model_version: str | None  # None: signatures and online profiles only
    problems: list[str]
    elapsed_s: float

    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class _Writer:
    def __init__(self, output: IO[bytes], analyzer: RequestAnalyzer, everything: bool) -> None:
        self.output = output
        self.everything = everything
        self.to_verdict = analyzer.to_verdict
        self.threshold = analyzer.threshold
        self.flagged = 0
        self.kinds: Counter[str] = Counter()
        self.attacks: Counter[str] = Counter()

    def write(
        self,
        file: str,
        events: list[AccessEvent],
        routes: list[str],
        findings: list[Finding | None],
    ) -> None:
        out: list[bytes] = []
        dumps = orjson.dumps
        everything = self.everything
        threshold = self.threshold
        for ev, route, f in zip(events, routes, findings, strict=True):
            if not everything and (f is None or (f.kind != ATTACK and f.score < threshold)):
                continue
            v = self.to_verdict(f)
            if v["flagged"]:
                self.flagged += 1
                self.kinds[v["kind"]] += 1
                if v["attack_type"]:
                    self.attacks[v["attack_type"]] += 1
            rec = {
                "file": file,
                "line": ev.offset,
                "ts": _iso(ev.ts),
                "service": ev.service,
                "method": ev.method,
                "route": route,
                "client": ev.client,
                **v,
            }
            out.append(dumps(rec))
        if out:
            out.append(b"")
            self.output.write(b"\n".join(out))


def scan_analyzer(models: Path | None) -> RequestAnalyzer:
    """The analyzer ``detector scan`` judges with: ``models`` or the default registry
    (signatures and online profiles when it holds no model); a registry named and
    missing, or refused, is the user's to fix (:class:`UsageError`)."""
    if models is None:
        models = DEFAULT_DIR  # the default registry, if there is one here
    elif not models.is_dir():  # a registry asked for and missing is a mistake, not "no model"
        raise UsageError(f"--models {models}: no such directory")
    try:
        return RequestAnalyzer.from_registry(models)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None


def scan(
    files: list[str],
    *,
    models_dir: str | Path = DEFAULT_DIR,
    fmt: str = "auto",
    service: str = "default",
    all_requests: bool = False,
    output: IO[bytes],
    name: str = MODEL_NAME,
    paranoia: int = 2,
    threshold: float = 0.5,
    analyzer: RequestAnalyzer | None = None,
) -> ScanSummary:
    """Scan ``files`` ('-' = stdin); one JSON line per flagged request (every one with
    ``all_requests``) goes to ``output``."""
    began = time.perf_counter()
    check_format(fmt)
    if analyzer is None:
        analyzer = RequestAnalyzer.from_registry(
            models_dir, name=name, paranoia=paranoia, threshold=threshold
        )
    templater = analyzer.templater or RouteTemplater()
    # A trained templater's routes are the ones the profiles know: scanned traffic must not
    # reshape them (a burst of probes under /app/ would collapse /app/login to /app/{id}).
    templater.frozen = analyzer.templater is not None
    template = templater.template
    writer = _Writer(output, analyzer, all_requests)
    requests = 0
    bad = 0
    reasons: Counter[str] = Counter()
    problems: list[str] = []
    judge = analyzer.findings
    # Millions of short-lived events and few cycles, with a large long-lived model: the
    # collector as replay tunes it (the default one took a quarter of a scan's time).
    with throughput_gc():
        for path in files or ["-"]:
            source = FileSource(path, fmt=fmt, service=service)
            label = "<stdin>" if path == "-" else path
            events: list[AccessEvent] = []
            routes: list[str] = []
            try:
                for it in source:
                    cls = it.__class__
                    if cls is AccessEvent:
                        ev: AccessEvent = it  # type: ignore[assignment]
                        events.append(ev)
                        routes.append(template(ev.service, ev.path))
                        if len(events) >= CHUNK:
                            writer.write(label, events, routes, judge(events, routes))
                            requests += len(events)
                            events, routes = [], []
                    elif cls is BadRecord:
                        bad += 1
                        reasons[it.reason.split(" (", 1)[0][:80]] += 1  # type: ignore[union-attr]
                if events:
                    writer.write(label, events, routes, judge(events, routes))
                    requests += len(events)
            finally:
                source.close()
            if source.error:
                problems.append(source.error)
    output.flush()
    return ScanSummary(
        requests=requests, flagged=writer.flagged, by_kind=dict(writer.kinds),
        by_attack_type=dict(writer.attacks), bad_records=bad, bad_reasons=dict(reasons),
        model_version=analyzer.version, problems=problems,
        elapsed_s=round(time.perf_counter() - began, 3),
    )  # fmt: skip
