"""The state protocol: every component of a pipeline saves and loads itself, versioned."""

from __future__ import annotations

import pytest

from detector.analysis.analyzer import RequestAnalyzer
from detector.config import Settings
from detector.pipeline import Pipeline
from detector.sinks.base import MemorySink
from detector.state import SnapshotError, dumps, loads
from detector.state.component import Stateful, stamp
from detector.state.layout import (
    COMPONENTS,
    FORMAT,
    LATER_COMPONENTS,
    OPTIONAL_COMPONENTS,
    format_of,
)
from tests.state.scenario import CUT, scenario


def _run() -> Pipeline:
    from detector.incidents.suppressor import RuleSource, Suppressor
    from detector.verdict.policy import Policy
    from detector.verdict.watch import ReleaseWatch

    p = Pipeline(Settings(), [MemorySink()], wall_clock=None,
                 analyzer=RequestAnalyzer(learn_online=True))
    # The optional components too: the service's suppressor and release watch.
    p.suppressor = Suppressor(RuleSource())
    p.observers.append(ReleaseWatch(lambda _s: Policy(), p.registry, lambda _r: None))
    items = scenario()
    p.process(items[:int(len(items) * CUT)])
    return p


def test_every_component_round_trips_through_its_own_snapshot() -> None:
    p = _run()
    comps = p.components()
    assert set(comps) | {"profiles"} == set(COMPONENTS) | LATER_COMPONENTS | OPTIONAL_COMPONENTS
    analyzer = p.analyzer
    assert analyzer is not None
    for name, c in [*comps.items(), ("profiles", analyzer.profiles)]:
        assert isinstance(c, Stateful), name
        snap = c.snapshot()
        assert set(snap) == {"v", "data"} and type(snap["v"]) is int, name
        data = dumps(snap)  # plain data: the safe codec takes every snapshot
        c.restore(loads(data))
        assert dumps(c.snapshot()) == data, name


def test_a_newer_component_schema_is_refused() -> None:
    p = _run()
    st = p.state()
    assert format_of(st) == FORMAT
    st["incidents"] = stamp(99, st["incidents"]["data"])
    with pytest.raises(SnapshotError, match="incidents: schema 99 is not supported"):
        Pipeline(Settings(), [MemorySink()]).restore(dumps(st))
    st = p.state()
    del st["payload"]
    with pytest.raises(SnapshotError, match="missing payload"):
        Pipeline(Settings(), [MemorySink()]).restore(dumps(st))


def test_malformed_component_data_is_a_snapshot_error() -> None:
    st = _run().state()
    st["scanner"] = stamp(1, [1, 2])  # not the scanner's mapping
    with pytest.raises(SnapshotError, match="scanner: malformed"):
        Pipeline(Settings(), [MemorySink()]).restore(dumps(st))
