"""``detector verdict``: judge one release of one service from its access logs.

The logs go through the same pipeline as a replay (so the verdict sees the same
routes, findings and incidents), with a :class:`~detector.verdict.watch.ReleaseWatch`
observing it for the one service and version. Reading stops as soon as the
release is judged: the rest of the logs cannot change it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.events import AccessEvent, BadRecord, DeploymentEvent, Item
from detector.gc_tuning import throughput_gc
from detector.jobs.replay import load_deployments
from detector.pipeline import Pipeline, RunSummary
from detector.sources.files import FileSource, SourceError, merged
from detector.verdict.policy import Policy
from detector.verdict.watch import ReleaseWatch, analyzer_models

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer

MOSTLY_BAD = 0.5  # more bad records than this share of all: not an access log


class VerdictInputError(SourceError):
    """The inputs cannot give a verdict (no such release, no events): exit 2."""


def _only(items: Iterable[Item], service: str, done: list[dict[str, Any]]) -> Iterator[Item]:
    """The service's events and deployments (and every bad record), until judged."""
    for item in items:
        if done:
            return
        if isinstance(item, AccessEvent | DeploymentEvent):
            if item.service == service:
                yield item
        elif isinstance(item, BadRecord):
            yield item


def judge_items(items: Iterable[Item], *, service: str, version: str, policy: Policy,
                settings: Settings, registry: DeploymentRegistry,
                analyzer: RequestAnalyzer | None) -> tuple[dict[str, Any], RunSummary]:
    """The (unsealed) release record of ``service`` ``version`` from decoded ``items``."""
    records: list[dict[str, Any]] = []
    pipeline = Pipeline(settings, [], registry=registry, analyzer=analyzer, wall_clock=None)
    watch = ReleaseWatch(lambda _s: policy, pipeline.registry, records.append,
                         services=frozenset({service}), version=version,
                         analysis=analyzer is not None, models=analyzer_models(analyzer))
    pipeline.observers.append(watch)
    with throughput_gc():
        pipeline.process(_only(items, service, records))
        if not records:
            pipeline.finish()
        if not records:
            watch.finish()
    summary = pipeline.summary
    if summary.bad and summary.bad > MOSTLY_BAD * (summary.bad + summary.events):
        raise VerdictInputError(
            f"mostly bad records ({summary.bad:,} of {summary.bad + summary.events:,}): "
            f"{summary.bad_reasons.most_common(1)[0][0]}")
    if not records:
        if summary.events == 0:
            raise VerdictInputError(f"no access event of service {service!r} in the input")
        known = sorted({d.version for d in registry.all(service)})
        hint = f" (deployments seen: {', '.join(known[:8])})" if known else \
            " (no deployment of it: give --deployments, or logs with service.version)"
        raise VerdictInputError(f"no deployment of {service} {version} in the input{hint}")
    return records[0], summary


def judge_files(files: list[str], *, service: str, version: str, policy: Policy,
                settings: Settings, fmt: str, deployments: Path | None,
                analyzer: RequestAnalyzer | None, bad: list[BadRecord] | None = None,
                progress: bool | None = None) -> tuple[dict[str, Any], RunSummary]:
    """:func:`judge_items` over log files (plain or .gz, merged in time order); a progress
    line on stderr when it is a terminal (or ``progress``)."""
    registry = DeploymentRegistry()
    early: list[BadRecord] = bad if bad is not None else []
    if deployments is not None:
        load_deployments(deployments, registry, early)
    sources: list[FileSource] = []
    try:
        sources = [FileSource(f, fmt=fmt, service=service) for f in files]
        items: Iterable[Item] = merged(sources)
        if progress if progress is not None else sys.stderr.isatty():
            from detector.jobs.progress import ReplayProgress

            items = ReplayProgress([s.stream for s in sources], sys.stderr)(items)
        record, summary = judge_items(items, service=service, version=version,
                                      policy=policy, settings=settings, registry=registry,
                                      analyzer=analyzer)
    finally:
        for s in sources:
            s.close()
    problems = [s.error for s in sources if s.error]
    if problems:
        raise VerdictInputError(problems[0])
    return record, summary
