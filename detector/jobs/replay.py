"""``detector replay``: historical logs through the same pipeline as the live service."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.incidents.suppressions import Suppressions

from detector.config import Settings
from detector.decoding import FORMATS, DecodeError, parse_deployment
from detector.deployments.registry import DeploymentRegistry
from detector.events import BadRecord, Item
from detector.gc_tuning import throughput_gc
from detector.jobs.interrupt import Interrupted, StopRequest, stop_on_signals, until_stopped
from detector.pipeline import Pipeline, RunSummary
from detector.pipeline.batch_ingest import process_batched, process_chunks
from detector.sinks import Sink
from detector.sinks.fanout import SinkFanOut
from detector.sources.dead_letter import DeadLetterFile
from detector.sources.files import FileSource, SourceError, merged, merged_chunks

# Keys of access events (CONTRACTS §1, nginx, envoy): a line holding two of them
# (method, path, status...) and no "type": "deployment" is an access log line. One
# alone is not enough: a deployment record may well carry a "status" or a "url".
_ACCESS_KEYS = frozenset({"http.request.method", "url.path", "url.full",
                          "http.response.status_code", "http", "url", "request", "method",
                          "status", "status_code", "response_code", "request_method", "path",
                          "uri"})
# Prefix of the reasons of its bad lines (no colon: the summary groups reasons by the
# text before the first one).
DEPLOYMENTS_REASON = "deployments file, "


# A deploy event is ~200 bytes: 64 MiB holds some 300,000 deployments, far beyond any
# history, and bounds what a wrong --deployments (a device, a huge log) can cost.
DEPLOYMENTS_MAX_BYTES = 64 << 20


def load_deployments(path: Path, registry: DeploymentRegistry, bad: list[BadRecord]) -> int:
    """Read a deployments JSON-lines file into the registry; bad lines are collected.

    A file that is mostly not deployment events (an access log given to
    ``--deployments`` by mistake) is refused as a whole, in one line.
    """
    try:
        with path.open("rb") as f:  # bounded: /dev/zero or a huge log given by mistake
            data = f.read(DEPLOYMENTS_MAX_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read deployments file {path}: {exc.strerror}") from None
    if len(data) > DEPLOYMENTS_MAX_BYTES:
        raise SourceError(f"deployments file {path} is larger than "
                          f"{DEPLOYMENTS_MAX_BYTES >> 20} MiB: not a deployments file?")
    n = 0
    mine: list[BadRecord] = []
    for no, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
            if not isinstance(obj, dict):
                raise DecodeError("deployment event must be a JSON object")
            if obj.get("type") != "deployment":
                if "type" in obj:
                    raise DecodeError(f"type {str(obj['type'])[:40]!r} is not 'deployment'")
                if len(_ACCESS_KEYS.intersection(obj)) >= 2:
                    raise DecodeError("an access event, not a deployment event")
            registry.add(parse_deployment(obj, path.name, no))
            n += 1
        except orjson.JSONDecodeError:
            mine.append(BadRecord(path.name, no, f"{DEPLOYMENTS_REASON}invalid JSON", raw))
        except DecodeError as exc:
            why = exc.reason.replace(":", "")
            mine.append(BadRecord(path.name, no, f"{DEPLOYMENTS_REASON}{why}", raw))
    if mine and len(mine) >= n:
        first = mine[0]
        what = "no deployment event" if n == 0 else f"only {n} deployment events"
        raise SourceError(
            f"--deployments {path}: not a deployments file: {what} in {n + len(mine):,} lines "
            f"(line {first.offset}: {first.reason[len(DEPLOYMENTS_REASON):]}); expected JSON "
            'lines like {"type": "deployment", "service.name": ..., "service.version": ..., '
            '"timestamp": ...}')
    bad.extend(mine)
    return n


def _progress(sources: list[FileSource]) -> Callable[[Iterable[Item]], Iterator[Item]]:
    """Progress on stderr, on a line of its own that incident lines never share (percent
    and ETA when the inputs' sizes are known); only when stderr is a terminal."""
    from detector.jobs.progress import ReplayProgress

    return ReplayProgress([s.stream for s in sources], sys.stderr)


def build_analyzer(models: Path | None, enabled: bool = True) -> RequestAnalyzer | None:
    """Request analysis from the model registry (signatures and online profiles without one)."""
    if not enabled:
        return None
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.models.registry import RegistryError

    if models is None:
        return RequestAnalyzer(learn_online=True)
    if not models.is_dir():
        raise SourceError(f"cannot read model registry {models}: not a directory")
    try:
        return RequestAnalyzer.from_registry(models)
    except RegistryError as exc:  # refused (untrusted, tampered, broken): the user's to fix
        raise RegistryError(f"--models {models}: {exc}") from None


def apply_suppressions(pipeline: Pipeline, suppressions: Suppressions | None) -> None:
    """Have ``pipeline`` apply ``suppressions`` (nothing when None)."""
    if suppressions is not None:
        from detector.incidents.suppressor import RuleSource, Suppressor

        pipeline.suppressor = Suppressor(RuleSource(suppressions))


def feed_pipeline(
    pipeline: Pipeline,
    sources: list[FileSource],
    deployments: Path | None,
    *,
    select: Callable[[Iterable[Item]], Iterable[Item]] | None = None,
    report_deployment_errors: bool = True,
    stop: StopRequest | None = None,
) -> None:
    """One replay through ``pipeline``: the deployments file into its registry (bad lines
    reported unless ``report_deployment_errors`` is off), then the inputs merged in event-time
    order (``select`` may narrow or watch them), then the end of input.

    A ``stop`` request ends the input before the next record: the sinks are flushed with
    what was found until then, and the open windows are left open (their traffic is partial,
    judging them would invent drops)."""
    if deployments is not None:
        early_bad: list[BadRecord] = []
        pipeline.summary.deployments += load_deployments(deployments, pipeline.registry,
                                                         early_bad)
        if report_deployment_errors:
            for rec in early_bad:
                pipeline.reject(rec)
    with throughput_gc():
        if any(s.streaming for s in sources):  # a chunk would wait for more input
            items: Iterable[Item] = merged(sources)
            if stop is not None:
                items = until_stopped(items, stop)
            pipeline.process(items if select is None else select(items))
        else:
            # The hot path: lists of items from the decoder to the batch ingest, the stop
            # checked between lists (what was taken is processed and flushed whole).
            chunks: Iterable[list[Item]] = merged_chunks(sources)
            if stop is not None:
                chunks = until_stopped(chunks, stop)
            if select is None:
                process_chunks(pipeline, chunks)
            else:
                process_batched(pipeline, select(chain.from_iterable(chunks)))
        if stop:
            for sink in pipeline.sinks:
                sink.flush()
        else:
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
    suppressions: Suppressions | None = None,
) -> tuple[RunSummary, list[str]]:
    """Replay ``files``; returns the run summary and one-line problems with inputs.

    ``suppressions`` (CONTRACTS §7) mark the incidents they cover and keep their
    maintenance windows out of the baselines, judged by event time as live.

    SIGINT and SIGTERM stop it between records; the sinks are flushed and closed, then
    :class:`~detector.jobs.interrupt.Interrupted` carries the summary of the part replayed.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise SourceError(f"unknown format {fmt!r} (one of auto, {', '.join(FORMATS)})")
    fan = SinkFanOut.of(sinks)  # each sink on its own: a failing one never starves the others
    owned, sinks = [fan] != sinks, [fan]
    stop = StopRequest()
    with stop_on_signals(stop):
        if workers > 1:
            from detector.jobs.replay_workers import run_parallel_replay

            summary, problems = run_parallel_replay(
                files or ["-"], workers=workers, settings=settings, fmt=fmt, service=service,
                deployments=deployments, sinks=sinks, dead_letter=dead_letter,
                analyzer=analyzer, stop=stop, suppressions=suppressions)
        else:
            summary, problems = _replay_here(files, settings=settings, fmt=fmt,
                                             service=service, deployments=deployments,
                                             sinks=sinks, dead_letter=dead_letter,
                                             progress=progress, analyzer=analyzer, stop=stop,
                                             suppressions=suppressions)
    if stop:
        raise Interrupted(stop, summary, problems)
    if owned:  # a caller passing a SinkFanOut reads its report itself (the CLI does)
        fan.raise_if_undelivered()
    return summary, problems


def _replay_here(files: list[str], *, settings: Settings, fmt: str, service: str,
                 deployments: Path | None, sinks: list[Sink], dead_letter: Path | None,
                 progress: bool | None, analyzer: RequestAnalyzer | None,
                 stop: StopRequest,
                 suppressions: Suppressions | None = None) -> tuple[RunSummary, list[str]]:
    """``run_replay`` in this process."""
    dl: DeadLetterFile | None = None
    sources: list[FileSource] = []
    try:
        dl = DeadLetterFile(dead_letter) if dead_letter else None
        sources = [FileSource(f, fmt=fmt, service=service) for f in (files or ["-"])]
        # wall_clock=None: a replay judges event times by its inputs (sources.timeguard).
        pipeline = Pipeline(settings, sinks, registry=DeploymentRegistry(), dead_letter=dl,
                            analyzer=analyzer, wall_clock=None)
        apply_suppressions(pipeline, suppressions)
        show = progress if progress is not None else sys.stderr.isatty()
        feed_pipeline(pipeline, sources, deployments, select=_progress(sources) if show else None,
                      stop=stop)
    finally:
        for s in sources:
            s.close()
        for sink in sinks:
            sink.close()
        if dl is not None:
            dl.close()
    problems = [s.error for s in sources if s.error]
    return pipeline.summary, problems
