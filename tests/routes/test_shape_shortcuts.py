"""The one-match verdicts of shape() agree with the full analysis on everything they match."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from detector.routes.shapes import _HASHED_FILE, _PREFIXED_NUMBER, analysed_shape, shape

_LETTERS = st.text(string.ascii_letters, min_size=1, max_size=40)
_DIGITS = st.text(string.digits, min_size=5, max_size=40)
_HEX = st.text(string.hexdigits, min_size=8, max_size=80)
_EXT = st.tuples(st.sampled_from(string.ascii_letters),
                 st.text(string.ascii_letters + string.digits, max_size=7)).map("".join)


@settings(max_examples=2000, deadline=None)
@given(_LETTERS, st.sampled_from("-_"), _DIGITS)
def test_prefixed_numbers_are_ids_either_way(prefix: str, sep: str, number: str) -> None:
    seg = prefix + sep + number
    assert _PREFIXED_NUMBER.fullmatch(seg) is not None
    assert shape(seg) == analysed_shape(seg) == "{id}"


@settings(max_examples=2000, deadline=None)
@given(_HEX, _EXT)
def test_hashed_files_either_way(stem: str, ext: str) -> None:
    seg = f"{stem}.{ext}"
    assert _HASHED_FILE.fullmatch(seg) is not None
    assert shape(seg) == analysed_shape(seg)


@settings(max_examples=3000, deadline=None)
@given(st.text(string.ascii_letters + string.digits + "-_.%@{}~:", max_size=60))
def test_any_segment_either_way(seg: str) -> None:
    assert shape(seg) == analysed_shape(seg)


def test_the_shortcuts_decide_what_they_should() -> None:
    assert shape("SKU-19786") == "{id}" and shape("ord_123456") == "{id}"
    assert shape("3f2a9c1be9d04c7a.png") == "{id}.png"
    # Outside them the full analysis decides: hex letters only, a short number.
    assert shape("deadbeefcafe.png") is None and shape("top-10") is None
