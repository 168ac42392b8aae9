"""Learned request profiles: what they flag, what they leave alone, bounds, persistence."""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.analysis.params import Param, parse_body, parse_query
from detector.analysis.profiles import ProfileStore, value_kind

WORDS = ["red shoes", "dyson", "o'reilly books", "usb-c cable", "tv 55 inch", "lego", "Café crème"]


def charge(rng: random.Random) -> list[Param]:
    body = {
        "amount": rng.randint(1, 40) * rng.choice([1, 10, 100]),
        "currency": rng.choice(["EUR", "USD", "GBP"]),
        "customer": f"cus_{rng.getrandbits(36):09x}",
        "capture": rng.random() < 0.7,
        "description": f"Order #{rng.randint(1000, 999999)}",
    }
    if rng.random() < 0.3:
        body["metadata"] = {"cart": f"c{rng.randint(1, 99999)}"}
    return parse_body(orjson.dumps(body).decode())


def search(rng: random.Random) -> list[Param]:
    q = f"q={rng.choice(WORDS).replace(' ', '+')}"
    if rng.random() < 0.6:
        q += f"&page={rng.randint(1, 10)}"
    return parse_query(q)


@pytest.fixture(scope="module")
def store() -> ProfileStore:
    s = ProfileStore()
    rng = random.Random(1)
    for _ in range(2000):
        s.learn("pay", "POST", "/v2/charges", charge(rng))
        s.learn("shop", "GET", "/search", search(rng))
    return s


def base(rng: random.Random) -> dict[str, object]:
    return {
        "amount": 500,
        "currency": "EUR",
        "customer": "cus_0a1b2c3d4",
        "capture": True,
        "description": f"Order #{rng.randint(1000, 99999)}",
    }


def score_body(store: ProfileStore, body: dict[str, object]) -> tuple[float, list[str]]:
    return store.score("pay", "POST", "/v2/charges", parse_body(orjson.dumps(body).decode()))


def test_normal_variety_is_not_flagged(store: ProfileStore) -> None:
    rng = random.Random(99)  # unseen values from the same distribution
    scores = [store.score("pay", "POST", "/v2/charges", charge(rng))[0] for _ in range(1000)]
    scores += [store.score("shop", "GET", "/search", search(rng))[0] for _ in range(1000)]
    assert sum(s >= 0.5 for s in scores) == 0
    assert sum(s > 0 for s in scores) <= 20


def test_unknown_parameter(store: ProfileStore) -> None:
    s, why = score_body(store, {**base(random.Random(0)), "coupon": "X"})
    assert s >= 0.5 and len(why) == 1
    # the evidence: what was expected and how much traffic says so
    assert why[0] == ("unknown parameter coupon: never seen on POST /v2/charges in 2,000 "
                      "requests; known: amount, currency, customer, capture, description, "
                      "metadata.cart")


def test_mass_assignment_weighs_more(store: ProfileStore) -> None:
    plain, _ = score_body(store, {**base(random.Random(0)), "coupon": "X"})
    for name in ("is_admin", "role", "isAdmin", "account_balance", "permissions"):
        s, why = score_body(store, {**base(random.Random(0)), name: True})
        assert s > plain and s >= 0.85, name
        assert why[0].startswith(f"unknown parameter {name}")


def test_long_value(store: ProfileStore) -> None:
    s, why = score_body(store, {**base(random.Random(0)), "currency": "E" * 600})
    assert s >= 0.9 and why == ["currency: length 600 (usual 3)"]


def test_object_where_scalar_lives(store: ProfileStore) -> None:
    s, why = score_body(store, {**base(random.Random(0)), "amount": {"$gt": 0}})
    assert s >= 0.8 and why[0] == "amount: object where int lives"
    s, why = score_body(store, {**base(random.Random(0)), "currency": ["EUR", "USD"]})
    assert s >= 0.8 and why[0] == "currency: array where text lives"


