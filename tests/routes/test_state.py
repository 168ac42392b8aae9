"""save_state / load_state: a loaded templater continues exactly like the original."""

from __future__ import annotations

import pytest

from detector.routes import RouteTemplater
from tests.routes.synthetic import realistic_paths


def test_round_trip_gives_identical_subsequent_templating() -> None:
    paths = list(realistic_paths(30_000, seed=21))
    original = RouteTemplater(collapse_threshold=30, max_nodes_per_service=400)
    for i, p in enumerate(paths[:15_000]):
        original.template(f"svc{i % 2}", p)
    saved = original.save_state()
    loaded = RouteTemplater.load_state(saved)
    assert loaded.save_state() == saved
    for i, p in enumerate(paths[15_000:]):
        assert loaded.template(f"svc{i % 2}", p) == original.template(f"svc{i % 2}", p)
    assert loaded.templates("svc0") == original.templates("svc0")
    assert loaded.node_count("svc1") == original.node_count("svc1")
    assert loaded.save_state() == original.save_state()


def test_config_and_odd_service_names_survive() -> None:
    t = RouteTemplater(collapse_threshold=7, max_depth=5, max_root_children=9)
    t.template("caf\udcffé", "/a/b")
    loaded = RouteTemplater.load_state(t.save_state())
    assert loaded.collapse_threshold == 7 and loaded.max_depth == 5
    assert loaded.max_root_children == 9
    assert loaded.templates("caf\udcffé") == ["/a/b"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"[]",
        b'{"format": "other"}',
        b'{"format": "detector.routes", "version": 99}',
        b'{"format": "detector.routes", "version": 1, "config": {"bogus": 1}, "services": []}',
        b'{"format": "detector.routes", "version": 1, "config": {}, "services": [["s", [0]]]}',
        b'{"format": "detector.routes", "version": 1, "config": {"max_depth": 1},'
        b' "services": [["s", [0, [["a", [0, [["b", [0, []]]]]]]]]]}',
    ],
)
def test_bad_state_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        RouteTemplater.load_state(data)
