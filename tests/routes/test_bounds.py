"""Memory stays bounded whatever the input: node and cache caps hold at every step."""

from __future__ import annotations

import random
import string

import pytest

from detector.routes import RouteTemplater
from detector.routes.templater import MAX_CACHED_PATH_LEN


def _hostile_paths(n: int, seed: int) -> list[str]:
    r = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_.%~"
    pool = ["".join(r.choices(alphabet, k=r.randint(1, 12))) for _ in range(200_000)]
    return ["/" + "/".join(r.choices(pool, k=r.randint(1, 8))) for _ in range(n)]


@pytest.mark.slow
def test_one_million_random_paths_respect_the_caps() -> None:
    t = RouteTemplater(max_nodes_per_service=5000, cache_size=50_000)
    services = ["a", "b", "c"]
    for i, path in enumerate(_hostile_paths(1_000_000, seed=5)):
        t.template(services[i % 3], path)
        if i % 5000 == 0:
            assert t.cached_paths() <= 50_000
            assert all(t.node_count(s) <= 5000 for s in services)
    assert all(t.node_count(s) <= 5000 for s in services)
    assert t.cached_paths() <= 50_000


def test_huge_and_deep_paths_give_bounded_templates() -> None:
    t = RouteTemplater(max_depth=16, max_segment_len=256)
    longest = 16 * (256 + 1) + len("/{rest}")
    for path in ["/" * 1_000_000, "/a" * 500_000, "/" + "x" * 1_000_000, "/%00" * 10_000]:
        out = t.template("s", path)
        assert out.startswith("/") and len(out) <= longest
    assert t.cached_paths() == 0  # paths over MAX_CACHED_PATH_LEN are never kept
    assert MAX_CACHED_PATH_LEN < 1_000_000
