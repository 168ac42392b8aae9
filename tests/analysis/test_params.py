"""Request parameter parsing: query strings, JSON and form bodies, bounded, never raising."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.analysis.params import (
    BODY_PARAM,
    MAX_DEPTH,
    MAX_PARAMS,
    MAX_VALUE_CHARS,
    parse_body,
    parse_query,
    parse_request,
)


def test_query_decoding_repeated_and_bracket_keys() -> None:
    got = parse_query("q=red+shoes&q=blue%20hat&flag&empty=&a[b][c]=1&ids[0]=7&ids[]=8&%7Bx%7D=y")
    assert got == [
        ("q", "red shoes", "str"), ("q", "blue hat", "str"), ("_query", "flag", "str"),
        ("empty", "", "str"), ("a.b.c", "1", "str"), ("ids[]", "7", "str"),
        ("ids[]", "8", "str"), ("{x}", "y", "str"),
    ]  # fmt: skip


def test_query_bounds() -> None:
    many = "&".join(f"p{i}={i}" for i in range(1000))
    assert len(parse_query(many)) == MAX_PARAMS
    (one,) = parse_query("v=" + "x" * 100_000)
    assert len(one[1]) == MAX_VALUE_CHARS


def test_bad_percent_encoding_is_kept_not_raised() -> None:
    assert parse_query("q=%ZZ%e2%28%a1&r=%") == [
        ("q", "%ZZ\ufffd(\ufffd", "str"),
        ("r", "%", "str"),
    ]


def test_json_flattening_and_types() -> None:
    body = orjson.dumps({
        "user": {"address": {"zip": "75001"}, "age": 41},
        "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1.5}],
        "ok": True, "note": None, "meta": {}, "tags": [],
    }).decode()  # fmt: skip
    assert parse_body(body) == [
        ("user.address.zip", "75001", "str"), ("user.age", "41", "int"),
        ("items[].sku", "A1", "str"), ("items[].qty", "2", "int"),
        ("items[].sku", "B2", "str"), ("items[].qty", "1.5", "float"),
        ("ok", "true", "bool"), ("note", "", "null"), ("meta", "{}", "object"),
        ("tags[]", "[]", "array"),
    ]  # fmt: skip


def test_json_depth_is_bounded() -> None:
    deep: object = "x"
    for _ in range(50):
        deep = {"a": deep}
    (param,) = parse_body(orjson.dumps(deep).decode())
    name, value, kind = param
    assert name.count(".") == MAX_DEPTH - 1 and kind == "object" and value.startswith('{"a"')


def test_top_level_array_scalar_and_broken_json() -> None:
    assert parse_body("[1, 2]") == [("[]", "1", "int"), ("[]", "2", "int")]
    assert parse_body('{"a": 1, "b": ') == [(BODY_PARAM, '{"a": 1, "b": ', "str")]
    assert parse_body("<xml>hi</xml>") == [(BODY_PARAM, "<xml>hi</xml>", "str")]


def test_form_body_and_request_limit() -> None:
    assert parse_body("user=ann&remember=on\n") == [
        ("user", "ann", "str"),
        ("remember", "on", "str"),
    ]
    query = "&".join(f"q{i}=1" for i in range(60))
    body = orjson.dumps({f"b{i}": i for i in range(60)}).decode()
    got = parse_request(query, body)
    assert len(got) == MAX_PARAMS and got[59][0] == "q59" and got[60][0] == "b0"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.one_of(st.none(), st.text(max_size=400)))
def test_never_raises_on_hostile_text(query: str, body: str | None) -> None:
    for name, value, kind in parse_request(query, body):
        assert isinstance(name, str) and isinstance(value, str)
        assert kind in ("str", "int", "float", "bool", "null", "object", "array")
        assert len(value) <= MAX_VALUE_CHARS


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=60,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_never_raises_on_any_json(doc: object) -> None:
    got = parse_body(orjson.dumps(doc).decode())
    assert len(got) <= MAX_PARAMS
