"""What a request parameter value looks like: its kind, character classes and number.

Pure functions of the text alone (no learned state), memoised for short values:
the shared memo can never change a decision, whichever route or service asks.

>>> value_kind("2026-03-17", "str"), bin(_classes("a1!")), _num_bin(99.0)
('date', '0b111', 20)
"""

from __future__ import annotations

import math
import re

import orjson

__all__ = ["CLASS_NAMES", "KINDS", "value_kind"]

KINDS = (
    "int",
    "float",
    "bool",
    "null",
    "empty",
    "uuid",
    "email",
    "token",
    "date",
    "url",
    "text",
    "object",
    "array",
)
_NUM_SCALE = 10  # numeric histogram bins per decade of sign(x) * log10(1 + |x|)
_MAX_NUM_BIN = 40 * _NUM_SCALE

# Character classes, as bits: letters, digits, punctuation, space, non-ASCII, control.
CLASS_NAMES = (
    "letters",
    "digits",
    "punctuation",
    "spaces",
    "non-ASCII characters",
    "control characters",
)
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_CONTROL = frozenset([chr(i) for i in range(32)] + ["\x7f"])
# class bits -> indexes of the classes set in them
_BIT_INDEXES = tuple(
    tuple(i for i in range(len(CLASS_NAMES)) if bits >> i & 1)
    for bits in range(1 << len(CLASS_NAMES))
)

# Linear patterns only (no nested quantifiers), applied to length-checked values.
_FLOAT = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+(?:\.\d*)?[eE][+-]?\d+)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~:]+")
# the local part of an address as forms accept it: no second '@', no quotes or spaces
_LOCAL = re.compile(r"[A-Za-z0-9_\-.+%!#&*=?^{}|~/$]+")
_STRINGY = frozenset(
    {"int", "float", "bool", "empty", "uuid", "email", "token", "date", "url", "text"}
)


def value_kind(value: str, json_type: str) -> str:
    """What a value looks like (one of :data:`KINDS`).

    >>> [value_kind(v, "str") for v in ("42", "-1.5e3", "TRUE", "", "2026-03-17", "a@b.io")]
    ['int', 'float', 'bool', 'empty', 'date', 'email']
    >>> [value_kind(v, t) for v, t in (("7", "int"), ("pm_7a99fa8c79", "str"), ("hi you", "str"))]
    ['int', 'token', 'text']
    """
    if json_type != "str":
        return json_type if json_type in KINDS else "text"
    n = len(value)
    if n == 0:
        return "empty"
    if (
        n <= 20
        and value.isascii()
        and (value.isdigit() or (value[0] == "-" and value[1:].isdigit()))
    ):
        return "int"
    if n <= 32 and value.isascii() and _FLOAT.fullmatch(value):
        return "float"
    if n <= 5 and value.lower() in ("true", "false"):
        return "bool"
    if n == 36 and _UUID.fullmatch(value):
        return "uuid"
    if 10 <= n <= 40 and value[:4].isdigit() and _DATE.fullmatch(value):
        return "date"
    if n <= 254 and "@" in value:
        local, _, domain = value.rpartition("@")
        if local and "." in domain[1:-1] and _TOKEN.fullmatch(domain) and _LOCAL.fullmatch(local):
            return "email"
    if n <= 2048 and value.startswith(("http://", "https://")) and " " not in value:
        return "url"
    if n >= 2 and value[0] in "{[" and value[-1] in "}]":  # JSON smuggled into a string
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(doc, dict):
                return "object"
            if isinstance(doc, list):
                return "array"
    if 6 <= n <= 128 and _TOKEN.fullmatch(value) and not value.isalpha():
        return "token"
    return "text"


def _classes(value: str) -> int:
    if value.isascii() and value.isalnum():  # letters and digits only: most values
        return (0 if value.isdigit() else 1) | (0 if value.isalpha() else 2)
    chars = set(value)
    bits = 0
    if not chars.isdisjoint(_LETTERS):
        bits |= 1
    if not chars.isdisjoint(_DIGITS):
        bits |= 2
    if not chars.isdisjoint(_PUNCT):
        bits |= 4
    if " " in chars:
        bits |= 8
    if not value.isascii():
        bits |= 16
    if not chars.isdisjoint(_CONTROL):
        bits |= 32
    return bits


def _num_bin(x: float) -> int:
    f = math.copysign(math.log10(1.0 + abs(x)), x) if math.isfinite(x) else math.copysign(40, x)
    return max(-_MAX_NUM_BIN, min(_MAX_NUM_BIN, math.floor(f * _NUM_SCALE)))


