"""Issue 8 item 18: no unusual_payload before a route's profile can judge, and
valueless or positional queries (``?95,177``) are a query shape, not a parameter.

Before the fix a route was judged after 50 requests and a parameter after 10
values (a simulated run raised ``price_min: 0 beyond learned range [10, 90]``
three minutes in), and every image-map click of the NASA trace was an
"unknown parameter 95,177" for three hours.
"""

from __future__ import annotations

import random

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.params import QUERY_PARAM, parse_query
from detector.analysis.profiles import ProfileStore
from detector.events import AccessEvent


def _filters(rng: random.Random, price_min: int) -> list[tuple[str, str, str]]:
    return parse_query(f"category=shoes&limit=24&price_min={price_min}"
                       f"&price_max={price_min + rng.randrange(20, 200)}")


def test_a_few_minutes_of_history_judge_nothing() -> None:
    rng = random.Random(7)
    store = ProfileStore()
    for _ in range(60):  # a busy route's first minutes: price_min seen 60 times in [10, 90]
        store.learn("catalog", "GET", "/v1/products", _filters(rng, rng.randrange(10, 91)))
    for q in (_filters(rng, 0), parse_query("category=shoes&limit=24&sort=new")):
        assert store.score("catalog", "GET", "/v1/products", q) == (0.0, [])


def test_a_mature_profile_still_flags() -> None:
    rng = random.Random(8)
    store = ProfileStore()
    for _ in range(400):
        store.learn("catalog", "GET", "/v1/products", _filters(rng, rng.randrange(10, 91)))
    s, why = store.score("catalog", "GET", "/v1/products",
                         parse_query("category=shoes&limit=24&price_min=-5&is_admin=1"))
    assert s >= 0.5
    assert any(r.startswith("unknown parameter is_admin (privilege-like name)") for r in why)
    assert any(r.startswith("price_min: negative") for r in why)


def test_positional_query_is_a_shape_not_a_name() -> None:
    assert parse_query("95%2C177") == [(QUERY_PARAM, "95,177", "str")]
    assert parse_query("wsdl&v=2") == [(QUERY_PARAM, "wsdl", "str"), ("v", "2", "str")]
    rng = random.Random(9)
    store = ProfileStore()

    def click() -> list[tuple[str, str, str]]:
        return parse_query(f"{rng.randrange(0, 400)},{rng.randrange(0, 300)}")

    for i in range(600):  # an image map: half the requests carry click coordinates
        store.learn("default", "GET", "/cgi-bin/imagemap/countdown", click() if i % 2 else [])
    for _ in range(200):
        assert store.score("default", "GET", "/cgi-bin/imagemap/countdown", click()) == (0.0, [])


def test_online_analyzer_raises_nothing_during_cold_start() -> None:
    rng = random.Random(10)
    a = RequestAnalyzer(learn_online=True)
    flagged = []
    for i in range(150):  # one request every 2 s: the route's first five minutes
        pm = 0 if i >= 60 and i % 15 == 0 else rng.randrange(10, 91)  # a first price_min=0
        q = f"category=shoes&price_min={pm}" + ("&color=red" if i % 40 == 39 else "")
        ev = AccessEvent(2.0 * i, "catalog", None, "GET", "/v1/products", q, 200, None, None,
                         f"198.51.100.{i % 50}", "ShopApp/5.9", None, None, "t.log", i + 1)
        f = a.analyze(ev, "/v1/products")
        if f is not None:
            flagged.append((i, f.reasons))
    assert flagged == []


def test_one_busy_first_window_meets_the_profile_as_it_found_it() -> None:
    """A cold route's first window (one analyzer batch) holding 2,000 requests without a
    query and 1,000 with its usual ``q``/``page``: before the fix the parameter-less
    ones were learned first, the profile looked warm and parameter-free, and every
    request with a query was an "unknown parameter q" (1,567 of them in
    scripts/bench_memory.py's first minute)."""
    a = RequestAnalyzer(learn_online=True)
    events = [AccessEvent(1e9 + i / 50, "orders", "1", "GET", f"/v1/orders/{1000 + i}",
                          f"q=red&page={i % 9}" if i % 3 == 0 else "", 200, 0.02, 900,
                          f"10.0.{i // 256}.{i % 256}", "ua", None, None, "f", i)
              for i in range(3000)]
    found = a.findings(events, ["/v1/orders/{id}"] * len(events))
    assert [f for f in found if f is not None and f.score >= a.threshold] == []
    # the next window judges with everything the first one taught
    later = AccessEvent(1e9 + 100, "orders", "1", "GET", "/v1/orders/7", "q=red&is_admin=1",
                        200, 0.02, 900, "10.9.9.9", "ua", None, None, "f", 4000)
    f = a.findings([later], ["/v1/orders/{id}"])[0]
    assert f is not None and any("is_admin" in r for r in f.reasons)
