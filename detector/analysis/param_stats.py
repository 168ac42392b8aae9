"""What one parameter name of one route looked like during learning (:class:`ParamStats`).

Fixed-size histograms (lengths, character classes, signed log-scale numbers),
kind counts and a bounded enumeration, plus the quantiles scoring needs
(:class:`_Derived`), recomputed only when the statistics change.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

from detector.analysis.values import (
    _BIT_INDEXES,
    _NUM_SCALE,
    _STRINGY,
    CLASS_NAMES,
    KINDS,
    NGRAM_FULL,
    _bin_value,
    _fmt,
    _masks,
    _num_bin,
    _number,
    _value_info,
    chars_of,
    rarity_weight,
    upper_rate,
)

__all__ = ["COMPONENTS", "LEN_EDGES", "ParamStats", "broken_encoding", "check_value"]

COMPONENTS = (
    "unknown",
    "mass_assignment",
    "type",
    "length",
    "enum",
    "charclass",
    "range",
    "missing",
    "chars",
    "duplicate",
    "content_type",
)
_C = {name: i for i, name in enumerate(COMPONENTS)}
# per CLASS_NAMES entry: control characters weigh most
_CLASS_WEIGHT = (0.3, 0.3, 0.3, 0.3, 0.3, 0.7)

LEN_EDGES = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    10,
    12,
    14,
    16,
    20,
    24,
    28,
    32,
    40,
    48,
    56,
    64,
    80,
    96,
    112,
    128,
    160,
    192,
    224,
    256,
    320,
    384,
    448,
    512,
    640,
    768,
    1024,
    1536,
    2048,
    3072,
    4096,
)


def _len_bin(n: int) -> int:
    return bisect_right(LEN_EDGES, n) - 1


def _usual_len(b: int) -> str:
    lo = LEN_EDGES[b]
    hi = LEN_EDGES[b + 1] - 1 if b + 1 < len(LEN_EDGES) else lo
    return str(lo) if hi <= lo else f"{lo}-{hi}"


def _quantile_bin(hist: Sequence[int], total: int, q: float) -> int:
    target = q * total
    cum = 0
    for i, c in enumerate(hist):
        cum += c
        if cum >= target and c:
            return i
    return len(hist) - 1


class _Derived(NamedTuple):
    len_hi: int  # upper length quantile (0.999)
    len_limit: int  # longer than this is flagged
    usual_len: str
    num_lo_bin: int  # numeric quantile bins (0.001, 0.999 + 1), or 0, 0 without numbers
    num_hi_bin: int
    num_range: str  # "[lo, hi]" for reasons, "" without numbers
    floor: float  # 1 % of observations: rarer kinds do not count as learned
    ok_kinds: frozenset[str]  # kinds that fit (learned or compatible)
    rare_classes: int  # bits of the character classes seen in <= 0.5 % of the values
    new_chars: int  # inverted character mask: bits of characters never carried
    new_pairs: int  # inverted letter-pair mask
    prose: bool  # words with spaces: only invisible characters and syntax are news


def _derive(st: ParamStats) -> _Derived:
    obs = st.obs
    lens = st.lens
    hi_bin = _quantile_bin(lens, obs, 0.999)
    hi = LEN_EDGES[hi_bin + 1] - 1 if hi_bin + 1 < len(LEN_EDGES) else LEN_EDGES[-1]
    usual = _usual_len(_quantile_bin(lens, obs, 0.5))
    total = sum(st.nums.values())
    lo_b = hi_b = 0
    rng = ""
    if total >= 10:
        bins = sorted(st.nums.items())
        hist = [c for _, c in bins]
        lo_b = bins[_quantile_bin(hist, total, 0.001)][0]
        hi_b = bins[_quantile_bin(hist, total, 0.999)][0] + 1
        lo = max(_bin_value(lo_b), st.nmin)
        top = min(_bin_value(hi_b), st.nmax)
        rng = f"[{_fmt(lo)}, {_fmt(top)}]"
    floor = 0.01 * obs
    kinds = st.kinds
    ok = _ok_kinds(kinds, floor)
    rare = 0.005 * obs
    rare_bits = 0
    for i, c in enumerate(st.classes):
        if c <= rare:
            rare_bits |= 1 << i
    return _Derived(hi, max(2 * hi, hi + 16), usual, lo_b, hi_b, rng, floor, ok, rare_bits,
                    ~st.cmask & _CHAR_FULL, ~st.gmask & NGRAM_FULL, st.prose())


_CHAR_FULL = (1 << 256) - 1
_SPACES = CLASS_NAMES.index("spaces")
# What prose can bring that is news: code syntax, control and invisible
# characters (checked exactly by _odd_bits; non-ASCII values are always looked at).
_PROSE_NEWS = re.compile(r"[{}\[\]`|\\\x00-\x1f\x7f]")
# Kinds whose characters and letter pairs are learned: free text. Numbers, dates, uuids,
# tokens, e-mail addresses and URLs have shapes of their own, and a character outside the
# shape (a quote in a token or an address) makes the value text: a type break.
SHAPE_KINDS = frozenset({"text"})
NG_BINS = 5  # late values by letter pairs they brought: 0, 1, 2, 3, 4 or more
_NON_ASCII_CLASS = CLASS_NAMES.index("non-ASCII characters")
_NON_ASCII = 1 << _NON_ASCII_CLASS
# What a client's encoder, not its user, puts in a value: U+FFFD is what the query
# parser makes of bytes that are not UTF-8 (Latin-1 text, a CESU-8 surrogate, a UTF-16
# byte order mark sent as %FF%FE); byte order marks and bidirectional overrides are
# never typed. A search box takes any language, so these are judged apart from the
# character masks (whose non-ASCII bits are shared by many characters).
_BROKEN = re.compile("[\ufffd\ufeff\u202a-\u202e\u2066-\u2069]")
_BROKEN_NAMES = {"\ufffd": "bytes that are not UTF-8", "\ufeff": "a byte order mark"}


def broken_encoding(value: str) -> str | None:
    """What an encoder broke in ``value`` (None for a value without such characters).

    >>> broken_encoding("gr\ufffd\ufffde"), broken_encoding("\ufeffshoes")
    ('bytes that are not UTF-8', 'a byte order mark')
    >>> broken_encoding("abc\u202e"), broken_encoding("größe 日本"), broken_encoding("a")
    ('a bidirectional override', None, None)
    """
    if value.isascii():
        return None
    m = _BROKEN.search(value)
    return None if m is None else _BROKEN_NAMES.get(m.group(), "a bidirectional override")


class ParamStats:
    """What one parameter name of one route looked like during learning.

    Besides histograms, it keeps the characters and letter pairs its free-text
    values carried (bit masks) and, once warm (``late`` values after the cold
    start), how often a value brought something new: a new character
    (``new_chars``), new letter pairs (``ng_hist``), a new enumeration value
    (``enum_new``). Those are the prequential rates scoring turns into weights:
    what normal traffic did after the warm-up is how rare a novelty is.

    >>> st = ParamStats()
    >>> for i in range(300):
    ...     st.learn(f"name{i % 7}", "text", 32, warm=i >= 100)
    >>> st.late, st.tlate, st.new_chars, sum(st.ng_hist)
    (200, 200, 0, 200)
    """

    __slots__ = (
        "_derived",
        "classes",
        "cmask",
        "count",
        "dups",
        "enum_new",
        "gmask",
        "kinds",
        "late",
        "tlate",
        "lens",
        "new_chars",
        "ng_hist",
        "nmax",
        "nmin",
        "nums",
        "obs",
        "odd_enc",
        "values",
    )

    def __init__(self) -> None:
        self.count = 0  # requests carrying the name
        self.obs = 0  # values seen (a repeated name counts each value)
        self.kinds: dict[str, int] = {}
        self.lens = [0] * len(LEN_EDGES)
        self.classes = [0] * len(CLASS_NAMES)
        self.nums: dict[int, int] = {}
        self.nmin = math.inf
        self.nmax = -math.inf
        self.values: dict[str, int] | None = {}  # None once more than max_enum distinct values
        self.cmask = 0  # characters of free-text values (values._masks)
        self.gmask = 0  # their letter pairs
        self.late = 0  # values learned once warm
        self.tlate = 0  # ... of them free text (the denominator of the shape rates)
        self.new_chars = 0  # ... of which brought a character never seen
        self.ng_hist = [0] * NG_BINS  # ... by letter pairs never seen they brought
        self.enum_new = 0  # ... of which were new to a still-enumerable parameter
        self.dups = 0  # requests carrying the name more than once
        self.odd_enc = 0  # values carrying what an encoder broke (:func:`broken_encoding`)
        self._derived: _Derived | None = None

    def derived(self) -> _Derived:
        """Quantiles used when scoring, computed once per change (scoring is the hot path)."""
        d = self._derived
        if d is None:
            d = self._derived = _derive(self)
        return d

    def learn(self, value: str, kind: str, max_enum: int, *, warm: bool = False) -> None:
        _, bits, x, b = _value_info(value)
        self._learn(value, kind, bits, x, b, max_enum, warm)

    def _learn(
        self, value: str, kind: str, bits: int, x: float | None, b: int, max_enum: int,
        warm: bool = False,
    ) -> None:
        """:meth:`learn` with the value's classes and number (``_value_info``) at hand.

        ``warm``: the parameter is past its cold start, so what this value brings
        counts towards the novelty rates."""
        self._derived = None
        self.obs += 1
        if bits & _NON_ASCII and _BROKEN.search(value) is not None:
            self.odd_enc += 1
        vals = self.values
        if vals is not None and value in vals:  # a known value: nothing new in it
            if warm:
                self.late += 1
                if kind in SHAPE_KINDS:
                    self.tlate += 1
                    self.ng_hist[0] += 1
        elif kind in SHAPE_KINDS:
            newc = newg = 0
            prose = self.classes[_SPACES] >= 0.05 * self.obs  # self.prose(), inline
            if not prose or not value.isascii() or _PROSE_NEWS.search(value) is not None:
                cm, gm = _masks(value)
                newc = cm & ~self.cmask
                newg = gm & ~self.gmask
                if newc:
                    self.cmask |= cm
                if newg:
                    self.gmask |= gm
                if prose:  # only syntax and invisible characters are news in prose
                    newc &= _odd_bits(value)
                    newg = 0
            if warm:
                self.late += 1
                self.tlate += 1
                if newc:
                    self.new_chars += 1
                self.ng_hist[min(newg.bit_count(), NG_BINS - 1)] += 1
                if vals is not None:
                    self.enum_new += 1
        elif warm:
            self.late += 1
            if vals is not None:
                self.enum_new += 1
        kinds = self.kinds
        kinds[kind] = kinds.get(kind, 0) + 1
        n = len(value)
        self.lens[n if n <= 8 else _len_bin(n)] += 1  # LEN_EDGES[i] == i up to 8
        if bits:
            cl = self.classes
            for i in _BIT_INDEXES[bits]:
                cl[i] += 1
        if kind == "int" or kind == "float":
            if x is None:  # a JSON number whose text does not read as one by its shape
                x = _number(value)
                if x is not None:
                    b = _num_bin(x)
            if x is not None:
                nums = self.nums
                nums[b] = nums.get(b, 0) + 1
                if x < self.nmin:
                    self.nmin = x
                if x > self.nmax:
                    self.nmax = x
        vals = self.values
        if vals is not None:
            if value in vals:
                vals[value] += 1
            elif len(vals) < max_enum and len(value) <= 64:
                vals[value] = 1
            else:
                self.values = None

    def prose(self) -> bool:
        """Words with spaces (a search box, an address): at least 5 % of values have one."""
        return self.classes[_SPACES] >= 0.05 * self.obs

    def dominant(self) -> str:
        return max(self.kinds.items(), key=lambda kv: kv[1])[0] if self.kinds else "text"

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count, "obs": self.obs, "kinds": self.kinds, "lens": self.lens,
            "classes": self.classes, "nums": [[b, c] for b, c in sorted(self.nums.items())],
            "nmin": self.nmin if math.isfinite(self.nmin) else None,
            "nmax": self.nmax if math.isfinite(self.nmax) else None,
            "values": self.values,
            "cmask": f"{self.cmask:x}", "gmask": f"{self.gmask:x}", "late": self.late,
            "tlate": self.tlate,
            "new_chars": self.new_chars, "ng_hist": self.ng_hist, "enum_new": self.enum_new,
            "dups": self.dups, "odd_enc": self.odd_enc,
        }  # fmt: skip

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ParamStats:
        p = cls()
        p.count, p.obs = int(d["count"]), int(d["obs"])
        p.kinds = {str(k): int(v) for k, v in d["kinds"].items()}
        p.lens = [int(x) for x in d["lens"]]
        p.classes = [int(x) for x in d["classes"]]
        if len(p.lens) != len(LEN_EDGES) or len(p.classes) != len(CLASS_NAMES):
            raise ValueError("profile state: histogram size mismatch")
        p.nums = {int(b): int(c) for b, c in d["nums"]}
        p.nmin = math.inf if d["nmin"] is None else float(d["nmin"])
        p.nmax = -math.inf if d["nmax"] is None else float(d["nmax"])
        vals = d["values"]
        p.values = None if vals is None else {str(k): int(v) for k, v in vals.items()}
        # absent in profile states before the shape models: they start empty
        p.cmask = int(d.get("cmask", "0"), 16) & _CHAR_FULL
        p.gmask = int(d.get("gmask", "0"), 16) & NGRAM_FULL
        p.late, p.new_chars = int(d.get("late", 0)), int(d.get("new_chars", 0))
        p.tlate = int(d.get("tlate", 0))
        p.ng_hist = [int(x) for x in d.get("ng_hist", [0] * NG_BINS)]
        if len(p.ng_hist) != NG_BINS:
            raise ValueError("profile state: letter-pair histogram size mismatch")
        p.enum_new, p.dups = int(d.get("enum_new", 0)), int(d.get("dups", 0))
        p.odd_enc = int(d.get("odd_enc", 0))  # absent in states before it: none counted
        return p


def _ok_kinds(kinds: dict[str, int], floor: float) -> frozenset[str]:
    """The kinds that fit a parameter: learned (more than ``floor`` times) or compatible.

    The same set as ``{k for k in KINDS if kinds.get(k, 0) > floor or _compatible(k, ...)}``.
    """
    has = {k for k, c in kinds.items() if c > floor}
    ok = {k for k in has if k in KINDS} | {"null", "empty"}
    if "float" in has:
        ok.add("int")
    if "text" in has:
        ok |= _STRINGY
    if "token" in has:
        ok.update(("int", "uuid", "date"))
    return frozenset(ok)


def _compatible(kind: str, kinds: dict[str, int], floor: float) -> bool:
    """Whether ``kind`` fits a parameter that has carried ``kinds``."""
    if kind in ("null", "empty"):
        return True

    def has(k: str) -> bool:
        return kinds.get(k, 0) > floor

    if kind == "int" and has("float"):
        return True
    if kind in _STRINGY and has("text"):
        return True
    return kind in ("int", "uuid", "date") and has("token")


def check_value(
    name: str,
    value: str,
    jtype: str,
    st: ParamStats,
    found: list[tuple[float, int, str]],
    min_obs: int,
) -> None:
    """Append (weight, component, reason) for each way ``value`` does not fit ``st``.

    Nothing is judged before ``st`` holds ``min_obs`` values (the cold start).
    """
    obs = st.obs
    if obs < min_obs:
        return
    d = st._derived
    if d is None:
        d = st.derived()
    kind, bits, x, b = _value_info(value)
    if jtype != "str":
        kind = jtype if jtype in KINDS else "text"
    type_ok = kind in d.ok_kinds
    n = len(value)
    long = n > d.len_limit
    numeric = kind in ("int", "float")
    newc = newg = 0
    if kind in SHAPE_KINDS and st.tlate and (not d.prose or not value.isascii()
                                            or _PROSE_NEWS.search(value) is not None):
        cm, gm = _masks(value)
        newc = cm & d.new_chars
        newg = gm & d.new_pairs
        if d.prose:
            # Prose (a search box, an address: words with spaces) meets new punctuation
            # and new words every day ("node.js", "o'reilly", "100% cotton"): only an
            # invisible character (BOM, zero-width space, CR/LF) or code syntax
            # ({ } [ ] ` | \) is news there.
            newc &= _odd_bits(value)
            newg = 0
    broken = broken_encoding(value) if bits & _NON_ASCII else None
    if (type_ok and not long and not bits & d.rare_classes and not newc and not newg
            and broken is None):
        # the usual case: often quiet
        if numeric and d.num_range:
            # _check_range reports nothing for a number in the learned bins +- 5
            if (
                x is not None
                and (x >= 0 or st.nmin < 0)
                and d.num_lo_bin - 5 <= b <= d.num_hi_bin + 5
            ):
                return
        else:
            vals = st.values
            if (
                vals is None
                or kind in ("null", "empty")
                or obs < 50
                or obs < 5 * len(vals)
                or value in vals
            ):
                return
    label = name[:64]
    if broken is not None:
        # How often learned values carried it is how rare it is. Once one did, some
        # client's encoder breaks bytes (a legacy Latin-1 form): it is then as rare as
        # among the values with non-ASCII characters, the only ones it can break.
        among = obs if not st.odd_enc else st.classes[_NON_ASCII_CLASS]
        w = rarity_weight(upper_rate(st.odd_enc, among))
        if w >= 0.25:  # what one value in ten carries says nothing
            found.append((w, _C["chars"], f"{label}: {broken} (in {st.odd_enc:,} of "
                          f"{among:,} values)"))
    if not type_ok:
        w = 0.85 if kind in ("object", "array") else 0.7
        found.append((w, _C["type"], f"{label}: {kind} where {st.dominant()} lives"))
    if long:
        w = min(0.95, 0.35 + 0.1 * math.log2(n / max(d.len_hi, 1)))
        found.append((w, _C["length"], f"{label}: length {n} (usual {d.usual_len})"))
    bits = bits & d.rare_classes if type_ok else 0  # a wrong type says it all
    if bits:
        for i, cname in enumerate(CLASS_NAMES):
            if bits >> i & 1:
                found.append((_CLASS_WEIGHT[i], _C["charclass"], f"{label}: {cname}"))
    if type_ok and not long and (newc or newg):  # an over-long value says it already
        _shape_novelty(label, value, newc, newg, st, found)
    if numeric and d.num_range:
        if x is None:  # a JSON number whose text does not read as one by its shape
            x = _number(value)
            if x is not None:
                b = _num_bin(x)
        if x is not None:
            _check_range(label, x, b, st, d, found)
    elif st.values is not None and type_ok and not long and kind not in ("null", "empty"):
        vals = st.values
        if obs >= 50 and obs >= 5 * len(vals) and value not in vals:
            # how often a warm value was new is how rare a new one is (0.4 before that)
            w = rarity_weight(upper_rate(st.enum_new, st.late)) if st.late >= 30 else 0.4
            known = ", ".join(repr(v)[:24] for v in list(vals)[:3])
            more = ", …" if len(vals) > 3 else ""
            found.append((w, _C["enum"], f"{label}: value outside its {len(vals)} known "
                          f"values ({known}{more}) in {obs:,}"))


def _shape_novelty(
    label: str, value: str, newc: int, newg: int, st: ParamStats,
    found: list[tuple[float, int, str]],
) -> None:
    """Characters or letter pairs the parameter never carried, weighed by how often warm
    values brought such novelty (one finding: a new character is also new pairs)."""
    wc = rarity_weight(upper_rate(st.new_chars, st.tlate)) if newc else 0.0
    m = newg.bit_count()
    wg = rarity_weight(upper_rate(sum(st.ng_hist[min(m, NG_BINS - 1):]), st.tlate)) if m else 0.0
    # New letter pairs are everyday variety in free text (a new surname, a new password):
    # they count only where they are rare on their own (under 1 % of warm values), which
    # is a field with a settled vocabulary, never a few of them adding up across fields.
    if wg < 0.5:
        wg = 0.0
    if wc >= wg and wc > 0.0:
        shown = " ".join(chars_of(value, newc))
        found.append((wc, _C["chars"], f"{label}: character {shown} never seen in "
                      f"{st.obs:,} values"))
    elif wg > 0.0:
        found.append((wg, _C["chars"], f"{label}: {m} letter pair{'s' if m > 1 else ''} "
                      f"never seen in {st.obs:,} values"))


# Code syntax prose does not use. Not < > ; $: shoppers type "<3 valentine", "2>1 shirt",
# "<b>old</b> sign" and "$5 gift"; markup and injections are the signatures' business.
_SYNTAX = frozenset("{}[]`|\\")


def _odd_bits(value: str) -> int:
    """Character-mask bits of the characters of ``value`` that are invisible (not
    printable) or code syntax."""
    bits = 0
    for ch in set(value):
        if not ch.isprintable() or ch in _SYNTAX:
            o = ord(ch)
            bits |= 1 << (o if o < 128 else 128 + o % 128)
    return bits


def _check_range(
    label: str,
    x: float,
    b: int,
    st: ParamStats,
    d: _Derived,
    found: list[tuple[float, int, str]],
) -> None:
    """``b`` is ``_num_bin(x)``."""
    if x < 0 <= st.nmin:
        found.append(
            (0.6, _C["range"], f"{label}: negative {_fmt(x)} (learned range {d.num_range})")
        )
        return
    dist = max(b - d.num_hi_bin, d.num_lo_bin - b) / _NUM_SCALE - 0.5
    if dist > 0:
        w = min(0.95, 0.45 + 0.1 * dist)
        found.append((w, _C["range"], f"{label}: {_fmt(x)} beyond learned range {d.num_range}"))
