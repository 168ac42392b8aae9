"""``detector verdict`` over Kafka: the deployment from a file or the deployments
topic, then only the time range its verdict needs, read by offsets-for-times
(:mod:`detector.kafka.time_range`), through the same judge as files.

The range: from ``HISTORY`` before the deploy (or more, when the policy's
windows need more) to the candidate window's end plus what it takes for the
watermark to pass it. Over a log file that starts within that history, the
record is byte for byte the one ``--logs`` gives (the events reach the
pipeline in the same order: a service's events are in one partition of a
topic keyed by service, in the order they were published).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.config import Settings
from detector.deployments.registry import Deployment, DeploymentRegistry
from detector.events import BadRecord, DeploymentEvent
from detector.jobs.replay import load_deployments
from detector.jobs.verdict import VerdictInputError, judge_items
from detector.kafka.config import KafkaConnection
from detector.kafka.time_range import load_deployments_topic, load_time_range
from detector.pipeline import RunSummary
from detector.verdict.policy import Policy
from detector.verdict.watch import BUFFER_SLACK, DAY

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer

# Traffic read before the deploy, at least: the detectors' warm-up (30 one-minute
# windows) and the watch's baseline buffer (2 x (window + delay) + 15 min: about
# 2 h by default) need no more, and routes or parameters seen within it are not
# "new". Every hour read costs the pipeline's time on every event of it, so no
# more by default. A fixed span, not "all there is": the same deploy gives the
# same range, whatever the topic's retention. Not the request rate's
# same-hours-yesterday correction (the watch's day of windows): that takes
# ``daily_history``, a day more of every event through the pipeline.
HISTORY = 2 * 3600.0


def daily_history(policy: Policy, settings: Settings) -> float:
    """The ``history`` that gives the watch the baseline's hours the day before
    (its request-rate correction for the daily shape), as a replay of a day of
    logs has them.

    >>> daily_history(Policy(window="30m"), Settings()) / 3600
    24.5166...
    """
    return DAY + policy.window + settings.windows.size_seconds


def verdict_range(deployed_at: float, policy: Policy, settings: Settings,
                  history: float = HISTORY) -> tuple[float, float]:
    """[start, end) of the event times a verdict on a deploy at ``deployed_at`` reads.

    >>> verdict_range(36_000.0, Policy(window="30m", delay="2m"), Settings())
    (28800.0, 38070.0)
    >>> verdict_range(36_000.0, Policy(window="2h", delay="2m"), Settings())[0]  # the buffer
    20460.0
    """
    size = float(settings.windows.size_seconds)
    warmup = settings.detectors.warmup_windows * size + policy.window + policy.delay
    lookback = max(history, 2 * (policy.window + policy.delay) + BUFFER_SLACK, warmup)
    start = math.floor((deployed_at - lookback) / size) * size
    cand_end = math.ceil((deployed_at + policy.delay) / size) * size + policy.window
    # The watermark (latest event time - allowed lateness) must pass the candidate's
    # end for the judge to run as it does in a replay, and windows close a size later.
    end = cand_end + settings.windows.allowed_lateness_seconds + 2 * size
    return start, end


def _deployment(registry: DeploymentRegistry, service: str, version: str,
                where: str) -> Deployment:
    dep = next((d for d in registry.all(service) if d.version == version), None)
    if dep is not None:
        return dep
    known = sorted({d.version for d in registry.all(service)})
    seen = f" (deployments of {service} seen: {', '.join(known[:8])})" if known else ""
    raise VerdictInputError(
        f"no deployment of {service} {version} in {where}{seen}: a verdict over Kafka "
        "reads the time range of a known deployment (`detector deploy record` publishes one)")


def judge_kafka(cluster: str | KafkaConnection, topics: Sequence[str], *, service: str,
                version: str, policy: Policy, settings: Settings, fmt: str,
                deployments: Path | None, deployments_topic: str | None,
                analyzer: RequestAnalyzer | None, deadline: float = 60.0,
                history: float = HISTORY,
                bad: list[BadRecord] | None = None) -> tuple[dict[str, Any], RunSummary]:
    """:func:`~detector.jobs.verdict.judge_items` over the Kafka time range of the release.

    ``cluster`` is ``HOST:PORT[,...]`` or a connection with its TLS/SASL
    settings; ``deadline`` bounds each of the two reads (deployments, range);
    ``history``: seconds read before the deploy, at least (:func:`verdict_range`;
    :func:`daily_history` for the request rate's daily-shape correction).
    """
    if deployments is None and not deployments_topic:
        raise VerdictInputError("a verdict over Kafka needs the deployment: give "
                                "--deployments-topic NAME or --deployments FILE")
    registry = DeploymentRegistry()
    early: list[BadRecord] = bad if bad is not None else []
    where = []
    if deployments is not None:
        load_deployments(deployments, registry, early)
        where.append(str(deployments))
    if deployments_topic:
        for item in load_deployments_topic(cluster, deployments_topic, services=(service,),
                                           deadline=deadline):
            if isinstance(item, DeploymentEvent):
                registry.add(item)
            elif isinstance(item, BadRecord):
                early.append(item)
        where.append(f"topic {deployments_topic}")
    dep = _deployment(registry, service, version, " and ".join(where))
    start, end = verdict_range(dep.ts, policy, settings, history)
    items = load_time_range(cluster, topics, start, end, fmt=fmt, service=service,
                            services=(service,), deadline=deadline)
    return judge_items(items, service=service, version=version, policy=policy,
                       settings=settings, registry=registry, analyzer=analyzer)
