"""Normalisation: the decoded variants signatures match on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.analysis.normalize import MAX_FIELD_CHARS, decode, sql_compact, variants


@pytest.mark.parametrize(
    ("raw", "kwargs", "expected"),
    [
        ("%2527", {}, "'"),  # double encoding
        ("%252e%252e%252f", {}, "../"),
        ("%25252e", {}, "."),  # triple encoding
        ("a+b%2Bc", {"form": True}, "a b+c"),  # '+' is a space only on the first layer
        ("a+b", {}, "a+b"),
        ("%u0027%u003cscript", {}, "'<script"),
        ("%c0%ae%c0%ae%c0%af", {}, "../"),  # overlong UTF-8
        ("%e0%80%ae", {}, "."),
        ("%f8%80%80%80%ae%fc%80%80%80%80%ae", {}, ".."),  # 5- and 6-byte overlong forms
        ("%c1%9c", {}, "\\"),
        ("&#x27;&#39;&lt;&gt;&quot;&amp;", {}, "''<>\"&"),
        ("&#60;script&#62;", {}, "<script>"),
        ("ja&Tab;vascript&colon;", {}, "ja\tvascript:"),
        ("ja&TAB;vascript", {}, "ja\tvascript"),  # case-mangled entity names
        ("\\u003cscript\\x3e", {}, "<script>"),
        ('{"a": "x\\" or \\"1\\"=\\"1"}', {"json_like": True}, '{"a": "x" or "1"="1"}'),
        ("a%00b\x00c", {}, "abc"),  # NUL removal
        ("SeLeCt", {}, "select"),  # case folding
        ("\uff1cscript\uff1e", {}, "<script>"),  # NFKC fullwidth
        ("..%u2216..%u2215", {}, "..\\../"),  # best-fit slashes
        ("169\u3002254", {}, "169.254"),
    ],
)
def test_decode(raw: str, kwargs: dict[str, bool], expected: str) -> None:
    assert decode(raw, **kwargs) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1/**/union/**/select/**/1", "1 union select 1"),
        ("/*!50000select*/ password", "select password"),
        ("/*!union*/ /*!select*/", "union select"),
        ("admin' -- comment", "admin'"),
        ("admin'#\nor 1", "admin' or 1"),
        ("a  \t\n b", "a b"),
        ("unterminated /* comment", "unterminated"),
    ],
)
def test_sql_compact(text: str, expected: str) -> None:
    assert sql_compact(text) == expected


def test_variants_are_distinct_and_lowercase() -> None:
    out = variants("Q=%27%20OR%201%3D1", form=True)
    assert out == ("q=%27%20or%201%3d1", "q=' or 1=1")
    assert variants("plain") == ("plain",)


def test_work_is_capped() -> None:
    big = "%2525" * MAX_FIELD_CHARS
    assert all(len(v) <= MAX_FIELD_CHARS for v in variants(big))
    assert len(decode("a" * (MAX_FIELD_CHARS * 2))) == MAX_FIELD_CHARS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.booleans(), st.booleans())
def test_never_raises(text: str, form: bool, json_like: bool) -> None:
    for v in variants(text, form=form, json_like=json_like):
        assert v == v.lower() or not v.isascii()
        v.encode("utf-8", "surrogatepass")