def test_numeric_range(store: ProfileStore) -> None:
    s, why = score_body(store, {**base(random.Random(0)), "amount": 10**18})
    assert s >= 0.9 and why[0].startswith("amount: 1e+18 beyond learned range [1, 4")
    s, why = score_body(store, {**base(random.Random(0)), "amount": -5})
    assert s >= 0.5 and why[0].startswith("amount: negative -5")


def test_type_change_and_enum(store: ProfileStore) -> None:
    s, why = score_body(store, {**base(random.Random(0)), "amount": "12 OR 1=1"})
    assert s >= 0.5 and why == ["amount: text where int lives"]
    # A new currency in 2,000 requests that only ever carried three: rare (enumeration
    # novelty never seen once warm), and explained by what was known.
    s, why = score_body(store, {**base(random.Random(0)), "currency": "JPY"})
    assert s >= 0.5 and any(
        r.startswith("currency: value outside its 3 known values (") for r in why)


def test_control_characters_and_missing_required(store: ProfileStore) -> None:
    s, why = store.score("shop", "GET", "/search", parse_query("q=lego%00%0d%0aSet-Cookie:x"))
    assert s >= 0.5 and "q: control characters" in why
    body = base(random.Random(0))
    del body["currency"]
    s, why = score_body(store, body)
    # carried by every one of 2,000 requests: its absence is rare evidence
    assert s >= 0.5 and why == ["missing parameter currency (carried by 2,000 of 2,000 requests)"]


def test_quiet_route_scores_zero() -> None:
    s = ProfileStore(min_history=50)
    for i in range(49):
        s.learn("svc", "GET", "/rare", [("id", str(i), "str")])
    assert s.score("svc", "GET", "/rare", [("is_admin", "{}", "object")]) == (0.0, [])
    assert s.score("svc", "GET", "/never", [("x", "y", "str")]) == (0.0, [])


def test_save_load_round_trip(store: ProfileStore) -> None:
    again = ProfileStore.load_state(store.save_state())
    rng = random.Random(5)
    for _ in range(200):
        p = charge(rng)
        assert again.score("pay", "POST", "/v2/charges", p) == store.score(
            "pay", "POST", "/v2/charges", p
        )
    assert again.save_state() == store.save_state()
    doc = orjson.loads(store.save_state())
    assert doc["format"] == "detector.profiles" and doc["version"] == 2
    for bad in (
        b"{}",
        b"not json",
        orjson.dumps({**doc, "version": 99}),
        orjson.dumps({**doc, "routes": [{"service": "x"}]}),
    ):
        with pytest.raises(ValueError, match="profile state"):
            ProfileStore.load_state(bad)


def test_memory_is_bounded() -> None:
    s = ProfileStore(max_params=10, max_enum=4, max_routes=3)
    for i in range(500):
        s.learn("svc", "POST", f"/r{i % 5}", [(f"k{i}", f"v{i}", "str"), ("e", str(i), "str")])
    assert len(s) == 3
    doc = orjson.loads(s.save_state())
    for route in doc["routes"]:
        assert len(route["params"]) <= 10
        assert route["params"]["e"]["values"] is None  # more than 4 distinct: not an enum
    # a full name table makes unknown names weak evidence
    score, _ = s.score("svc", "POST", "/r0", [("brand_new", "1", "str")])
    assert score < 0.5


def test_value_kinds() -> None:
    cases = {
        "123": "int",
        "-7": "int",
        "3.14": "float",
        "1e+18": "float",
        "false": "bool",
        "550e8400-e29b-41d4-a716-446655440000": "uuid",
        "ann@example.com": "email",
        "2026-03-17T09:06:00Z": "date",
        "https://x.io/a?b=c": "url",
        "tok_9f8e7d6c": "token",
        "hello world": "text",
        "": "empty",
        "١٢٣": "text",
    }
    assert {v: value_kind(v, "str") for v in cases} == cases


