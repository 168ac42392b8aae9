"""A release watch survives a restart: checkpointed with the pipeline, same record."""

from __future__ import annotations

from typing import Any

import pytest

from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.events import AccessEvent, DeploymentEvent
from detector.incidents.suppressions import Rule, Suppressions
from detector.incidents.suppressor import RuleSource, Suppressor
from detector.pipeline import Pipeline
from detector.state import SnapshotError
from detector.verdict.policy import Policy
from detector.verdict.watch import ReleaseWatch
from tests.verdict.synth import DEPLOY, gen


def _pipeline(records: list[dict[str, Any]]) -> Pipeline:
    reg = DeploymentRegistry()
    reg.add(DeploymentEvent(DEPLOY, "shop", "1.1"))
    p = Pipeline(Settings(), [], registry=reg, wall_clock=None)
    p.observers.append(ReleaseWatch(lambda _s: Policy(), reg, records.append, analysis=False))
    return p


def _comparable(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("produced_at", "created_at")}


@pytest.mark.parametrize("cut", [DEPLOY - 1800, DEPLOY + 600, DEPLOY + 1500])
def test_a_restart_mid_evaluation_gives_the_same_record(cut: float) -> None:
    events: list[AccessEvent] = gen("errors")
    whole: list[dict[str, Any]] = []
    p = _pipeline(whole)
    p.process(events)
    p.finish()
    assert [r["verdict"] for r in whole] == ["fail"]

    before: list[dict[str, Any]] = []
    first = _pipeline(before)
    first.process(e for e in events if e.ts < cut)
    snap = first.snapshot()
    after: list[dict[str, Any]] = []
    second = _pipeline(after)
    second.restore(snap)
    second.process(e for e in events if e.ts >= cut)
    second.finish()
    assert before == []  # nothing was judged before the restart
    assert [_comparable(r) for r in after] == [_comparable(r) for r in whole]


def test_without_the_watch_state_a_restarted_service_cannot_judge_the_deploy() -> None:
    # What the checkpoint is for: a watch starting fresh after the deploy sees no
    # traffic of the previous version and skips the deployment.
    events = gen("errors")
    first = _pipeline([])
    first.process(e for e in events if e.ts < DEPLOY + 600)
    tree_bytes = first.snapshot()
    second_records: list[dict[str, Any]] = []
    second = _pipeline(second_records)
    second.observers.clear()
    second.restore(tree_bytes)  # a pipeline without a watch ignores the watch's state
    watch = ReleaseWatch(lambda _s: Policy(), second.registry, second_records.append,
                         analysis=False)
    second.observers.append(watch)
    second.process(e for e in events if e.ts >= DEPLOY + 600)
    second.finish()
    assert second_records == []


def test_a_malformed_watch_state_is_refused_in_one_line() -> None:
    watch = ReleaseWatch(lambda _s: Policy(), DeploymentRegistry(), print)
    good = watch.snapshot()
    watch.restore(good)
    for bad in ({"v": 1, "data": {"windows": [1], "services": {}}},
                {"v": 1, "data": {"windows": [], "services": {"shop": {"first": 1.0}}}},
                {"v": 1, "data": []}):
        with pytest.raises(SnapshotError, match="release_watch"):
            watch.restore(bad)


def test_the_suppressors_memory_is_checkpointed() -> None:
    source = RuleSource(Suppressions((Rule(1, "shop", 1e12, "known", "me"),)))
    p = Pipeline(Settings(), [], wall_clock=None)
    p.suppressor = Suppressor(source)
    p.suppressor._last["inc-1"] = True
    snap = p.snapshot()
    q = Pipeline(Settings(), [], wall_clock=None)
    q.suppressor = Suppressor(source)
    q.restore(snap)
    assert q.suppressor._last == {"inc-1": True}
