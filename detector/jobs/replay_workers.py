"""``detector replay --workers N``: one replay split by service over N processes.

A service's incidents depend on that service's traffic alone (the property
the consumer service's per-partition pipelines rest on, tested in
``tests/pipeline/test_service_independence.py``). So N worker processes each
run a full pipeline on the events of their own services; the parent writes
what they find to the sinks. Each worker reads every input but decodes only its
own lines, told by the service name in their bytes
(:mod:`detector.jobs.replay_owned`): a file of one service is decoded by one
worker only, a file mixing services is split line by line, and what the bytes
leave in doubt is decoded by all, each keeping its own.

Services go to workers by volume, largest first to the least loaded worker,
estimated from the first lines of each input, read by their bytes (a
deterministic plan); a
service first seen later goes by a hash of its name. Bad input lines are
reported once (by the worker that owns them, see ``replay_owned``). Absurd
event times are judged per input (sources.timeguard) on what a worker keeps of
it: all of a one-service input, as one process judges it; the worker's share
of a mixed one (the same verdicts as long as no event time in that input is a
day or more, timeguard.SLACK, away from its neighbours': otherwise they may
differ from one process's). Incidents of different services reach the sinks in
the order workers find them; each service's in its order.
"""

from __future__ import annotations

import heapq
import multiprocessing as mp
import os
import signal
from collections import Counter
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any

from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.events import BadRecord
from detector.incidents.model import Incident
from detector.jobs.interrupt import StopRequest, stop_on_signals
from detector.jobs.replay_owned import OwnedSource, Ownership, service_volumes
from detector.pipeline import Pipeline, RunSummary
from detector.sinks import Sink
from detector.sources.dead_letter import DeadLetterFile
from detector.sources.files import FileSource, SourceError

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.incidents.suppressions import Suppressions

# Lines per input counted to balance services over workers. The plan is read before any
# worker starts, so its time adds to the whole run: on the bench corpus 5,000 lines take
# 0.04 s of CPU against 0.15 s for 20,000, and move each service's estimate by < 1 %.
PLAN_SAMPLE = 5_000
BAD_CHUNK = 1_000


def plan_services(files: list[str], fmt: str, service: str, workers: int) -> dict[str, int]:
    """Service -> worker, balancing the lines of each service in the inputs (estimated by
    :func:`~detector.jobs.replay_owned.service_volumes`).

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> for name, n in (("a", 30), ("b", 20), ("c", 15)):
    ...     with open(os.path.join(d, name + ".log"), "w") as f:
    ...         for i in range(n):
    ...             _ = f.write('{"timestamp": %d, "service.name": "%s", "http.request.method":'
    ...                         ' "GET", "url.path": "/", "http.response.status_code": 200}\\n'
    ...                         % (1780000000 + i, name))
    >>> sorted(plan_services([os.path.join(d, x + ".log") for x in "abc"], "auto", "d", 2).items())
    [('a', 0), ('b', 1), ('c', 1)]
    """
    counts: Counter[str] = Counter()
    for f in files:  # read by the bytes of their first lines: decoding them took a while
        counts.update(service_volumes(f, fmt=fmt, service=service, sample=PLAN_SAMPLE))
    load = [(0, w) for w in range(workers)]
    plan: dict[str, int] = {}
    for svc, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        total, w = heapq.heappop(load)
        plan[svc] = w
        heapq.heappush(load, (total + n, w))
    return plan


