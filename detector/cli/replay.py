"""``detector replay``: historical logs through the same pipeline as the live service."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer

from detector.config import Settings
from detector.decoding import FORMATS, DecodeError, parse_deployment
from detector.deployments.registry import DeploymentRegistry
from detector.events import BadRecord
from detector.gc_tuning import throughput_gc
from detector.pipeline import Item, Pipeline, RunSummary
from detector.sinks import Sink, make_sink
from detector.sources.dead_letter import DeadLetterFile
from detector.sources.files import FileSource, SourceError, merged


def load_deployments(path: Path, registry: DeploymentRegistry, bad: list[BadRecord]) -> int:
    """Read a deployments JSON-lines file into the registry; bad lines are collected."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read deployments file {path}: {exc.strerror}") from None
    n = 0
    for no, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
            if not isinstance(obj, dict):
                raise DecodeError("deployment event must be a JSON object")
            registry.add(parse_deployment(obj, path.name, no))
            n += 1
        except orjson.JSONDecodeError as exc:
            bad.append(BadRecord(path.name, no, f"invalid JSON: {str(exc)[:80]}", raw))
        except DecodeError as exc:
            bad.append(BadRecord(path.name, no, exc.reason, raw))
    return n


def _progress(items: Iterable[Item]) -> Iterator[Item]:
    """A live count on stderr when it is a terminal (never when piped)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), transient=True, console=None
    ) as prog:
        task = prog.add_task("replaying", total=None)
        for n, item in enumerate(items, 1):
            if n % 100_000 == 0:
                prog.update(task, description=f"replaying: {n:,} records")
            yield item


def build_analyzer(models: Path | None, enabled: bool = True) -> RequestAnalyzer | None:
    """Request analysis from the model registry (signatures and online profiles without one)."""
    if not enabled:
        return None
    from detector.analysis.analyzer import RequestAnalyzer

    if models is not None and not models.is_dir():
        raise SourceError(f"cannot read model registry {models}: not a directory")
    return RequestAnalyzer.from_registry(models) if models is not None else RequestAnalyzer(
        learn_online=True
    )


def feed_pipeline(
    pipeline: Pipeline,
    sources: list[FileSource],
    deployments: Path | None,
    *,
    select: Callable[[Iterable[Item]], Iterable[Item]] | None = None,
    report_deployment_errors: bool = True,
) -> None:
    """One replay through ``pipeline``: the deployments file into its registry (bad lines
    reported unless ``report_deployment_errors`` is off), then the inputs merged in event-time
    order (``select`` may narrow or watch them), then the end of input."""
    if deployments is not None:
        early_bad: list[BadRecord] = []
        pipeline.summary.deployments += load_deployments(deployments, pipeline.registry,
                                                         early_bad)
        if report_deployment_errors:
            for rec in early_bad:
                pipeline._bad(rec)
    items: Iterable[Item] = merged(sources)
    if select is not None:
        items = select(items)
    with throughput_gc():
        pipeline.process(items)
        pipeline.finish()


def run_replay(
    files: list[str],
    *,
    settings: Settings,
    fmt: str,
    service: str,
    deployments: Path | None,
    sinks: list[Sink],
    dead_letter: Path | None,
    progress: bool | None = None,
    analyzer: RequestAnalyzer | None = None,
    workers: int = 1,
) -> tuple[RunSummary, list[str]]:
    """Replay ``files``; returns the run summary and one-line problems with inputs."""
    if fmt != "auto" and fmt not in FORMATS:
        raise SourceError(f"unknown format {fmt!r} (one of auto, {', '.join(FORMATS)})")
    if workers > 1:
        from detector.cli.replay_workers import run_parallel_replay

        return run_parallel_replay(files or ["-"], workers=workers, settings=settings, fmt=fmt,
                                   service=service, deployments=deployments, sinks=sinks,
                                   dead_letter=dead_letter, analyzer=analyzer)
    sources = [FileSource(f, fmt=fmt, service=service) for f in (files or ["-"])]
    dl = DeadLetterFile(dead_letter) if dead_letter else None
    pipeline = Pipeline(settings, sinks, registry=DeploymentRegistry(), dead_letter=dl,
                        analyzer=analyzer)
    show = progress if progress is not None else sys.stderr.isatty()
    try:
        feed_pipeline(pipeline, sources, deployments, select=_progress if show else None)
    finally:
        for s in sources:
            s.close()
        for sink in sinks:
            sink.close()
        if dl is not None:
            dl.close()
    problems = [s.error for s in sources if s.error]
    return pipeline.summary, problems


def format_summary(summary: RunSummary, problems: list[str], dead_letter: Path | None) -> str:
    el = summary.elapsed()
    rate = summary.events / el if el > 0 else 0.0
    lines = [
        f"replay: {summary.events:,} events in {el:.1f} s ({rate:,.0f} events/s), "
        f"{summary.deployments} deployments, {summary.late:,} late events"
    ]
    if summary.bad:
        reasons = ", ".join(f"{r} x{n}" for r, n in summary.bad_reasons.most_common(6))
        where = f" -> {dead_letter}" if dead_letter else " (keep them with --dead-letter FILE)"
        lines.append(f"bad records: {summary.bad:,} ({reasons}){where}")
    else:
        lines.append("bad records: 0")
    if summary.findings:
        found = ", ".join(f"{k} {n:,}" for k, n in sorted(summary.findings.items()))
        lines.append(f"requests flagged: {found}")
    inc = ", ".join(f"{k} {n}" for k, n in sorted(summary.incidents.items())) or "none"
    lines.append(f"incidents: {sum(summary.incidents.values())} ({inc})")
    lines.extend(f"warning: {p}" for p in problems)
    return "\n".join(lines)


def build_sinks(specs: list[str]) -> list[Sink]:
    return [make_sink(s) for s in (specs or ["stdout"])]
