"""A snapshot written before the state protocol (flat layout) restores and continues exactly
(the fixture and how it was written: tests/state/scenario.py)."""

from __future__ import annotations

from typing import Any

from detector.sinks.base import MemorySink
from detector.state import loads
from detector.state.layout import COMPONENTS, LATER_COMPONENTS
from tests.state.scenario import CUT, FIXTURE, pipeline, scenario


def _key(items: list[Any]) -> list[tuple[str, str, str]]:
    return [(i.id, i.status, i.model_dump_json()) for i in items]


def test_a_snapshot_of_the_flat_layout_continues_like_an_uninterrupted_run() -> None:
    items = scenario()
    n = int(len(items) * CUT)
    whole = MemorySink()
    p = pipeline(whole)
    p.process(items)
    p.finish()
    old = FIXTURE.read_bytes()
    assert "series_keys" in loads(old)  # the fixture is the old, flat layout
    first, second = MemorySink(), MemorySink()
    a = pipeline(first)
    a.process(items[:n])  # what the old code emitted before its snapshot
    b = pipeline(second)
    b.restore(old)
    b.process(items[n:])
    b.finish()
    kinds = {i.kind for i in second.items}
    assert {"error_surge"} <= kinds, kinds  # the scenario's incidents continue after the cut
    assert _key(first.items + second.items) == _key(whole.items)
    # The next checkpoint is in today's component layout, and restores the same.
    c = pipeline(MemorySink())
    c.restore(b.snapshot())
    now = set(COMPONENTS) | LATER_COMPONENTS
    assert set(loads(b.snapshot())) == set(loads(c.snapshot())) == now
