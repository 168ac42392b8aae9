"""object_enumeration end to end: in-memory events through the pipeline, with a checkpoint."""

from __future__ import annotations

import numpy as np

from detector.config import Settings
from detector.events import AccessEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from tests.pipeline.synthetic import T0

WALK_AT = 100 * 60.0


def _ev(t: float, path: str, client: str, status: int, i: int) -> AccessEvent:
    return AccessEvent(T0 + t, "orders", None, "GET", path, "", status, 0.02, 900, client,
                       "app/1.0", None, None, "mem.log", i)  # fmt: skip


def _events(walker: bool = True) -> list[AccessEvent]:
    """Two hours of shoppers reading their orders, and a 15-minute walk of order ids."""
    rng = np.random.default_rng(7)
    out: list[tuple[float, str, str, int]] = []
    t = 0.0
    while t < 130 * 60:
        t += float(rng.exponential(1 / 6.0))
        c = int(rng.integers(0, 5000))
        if rng.random() < 0.6:
            path = f"/v1/orders/{int(rng.integers(100_000, 3_000_000))}"
        else:
            path = f"/v1/carts/{c}" if rng.random() < 0.5 else "/v1/orders"
        out.append((t, path, f"10.2.{c // 250}.{c % 250}", 404 if rng.random() < 0.01 else 200))
    if walker:
        for k in range(int(15 * 60 * 3)):  # 3 req/s, sequential, ~8 % of ids missing
            status = 404 if rng.random() < 0.08 else 200
            out.append((WALK_AT + k / 3.0, f"/v1/orders/{500_000 + k}", "203.0.113.9", status))
    out.sort()
    return [_ev(t, p, c, s, i) for i, (t, p, c, s) in enumerate(out)]


def _enumerations(items: list[Incident]) -> list[Incident]:
    return [i for i in items if i.kind == "object_enumeration"]


def test_a_walk_of_order_ids_is_one_client_incident_and_shoppers_none() -> None:
    sink = MemorySink()
    p = Pipeline(Settings(), [sink])
    p.process(_events())
    p.finish()
    found = _enumerations(sink.items)
    assert found and {i.id for i in found} == {found[0].id}
    inc = found[0]
    assert inc.client == "203.0.113.9" and inc.route == "/v1/orders/{id}"
    assert inc.service == "orders" and inc.status == "open"
    assert "203.0.113.9 walked" in inc.summary and "GET /v1/orders/{id}" in inc.summary
    assert inc.evidence["sequential_share"] > 0.95

    quiet = MemorySink()
    q = Pipeline(Settings(), [quiet])
    q.process(_events(walker=False))
    q.finish()
    assert not _enumerations(quiet.items)


def test_restore_mid_walk_continues_like_an_uninterrupted_run() -> None:
    events = _events()
    whole = MemorySink()
    p = Pipeline(Settings(), [whole])
    p.process(events)
    p.finish()
    cut = next(i for i, e in enumerate(events) if e.ts > T0 + WALK_AT + 300)
    first, second = MemorySink(), MemorySink()
    a = Pipeline(Settings(), [first])
    a.process(events[:cut])
    assert a.object_enum.tracked  # the walk is in the checkpoint
    b = Pipeline(Settings(), [second])
    b.restore(a.snapshot())
    b.process(events[cut:])
    b.finish()
    got = _enumerations(first.items + second.items)
    want = _enumerations(whole.items)
    assert [i.model_dump_json() for i in got] == [i.model_dump_json() for i in want]


def test_a_snapshot_without_the_component_starts_it_fresh() -> None:
    from detector.state import dumps, loads

    a = Pipeline(Settings(), [MemorySink()])
    a.process(_events()[:2000])
    tree = loads(a.snapshot())
    del tree["object_enumeration"]
    b = Pipeline(Settings(), [MemorySink()])
    b.restore(dumps(tree))
    assert b.object_enum.tracked == 0
