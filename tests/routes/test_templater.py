"""RouteTemplater behaviour: normalisation, learned collapse, caps, cache, determinism."""

from __future__ import annotations

import pytest

from detector.routes import RouteTemplater
from tests.routes.synthetic import distinct_realistic_paths, realistic_paths


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("///", "/"),
        ("/api//v1///users/", "/api/v1/users"),
        ("/Api/V1/Users", "/Api/V1/Users"),  # case is kept
        ("api/v1", "/api/v1"),
        ("/search?q=shoes&page=2", "/search"),
        ("/docs#intro", "/docs"),
        ("https://shop.example/cart/42", "/cart/{id}"),
        ("/users/42", "/users/{id}"),
        ("/users/me", "/users/me"),
        ("/v2/payments/9f1c2ab3/refunds", "/v2/payments/{id}/refunds"),
        ("/catalog/items/SKU-19786", "/catalog/items/{id}"),
        ("/img/3f2a9c1be9d04c7a5b6e7f8091a2b3c4d5e6f708.png", "/img/{id}.png"),
        ("/docs/report-2024.pdf", "/docs/report-2024.pdf"),
        ("/files/caf%C3%A9/john%40example.com", "/files/caf%C3%A9/{id}"),
        ("/a/../../etc/passwd", "/a/../../etc/passwd"),
        ("/a/%00/b", "/a/{id}/b"),
        ("/users/{userId}/orders", "/users/{id}/orders"),
    ],
)
def test_single_paths(raw: str, expected: str) -> None:
    assert RouteTemplater().template("svc", raw) == expected


def test_depth_cap_ends_in_rest() -> None:
    t = RouteTemplater(max_depth=3)
    assert t.template("svc", "/a/b/c/d/e/f") == "/a/b/c/{rest}"
    assert t.template("svc", "/a/b/c") == "/a/b/c"
    assert t.templates("svc") == ["/a/b/c", "/a/b/c/{rest}"]


def test_long_segment_is_an_id() -> None:
    t = RouteTemplater(max_segment_len=10)
    assert t.template("svc", "/notes/" + "a" * 11) == "/notes/{id}"
    assert t.template("svc", "/notes/" + "a" * 10) == "/notes/" + "a" * 10


def test_slugs_collapse_while_small_sibling_sets_stay_literal() -> None:
    t = RouteTemplater()
    for i in range(10_000):
        slug = f"{['red', 'blue', 'green'][i % 3]}-shoes-{'abcdefghij'[i % 10]}{i:x}z"
        t.template("shop", f"/catalog/items/{slug.replace('0', 'o')}")
        t.template("shop", f"/api/v1/{['users', 'orders', 'health', 'carts', 'search'][i % 5]}")
    assert t.templates("shop") == [
        "/api/v1/carts",
        "/api/v1/health",
        "/api/v1/orders",
        "/api/v1/search",
        "/api/v1/users",
        "/catalog/items/{id}",
    ]
    assert t.template("shop", "/catalog/items/a-brand-new-slug") == "/catalog/items/{id}"


def test_collapse_merges_subtrees_and_invalidates_cached_paths() -> None:
    t = RouteTemplater(collapse_threshold=3)
    assert t.template("s", "/items/red/reviews") == "/items/red/reviews"
    assert t.template("s", "/items/blue/photos") == "/items/blue/photos"
    assert t.template("s", "/items/green") == "/items/green"
    assert t.template("s", "/items/mauve/reviews") == "/items/{id}/reviews"  # 4th: collapse
    assert t.template("s", "/items/red/reviews") == "/items/{id}/reviews"  # was cached
    assert t.templates("s") == ["/items/{id}", "/items/{id}/photos", "/items/{id}/reviews"]
    assert t.node_count("s") == 4


def test_nested_collapse_during_merge() -> None:
    t = RouteTemplater(collapse_threshold=3)
    for owner in ("ann", "bob"):
        for repo in ("alpha", "beta"):
            t.template("s", f"/repos/{owner}/{repo}")
    t.template("s", "/repos/cat/gamma")
    t.template("s", "/repos/dan/delta")  # /repos collapses; 4 repos under {id} collapse too
    assert t.templates("s") == ["/repos/{id}/{id}"]


def test_root_is_frozen_not_collapsed_by_scanners() -> None:
    t = RouteTemplater(collapse_threshold=5, max_root_children=20)
    assert t.template("s", "/api/v1/users") == "/api/v1/users"
    probes = [f"/probe{chr(97 + i % 26)}{chr(97 + i // 26)}.php" for i in range(300)]
    results = [t.template("s", p) for p in probes]
    assert results[:19] == probes[:19]
    assert set(results[19:]) == {"/{id}"}
    assert t.template("s", "/api/v1/users") == "/api/v1/users"


def test_node_cap_maps_unseen_literals_to_id() -> None:
    t = RouteTemplater(max_nodes_per_service=3)
    assert t.template("s", "/a/b/c") == "/a/b/c"
    assert t.template("s", "/a/b/d") == "/a/b/{id}"
    assert t.template("s", "/x/y") == "/{id}/{id}"
    assert t.template("s", "/a/b/c") == "/a/b/c"
    assert t.node_count("s") == 3


def test_services_are_independent() -> None:
    t = RouteTemplater(collapse_threshold=2)
    for s in ("a", "b", "c"):
        t.template("one", f"/x/{s}")
    assert t.template("one", "/x/a") == "/x/{id}"
    assert t.template("two", "/x/a") == "/x/a"


def test_realistic_api_gives_few_templates() -> None:
    t = RouteTemplater()
    for p in distinct_realistic_paths(50_000):
        assert t.template("shop", p).startswith("/")
    templates = t.templates("shop")
    assert len(templates) < 100
    for expected in [
        "/api/v1/users/me",
        "/api/v1/users/{id}/orders/{id}",
        "/api/v2/payments/{id}/refunds",
        "/catalog/items/{id}",
        "/catalog/items/{id}/reviews",
        "/img/{id}.png",
        "/docs/report-2024.pdf",
        "/files/{id}/avatar",
    ]:
        assert expected in templates


@pytest.mark.parametrize("cache_size", [0, 1, 97, 200_000])
def test_cache_never_changes_results(cache_size: int) -> None:
    # Replay and live must agree whatever their cache did: the cache is transparent.
    paths = list(realistic_paths(20_000, seed=11))
    reference = RouteTemplater(cache_size=0, collapse_threshold=20)
    other = RouteTemplater(cache_size=cache_size, collapse_threshold=20)
    assert [other.template("s", p) for p in paths] == [reference.template("s", p) for p in paths]
    assert other.cached_paths() <= cache_size


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        RouteTemplater(max_depth=0)


def test_a_root_full_of_probes_still_admits_a_new_application_route() -> None:
    # Scanners fill the root's literal slots within hours on any public service;
    # a route shipped afterwards (a word with something below it) keeps its name,
    # while one more single-segment probe or file name still maps to {id}.
    t = RouteTemplater()
    for i in range(300):
        t.template("svc", f"/probe{i}.php")
    assert t.template("svc", "/internal/debug/vars") == "/internal/debug/vars"
    assert t.template("svc", "/wp-admin-x") == "/{id}"
    assert t.template("svc", "/backup.zip/x") == "/{id}/x"