hostile = st.lists(
    st.tuples(
        st.text(max_size=30),
        st.text(max_size=300),
        st.sampled_from(["str", "int", "float", "bool", "null", "object", "array", "??"]),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(hostile, min_size=1, max_size=80), hostile)
def test_never_raises_on_hostile_input(train: list[list[Param]], probe: list[Param]) -> None:
    s = ProfileStore(min_history=5, max_params=20)
    for params in train:
        s.learn("svc", "POST", "/x", params)
    score, reasons = s.score("svc", "POST", "/x", probe)
    assert 0.0 <= score <= 1.0 and all(isinstance(r, str) for r in reasons)
    assert ProfileStore.load_state(s.save_state()).score("svc", "POST", "/x", probe)[0] == score


@pytest.mark.parametrize("query,why", [
    ("q=r%ED%A0%80", "not UTF-8"),  # a CESU-8 surrogate from a broken encoder
    ("q=shoes%FF%FE", "not UTF-8"),  # a UTF-16 byte order mark
    ("q=%E9t%E9", "not UTF-8"),  # Latin-1 where the route takes UTF-8
    ("q=%EF%BB%BFlego", "byte order mark"),
])
def test_broken_encoding_in_a_search_box_is_flagged(store: ProfileStore, query: str,
                                                    why: str) -> None:
    score, reasons = store.score("shop", "GET", "/search", parse_query(query))
    assert score >= 0.5 and any(why in r for r in reasons), (score, reasons)


def test_broken_encoding_is_not_news_where_clients_always_sent_it() -> None:
    # An old site whose clients send Latin-1 queries: replacement characters are its normal.
    s = ProfileStore()
    rng = random.Random(3)
    for _ in range(400):
        word = "".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 8)))
        s.learn("old", "GET", "/find", parse_query(f"q={word}{rng.choice(['%E9', ''])}"))
    assert s.score("old", "GET", "/find", parse_query("q=cafe%E9"))[0] < 0.5
    assert s.score("shop", "GET", "/search", parse_query("q=Caf%C3%A9+cr%C3%A8me"))[0] == 0.0


def test_nested_values_learned_while_the_route_was_cold_are_still_a_type_break() -> None:
    # A campaign that starts as the route warms up: a few of its arrays get learned.
    s = ProfileStore()
    for i in range(300):
        s.learn("pay", "POST", "/token", parse_body(
            orjson.dumps({"grant_type": "client_credentials", "client_id": f"cli_{i:06x}"})
            .decode()))
    for _ in range(6):
        s.learn("pay", "POST", "/token", parse_body(
            '{"grant_type": ["client_credentials", "client_credentials"], "client_id": "c"}'))
    score, reasons = s.score("pay", "POST", "/token", parse_body(
        '{"grant_type": ["client_credentials", "client_credentials"], "client_id": "cli_9"}'))
    assert score >= 0.5 and reasons[0] == "grant_type: array where token lives"


def test_privilege_name_new_to_the_service_is_flagged_on_a_route_still_learning(
        store: ProfileStore) -> None:
    s = ProfileStore()
    rng = random.Random(5)
    for _ in range(2500):
        s.learn("pay", "POST", "/v2/charges", charge(rng))
    for i in range(40):  # a sign-up route two hours in: far from warm
        s.learn("pay", "POST", "/v2/users", parse_body(orjson.dumps(
            {"email": f"u{i}@example.org", "name": f"user {i}"}).decode()))
    mass = parse_body('{"email": "x@example.org", "name": "x", "is_admin": true}')
    score, reasons = s.score("pay", "POST", "/v2/users", mass)
    assert score >= 0.5 and "is_admin" in reasons[0] and "still learning" in reasons[0]
    # Not a name the service carries elsewhere, nor an ordinary new name.
    assert s.score("pay", "POST", "/v2/users", parse_body(
        '{"email": "x@example.org", "currency": "EUR", "nickname": "x"}'))[0] == 0.0
    # Nor on a route with too few requests to say what it carries.
    s.learn("pay", "POST", "/v2/teams", parse_body('{"name": "a"}'))
    assert s.score("pay", "POST", "/v2/teams", parse_body('{"role": "admin"}'))[0] == 0.0
