"""The plain-id shortcut of the cache gives exactly the templates of a full walk."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.routes import RouteTemplater
from detector.routes.templater import _PLAIN_IDS


def _paths(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    shapes = [
        "/api/v1/users/{n}/orders/{n}",
        "/v2/customers/{u}/payment-methods",
        "/catalog/items/{n}",
        "/{n}/x",
        "/a/{n}/",
        "//b//{n}",
        "/c/{n}.json",
        "/d/{u}/{n}",
        "/e/{w}",
        "/f/0{n}",
        "/g/SKU-{n}/stock",
        "/h/ord_{n}",
        "/img/{h}.png",
        "/img/thumbs/{h}.jpg",
    ]
    out = []
    for _ in range(n):
        tpl = rng.choice(shapes)
        p = tpl.replace("{n}", str(rng.randint(0, 10**9)), 1).replace(
            "{n}", str(rng.randint(0, 99))
        )
        p = p.replace(
            "{u}",
            "-".join(f"{rng.getrandbits(4 * n):0{n}x}" for n in (8, 4, 4, 4, 12)),
        )
        p = p.replace("{h}", f"{rng.getrandbits(160):040x}")
        p = p.replace(
            "{w}", rng.choice(["red", "blue", "green", "x1", "y2"]) + str(rng.randint(0, 80))
        )
        out.append(p)
    return out


def test_shortcut_matches_full_walk_on_a_realistic_stream() -> None:
    fast = RouteTemplater(collapse_threshold=20)
    slow = RouteTemplater(collapse_threshold=20, cache_size=0)
    for p in _paths(20_000, 1):
        # _miss is the full walk, with no cache and no shortcut in front of it.
        assert fast.template("s", p) == slow._miss("s", p), p


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "1",
                "42",
                "007",
                "v2",
                "users",
                "",
                "{id}",
                "3f2a9c1b-0000-4000-8000-00000000abcd",
                "x.png",
                "12.5",
                "SKU-19786",
                "ord_1234567",
                "SKU-1978",
                "SKU-19786x",
                "3f2a9c1be9d04c7a.png",
                "deadbeefcafe.png",
                "12345678.jpg",
                "3f2a9c1be9d04c7a.tar.gz",
                "3f2a9c1be9d04c7a.png\n",
            ]
        ),
        max_size=8,
    )
)
def test_shortcut_is_equivalent_for_any_segments(segs: list[str]) -> None:
    path = "/" + "/".join(segs)
    norm = _PLAIN_IDS.sub("/{id}", path)
    assert RouteTemplater(cache_size=0)._miss("s", path) == RouteTemplater(cache_size=0)._miss(
        "s", norm
    )
    more = RouteTemplater().normalise_more(norm)
    assert RouteTemplater(cache_size=0)._miss("s", path) == RouteTemplater(cache_size=0)._miss(
        "s", more
    )


def test_hashed_names_longer_than_a_segment_stay_whole_ids() -> None:
    # Past max_segment_len a hashed file name is {id}, extension and all: the
    # shortcut that keeps the extension must not apply.
    for limit in (12, 40, 255, 256):
        fast = RouteTemplater(max_segment_len=limit)
        slow = RouteTemplater(max_segment_len=limit, cache_size=0)
        for p in _paths(3_000, limit):
            assert fast.template("s", p) == slow._miss("s", p), (limit, p)
