"""``detector report``: incidents, logs and release records into one HTML page.

The logs go through the same pipeline as a replay (so the series, routes and
deployments are the replay's), observed by a
:class:`~detector.report.collect.ReportCollector`; its input is watched by a
:class:`~detector.report.collect.ClientTally`. Incidents come from a store or JSON
lines when given, else from the replay itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.events import BadRecord
from detector.incidents.model import Incident
from detector.jobs.replay import feed_pipeline, load_deployments
from detector.pipeline import Pipeline
from detector.report.collect import ClientTally, ReportCollector
from detector.report.data import ReportData, route_key
from detector.report.inputs import (
    Records,
    ReportInputError,
    deploys_of,
    read_incidents_jsonl,
    read_incidents_store,
)
from detector.sources.files import FileSource

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer

MOSTLY_BAD = 0.5  # more bad records than this share of all: not an access log
TOP_CLIENTS = 15


def load_incidents(store: Path | None, files: list[Path]) -> tuple[list[Incident], list[str]]:
    """Incidents (latest state per id) from a store or JSON-lines files, and warnings."""
    if store is not None:
        return read_incidents_store(store), []
    found: dict[str, Incident] = {}
    notes: list[str] = []
    for path in files:
        incs, bad = read_incidents_jsonl(path)
        notes.extend(bad)
        found.update((i.id, i) for i in incs)
    return list(found.values()), notes


def build_report(*, logs: list[str], store: Path | None, incident_files: list[Path],
                 deployments: Path | None, records: Path | None, settings: Settings,
                 fmt: str = "auto", service: str = "default",
                 analyzer: RequestAnalyzer | None = None) -> ReportData:
    """Everything the report shows; :class:`ReportInputError` for inputs it cannot use."""
    if not logs and store is None and not incident_files:
        raise ReportInputError("nothing to report: give LOGS, an incidents file "
                               "(INCIDENTS.jsonl) or --store PATH")
    given = store is not None or bool(incident_files)
    incidents, notes = load_incidents(store, incident_files) if given else ([], [])
    record_index = Records(records)
    data = ReportData(float(settings.windows.size_seconds), incidents, [], record_index,
                      inputs=[str(p) for p in (*([store] if store else []), *incident_files,
                                               *logs)], notes=notes)
    registry = DeploymentRegistry()
    if logs:
        watch = {(i.service, rk) for i in incidents if (rk := route_key(i)) is not None}
        collector = ReportCollector(watch)
        tally = ClientTally()
        _replay(logs, settings, fmt, service, deployments, analyzer, collector, tally,
                registry, data)
        if not given:
            data.incidents = sorted(collector.incidents.values(), key=lambda i: (i.start, i.id))
        data.services, data.routes, data.totals = (collector.services, collector.routes,
                                                   collector.totals)
        named = {i.client for i in data.incidents if i.client is not None}
        top = tally.top(TOP_CLIENTS)
        extra = [(c, n[0], n[1], n[2]) for c in sorted(named - {t[0] for t in top})
                 if (n := tally.counts.get(c)) is not None]
        data.clients = top + extra
    elif deployments is not None:
        bad: list[BadRecord] = []
        load_deployments(deployments, registry, bad)
        if bad:
            data.notes.append(f"--deployments {deployments}: {len(bad)} bad lines skipped")
    data.deploys = deploys_of(registry, data.incidents)
    return data


def _replay(logs: list[str], settings: Settings, fmt: str, service: str,
            deployments: Path | None, analyzer: RequestAnalyzer | None,
            collector: ReportCollector, tally: ClientTally, registry: DeploymentRegistry,
            data: ReportData) -> None:
    sources: list[FileSource] = []
    try:
        sources = [FileSource(f, fmt=fmt, service=service) for f in logs]
        pipeline = Pipeline(settings, [], registry=registry, analyzer=analyzer, wall_clock=None)
        pipeline.observers.append(collector)
        feed_pipeline(pipeline, sources, deployments, select=tally.watch)
    finally:
        for s in sources:
            s.close()
    problems = [s.error for s in sources if s.error]
    if problems:
        raise ReportInputError(problems[0])
    summary = pipeline.summary
    if summary.events == 0:
        raise ReportInputError(f"no valid access event in {', '.join(logs)[:200]}")
    if summary.bad > MOSTLY_BAD * (summary.bad + summary.events):
        raise ReportInputError(
            f"mostly bad records ({summary.bad:,} of {summary.bad + summary.events:,}): "
            f"{summary.bad_reasons.most_common(1)[0][0]}")
    data.events = summary.events
    if summary.bad:
        data.notes.append(f"{summary.bad:,} bad records in the logs were skipped")
