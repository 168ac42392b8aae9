"""The analyzer's shortcuts compute exactly what the plain definitions do."""

from __future__ import annotations

import random
import string

from detector.analysis import param_stats as S
from detector.analysis import profiles as P
from detector.analysis import values as V
from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.profiles import KINDS, ProfileStore, value_kind

ALPHABET = string.ascii_letters + string.digits + string.punctuation + " \t\x00\x7fé✓-.@:"


def _classes_plain(value: str) -> int:
    bits = 0
    for i, cls in enumerate((V._LETTERS, V._DIGITS, V._PUNCT)):
        if any(c in cls for c in value):
            bits |= 1 << i
    if " " in value:
        bits |= 8
    if not value.isascii():
        bits |= 16
    if any(c in V._CONTROL for c in value):
        bits |= 32
    return bits


def _values(rng: random.Random, n: int) -> list[str]:
    fixed = [
        "",
        "0",
        "-1",
        "42",
        "1.5",
        "-1.5e3",
        "1e999",
        "true",
        "FALSE",
        "abc",
        "a1",
        "2026-03-17",
        "2026-03-17T10:00:00Z",
        "a@b.io",
        "https://x.io/a",
        "123e4567-e89b-12d3-a456-426614174000",
        "pm_7a99fa8c79",
        "hi you",
        "٣",
        "²",
    ]
    out = list(fixed)
    for _ in range(n):
        k = rng.choice((1, 3, 8, 20, 40))
        out.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, k))))
    return out


def test_value_info_matches_definitions() -> None:
    rng = random.Random(7)
    for v in _values(rng, 3000):
        kind, bits, x, b = V._value_info(v)
        assert kind == value_kind(v, "str")
        assert bits == (_classes_plain(v) if v else 0)
        assert bits == (V._classes(v) if v else 0)
        if kind in ("int", "float"):
            assert x == V._number(v)
            if x is not None:
                assert b == V._num_bin(x)
        else:
            assert x is None


def test_ok_kinds_matches_compatible() -> None:
    rng = random.Random(3)
    for _ in range(5000):
        kinds = {k: rng.randint(0, 5) for k in rng.sample(KINDS, rng.randint(0, 6))}
        floor = rng.choice([0, 0.5, 1, 2.5, 3])
        want = {k for k in KINDS if kinds.get(k, 0) > floor or S._compatible(k, kinds, floor)}
        assert S._ok_kinds(kinds, floor) == want


def test_required_cache_follows_learning_and_config() -> None:
    store = ProfileStore(min_history=5)
    for _ in range(20):
        store.learn("s", "GET", "/a", [("q", "x", "str"), ("page", "1", "str")])
    assert store.score("s", "GET", "/a", [("q", "x", "str")])[1] == [
        "missing parameter page (carried by 20 of 20 requests)"
    ]
    store.required_share = 2.0  # nothing is required any more: the cache must not say otherwise
    assert store.score("s", "GET", "/a", [("q", "x", "str")]) == (0.0, [])


def test_replacing_profiles_drops_cached_assessments() -> None:
    a = RequestAnalyzer(learn_online=False)
    a._assessed[("s", "GET", "/a", "q=1", None)] = ([], P._ZERO, 0)
    a.profiles = ProfileStore()
    assert a._assessed == {}
