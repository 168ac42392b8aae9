"""Checkpoints: a pipeline restored from a snapshot continues exactly like one never stopped."""

from __future__ import annotations

import pickle

import pytest

from detector.config import Settings
from detector.events import AccessEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from detector.state import SnapshotError, dumps, loads
from tests.pipeline.synthetic import DEPLOY_AT, _bad_deploy_status, traffic


def _events() -> list[AccessEvent]:
    return traffic(150, rate=8, status=_bad_deploy_status,
                   version=lambda t: "2.32.0" if t >= DEPLOY_AT else "2.31.0")


def _key(items: list[Incident]) -> list[tuple[str, str, str, str]]:
    return [(i.id, i.status, i.end, i.model_dump_json()) for i in items]


@pytest.mark.slow
@pytest.mark.parametrize("cut", [0.3, 0.62, 0.65, 0.9])
def test_restore_continues_like_an_uninterrupted_run(cut: float) -> None:
    events = _events()
    whole = MemorySink()
    p = Pipeline(Settings(), [whole])
    p.process(events)
    p.finish()
    assert whole.items  # the scenario raises an incident

    n = int(len(events) * cut)
    first, second = MemorySink(), MemorySink()
    a = Pipeline(Settings(), [first])
    a.process(events[:n])
    snap = a.snapshot()
    b = Pipeline(Settings(), [second])
    b.restore(snap)
    b.process(events[n:])
    b.finish()
    assert _key(first.items + second.items) == _key(whole.items)


def test_forbidden_types_and_corruption_are_refused() -> None:
    evil = pickle.dumps(__import__("os").system)
    import hashlib

    from detector.state.legacy import MAGIC  # the pickle format, still read for migration

    with pytest.raises(SnapshotError, match="forbidden type"):
        loads(MAGIC + hashlib.sha256(evil).digest() + evil)
    good = dumps({"x": 1})
    with pytest.raises(SnapshotError, match="checksum"):
        loads(good[:-1] + b"\x00")
    p = Pipeline(Settings(), [MemorySink()])
    with pytest.raises(SnapshotError, match="pipeline state"):
        p.restore(dumps({"x": 1}))


def test_snapshot_of_an_earlier_version_without_service_first_times() -> None:
    # Snapshots written before per-service first-event times existed lack them: the
    # services already seen must not look as if their traffic began after the restart.
    events = _events()
    whole = MemorySink()
    p = Pipeline(Settings(), [whole])
    p.process(events)
    p.finish()
    n = int(len(events) * 0.5)
    first, second = MemorySink(), MemorySink()
    a = Pipeline(Settings(), [first])
    a.process(events[:n])
    state = a.state()
    del state["svc_first"]
    b = Pipeline(Settings(), [second])
    b.restore(dumps(state))
    b.process(events[n:])
    b.finish()
    assert b.svc_first == {"pay": events[0].ts}
    assert _key(first.items + second.items) == _key(whole.items)