# value -> (kind as a "str" value, character-class bits, number or None, its bin): pure
# functions of the text alone, memoised (values repeat a lot). Never depends on learned
# state, so sharing it across routes and services cannot change a decision.
_VALUE_MEMO_MAX = 1 << 16
_VALUE_MEMO_LEN = 128  # longer values are computed every time
_value_memo: dict[str, tuple[str, int, float | None, int]] = {}


def _value_info(value: str) -> tuple[str, int, float | None, int]:
    """(value_kind(value, "str"), _classes(value), number, numeric bin) of one value."""
    info = _value_memo.get(value)
    if info is None:
        kind = value_kind(value, "str")
        bits = _classes(value) if value else 0
        x = _number(value) if kind in ("int", "float") else None
        info = (kind, bits, x, _num_bin(x) if x is not None else 0)
        if len(value) <= _VALUE_MEMO_LEN:
            if len(_value_memo) >= _VALUE_MEMO_MAX:
                _value_memo.clear()
            _value_memo[value] = info
    return info


def _bin_value(b: int) -> float:
    f = b / _NUM_SCALE
    return math.copysign(10 ** abs(f) - 1.0, f)


def _number(value: str) -> float | None:
    try:
        x = float(value)
    except (ValueError, OverflowError):
        return None
    return x if not math.isnan(x) else None


def _fmt(x: float) -> str:
    return f"{x:.6g}"


# -- characters and letter pairs (the shape models of free text) -------------------------
# A value's characters as bits of one int (ASCII by code point, other characters folded
# into 128 more bits), and its letter pairs (bigrams, case-folded, with start and end
# markers, digits folded into one) hashed into NGRAM_BITS bits. Learned masks are ORs of
# these; what a value brings that its parameter never carried is one AND with the
# inverted mask.
NGRAM_BITS = 4096
NGRAM_FULL = (1 << NGRAM_BITS) - 1
_NGRAM_CHARS = 64  # letter pairs of longer values: the first 64 characters
_FOLD_DIGITS = str.maketrans("123456789", "000000000")
_EDGE = 0x110000  # start/end marker, outside Unicode
_mask_memo: dict[str, tuple[int, int]] = {}


def _masks(value: str) -> tuple[int, int]:
    """(character mask, letter-pair mask) of one value; pure, memoised for short values.

    >>> c, g = _masks("ab"); bin(c).count("1"), bin(g).count("1")  # a, b; ^a, ab, b$
    (2, 3)
    """
    got = _mask_memo.get(value)
    if got is not None:
        return got
    cm = 0
    for ch in set(value):
        o = ord(ch)
        cm |= 1 << (o if o < 128 else 128 + o % 128)
    gm = 0
    prev = _EDGE
    for ch in value[:_NGRAM_CHARS].lower().translate(_FOLD_DIGITS):  # 12 and 97 alike
        o = ord(ch)
        gm |= 1 << ((prev * 257 + o) % NGRAM_BITS)
        prev = o
    gm |= 1 << ((prev * 257 + _EDGE) % NGRAM_BITS)
    got = (cm, gm)
    if len(value) <= _VALUE_MEMO_LEN:
        if len(_mask_memo) >= _VALUE_MEMO_MAX:
            _mask_memo.clear()
        _mask_memo[value] = got
    return got


def chars_of(value: str, mask: int, limit: int = 3) -> list[str]:
    """Up to ``limit`` distinct characters of ``value`` whose bits are in ``mask``, shown
    safely (``repr`` of control and non-printable characters).

    >>> chars_of("ab'c", _masks("'")[0])
    ["'"]
    """
    out: list[str] = []
    for ch in dict.fromkeys(value):
        o = ord(ch)
        if mask >> (o if o < 128 else 128 + o % 128) & 1:
            out.append(ch if ch.isprintable() and ch != " " else repr(ch)[1:-1] or "?")
            if len(out) >= limit:
                break
    return out


def rarity_weight(p: float) -> float:
    """Evidence weight of something normal traffic shows with probability ``p``.

    log-scaled so that the analyzer's default threshold 0.5 is p = 1 %, 0.75 is
    0.1 %, capped at 0.95 (p = 1e-4 and rarer):

    >>> [round(rarity_weight(p), 2) for p in (0.1, 0.01, 0.001, 1e-6)]
    [0.25, 0.5, 0.75, 0.95]
    """
    if p >= 1.0:
        return 0.0
    return min(0.95, max(0.0, -math.log10(max(p, 1e-12)) / 4.0))


def upper_rate(k: int, n: int) -> float:
    """A cautious estimate of a rate seen ``k`` times in ``n`` trials: (k + 3) / (n + 3),
    the rule of three when k = 0 (never seen in 300 trials: below 1 % at 95 %).

    >>> upper_rate(0, 297), upper_rate(5, 997)
    (0.01, 0.008)
    """
    return (k + 3) / (n + 3)