class _QueueSink:
    """Incidents go to the parent, which owns the real sinks."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def write(self, incident: Incident) -> None:
        self.queue.put(("incident", incident))

    def flush(self) -> None: ...

    def close(self) -> None: ...


def _worker(me: int, workers: int, plan: dict[str, int], files: list[str], fmt: str,
            service: str, deployments: Path | None, settings: Settings,
            analyzer: RequestAnalyzer | None, queue: Any, stop: StopRequest,
            suppressions: Suppressions | None = None) -> None:
    # The parent forwards SIGINT and SIGTERM; a worker then ends its input before the next
    # record and reports what it found, as it does at the end of its input. ``stop`` is the
    # parent's, as it was at the fork: a signal that came before is not missed.
    with stop_on_signals(stop, interrupt_reads=False):
        _work(me, workers, plan, files, fmt, service, deployments, settings, analyzer, queue,
              stop, suppressions)


def _work(me: int, workers: int, plan: dict[str, int], files: list[str], fmt: str,
          service: str, deployments: Path | None, settings: Settings,
          analyzer: RequestAnalyzer | None, queue: Any, stop: StopRequest,
          suppressions: Suppressions | None = None) -> None:
    from detector.jobs.replay import apply_suppressions, feed_pipeline

    bad: list[BadRecord] = []

    def dead_letter(rec: BadRecord) -> None:
        bad.append(rec)
        if len(bad) >= BAD_CHUNK:
            queue.put(("bad", bad[:]))
            bad.clear()

    sources: list[FileSource] = []
    try:
        own = Ownership(me, workers, plan)
        sources = [OwnedSource(f, own, fmt=fmt, service=service) for f in files]
        pipeline = Pipeline(settings, [_QueueSink(queue)], registry=DeploymentRegistry(),
                            dead_letter=dead_letter, analyzer=analyzer, wall_clock=None)
        apply_suppressions(pipeline, suppressions)
        # Bad lines of the inputs and of the deployments file are worker 0's to report.
        feed_pipeline(pipeline, sources, deployments, report_deployment_errors=me == 0,
                      stop=stop)
        if bad:
            queue.put(("bad", bad))
        problems = [s.error for s in sources if s.error] if me == 0 else []
        queue.put(("done", me, pipeline.summary, problems))
    except BaseException as exc:  # reported by the parent as one line
        queue.put(("error", me, f"worker {me}: {type(exc).__name__}: {exc}"[:500]))
    finally:
        for s in sources:
            s.close()


def _add(total: RunSummary, part: RunSummary) -> None:
    total.events += part.events
    total.deployments = max(total.deployments, part.deployments)  # every worker loads them all
    total.bad += part.bad
    total.bad_reasons.update(part.bad_reasons)
    total.late += part.late
    total.incidents.update(part.incidents)
    total.findings.update(part.findings)
    total.suppressed.update(part.suppressed)
    total.windows_closed = max(total.windows_closed, part.windows_closed)


def run_parallel_replay(
    files: list[str],
    *,
    workers: int,
    settings: Settings,
    fmt: str,
    service: str,
    deployments: Path | None,
    sinks: list[Sink],
    dead_letter: Path | None,
    analyzer: RequestAnalyzer | None,
    stop: StopRequest | None = None,
    suppressions: Suppressions | None = None,
) -> tuple[RunSummary, list[str]]:
    """``run_replay`` over ``workers`` processes (see the module docstring).

    When ``stop`` is set (by SIGINT/SIGTERM) the workers are told with a SIGTERM; each
    ends its input, reports what it found, and the sinks get all of it.
    """
    from detector.jobs.replay import load_deployments

    if "-" in files:
        raise SourceError("--workers needs files: standard input can be read only once")
    if "fork" not in mp.get_all_start_methods():
        raise SourceError("--workers needs the 'fork' start method (Linux); use --workers 1")
    if deployments is not None:  # a bad deployments file is one error here, not one per worker
        load_deployments(deployments, DeploymentRegistry(), [])
    stop = stop if stop is not None else StopRequest()
    summary = RunSummary()
    plan = plan_services(files, fmt, service, workers)  # unreadable inputs fail here, once
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, name=f"detector-replay-{i}", daemon=True,
                         args=(i, workers, plan, files, fmt, service, deployments, settings,
                               analyzer, queue, stop, suppressions))
             for i in range(workers)]
    dl = DeadLetterFile(dead_letter) if dead_letter else None
    problems: list[str] = []
    error: str | None = None
    try:
        for p in procs:
            p.start()
        pending = set(range(workers))
        told = False
        while pending and error is None:
            if stop and not told:
                told = True
                for p in procs:
                    if p.pid is not None and p.is_alive():
                        os.kill(p.pid, signal.SIGTERM)
            try:
                msg = queue.get(timeout=1.0)
            except Empty:
                gone = [i for i in pending if procs[i].exitcode is not None]
                if gone:  # killed (out of memory?) before it could say anything
                    error = f"worker {gone[0]} died (exit code {procs[gone[0]].exitcode})"
                continue
            kind = msg[0]
            if kind == "incident":
                for s in sinks:
                    s.write(msg[1])
            elif kind == "bad":
                if dl is not None:
                    for rec in msg[1]:
                        dl(rec)
            elif kind == "done":
                _add(summary, msg[2])
                problems.extend(msg[3])
                pending.discard(msg[1])
            else:
                error = msg[2]
    finally:
        for p in procs:
            if error is not None and p.is_alive():
                p.terminate()
            p.join(timeout=10)
        for s in sinks:
            s.close()
        if dl is not None:
            dl.close()
    if error is not None:
        raise SourceError(error)
    return summary, problems
