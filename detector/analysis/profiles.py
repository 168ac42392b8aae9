"""Learned request profiles per (service, method, route), and how far a request is from them.

A profile knows, for each parameter name: how often it is present, what kind
of value it carries (int, float, bool, uuid, email, token, date, url, free
text, object, array), a length histogram, which character classes occur, a
signed log-scale histogram of numeric values, and its values while there are
few of them (an enumeration). Scoring a request lists what does not fit, each
with a weight; the score is their noisy-OR, in [0, 1], higher = more anomalous.

Unknown is not anomalous: a route with fewer than ``min_history`` requests
scores 0. Memory is bounded: ``max_params`` names per route, ``max_enum``
values per name, fixed histograms, ``max_routes`` routes.

>>> store = ProfileStore(min_history=20)
>>> for i in range(60):
...     store.learn("pay", "POST", "/charges", [("amount", str(100 + i), "int"),
...                 ("currency", ("EUR", "USD")[i % 2], "str")])
>>> store.score("pay", "POST", "/charges", [("amount", "150", "int"), ("currency", "EUR", "str")])
(0.0, [])
>>> s, why = store.score("pay", "POST", "/charges", [("amount", "{}", "object"),
...                      ("currency", "E" * 600, "str"), ("is_admin", "true", "bool")])
>>> round(s, 2)
1.0
>>> why  # doctest: +NORMALIZE_WHITESPACE
['currency: length 600 (usual 3)', 'unknown parameter is_admin (privilege-like name)',
 'amount: object where int lives']
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from detector.analysis.params import Param

__all__ = [
    "COMPONENTS",
    "KINDS",
    "MASS_ASSIGNMENT_NAMES",
    "Assessment",
    "ProfileStore",
    "value_kind",
]

STATE_FORMAT = "detector.profiles"
STATE_VERSION = 1

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
COMPONENTS = (
    "unknown",
    "mass_assignment",
    "type",
    "length",
    "enum",
    "charclass",
    "range",
    "missing",
)
_C = {name: i for i, name in enumerate(COMPONENTS)}

# Field names that grant privileges or move money when an API binds request
# fields to a model wholesale; compared lower-case without '_' and '-'.
MASS_ASSIGNMENT_NAMES = frozenset({
    "isadmin", "admin", "administrator", "role", "roles", "userrole", "permissions",
    "permission", "privileges", "privilege", "verified", "isverified", "emailverified",
    "balance", "price", "credit", "credits", "discount", "issuperuser", "superuser", "isstaff",
    "staff", "accesslevel", "group", "groups", "owner", "ownerid", "approved", "isapproved",
    "plan", "tier", "accounttype", "usertype", "scopes", "isroot", "root", "debug",
})  # fmt: skip

# ... and parts of such names ("account_balance", "credit_limit", "tenant_id").
MASS_ASSIGNMENT_STEMS = ("admin", "role", "permission", "privilege", "verified", "balance",
                         "credit", "discount", "tenant", "superuser", "isstaff", "owner")

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
_CLASS_WEIGHT = (0.3, 0.3, 0.3, 0.3, 0.3, 0.7)
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
        if local and "." in domain[1:-1] and _TOKEN.fullmatch(domain) and " " not in local:
            return "email"
    if n <= 2048 and value.startswith(("http://", "https://")) and " " not in value:
        return "url"
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


def _mass_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1].replace("[]", "").lower().replace("_", "").replace("-", "")
    return last in MASS_ASSIGNMENT_NAMES or any(stem in last for stem in MASS_ASSIGNMENT_STEMS)


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
    return _Derived(hi, max(2 * hi, hi + 16), usual, lo_b, hi_b, rng, floor, ok, rare_bits)


class ParamStats:
    """What one parameter name of one route looked like during learning."""

    __slots__ = (
        "_derived",
        "classes",
        "count",
        "kinds",
        "lens",
        "nmax",
        "nmin",
        "nums",
        "obs",
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
        self._derived: _Derived | None = None

    def derived(self) -> _Derived:
        """Quantiles used when scoring, computed once per change (scoring is the hot path)."""
        d = self._derived
        if d is None:
            d = self._derived = _derive(self)
        return d

    def learn(self, value: str, kind: str, max_enum: int) -> None:
        _, bits, x, b = _value_info(value)
        self._learn(value, kind, bits, x, b, max_enum)

    def _learn(
        self, value: str, kind: str, bits: int, x: float | None, b: int, max_enum: int
    ) -> None:
        """:meth:`learn` with the value's classes and number (``_value_info``) at hand."""
        self._derived = None
        self.obs += 1
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

    def dominant(self) -> str:
        return max(self.kinds.items(), key=lambda kv: kv[1])[0] if self.kinds else "text"

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count, "obs": self.obs, "kinds": self.kinds, "lens": self.lens,
            "classes": self.classes, "nums": [[b, c] for b, c in sorted(self.nums.items())],
            "nmin": self.nmin if math.isfinite(self.nmin) else None,
            "nmax": self.nmax if math.isfinite(self.nmax) else None,
            "values": self.values,
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
        return p


class RouteProfile:
    """Parameter statistics of one (service, method, route)."""

    __slots__ = ("late", "n", "new_late", "overflow", "params", "required")

    def __init__(self) -> None:
        self.n = 0  # requests learned, with or without parameters
        self.params: dict[str, ParamStats] = {}
        self.overflow = 0  # names not kept because the table was full
        self.late = 0  # requests learned after the first warm-up
        self.new_late = 0  # ... of which brought a name never seen before
        self.required: tuple[float, list[str]] | None = None  # assess() cache, reset by learn

    def novelty(self) -> float:
        """Share of recent requests that brought a new name: high for free-form JSON."""
        return self.new_late / self.late if self.late >= 20 else 0.0


class Assessment(NamedTuple):
    """A request against its route profile: score, short reasons, per-component weights."""

    score: float
    reasons: tuple[str, ...]
    components: tuple[float, ...]  # max weight per COMPONENTS entry


_ZERO = Assessment(0.0, (), (0.0,) * len(COMPONENTS))


class ProfileStore:
    """Per-route request profiles, learned online, persisted as versioned JSON."""

    def __init__(
        self,
        *,
        min_history: int = 50,
        max_params: int = 200,
        max_enum: int = 32,
        max_routes: int = 20_000,
        required_share: float = 0.98,
        max_reasons: int = 5,
    ) -> None:
        self.min_history = min_history
        self.max_params = max_params
        self.max_enum = max_enum
        self.max_routes = max_routes
        self.required_share = required_share
        self.max_reasons = max_reasons
        self._routes: dict[tuple[str, str, str], RouteProfile] = {}

    def __len__(self) -> int:
        return len(self._routes)

    def history(self, service: str, method: str, route: str) -> int:
        """Requests learned for the route (0 when unknown)."""
        prof = self._routes.get((service, method, route))
        return prof.n if prof is not None else 0

    def learn(self, service: str, method: str, route: str, params: Sequence[Param]) -> None:
        """Add one request (its parsed parameters; empty for none) to the route's profile."""
        key = (service, method, route)
        prof = self._routes.get(key)
        if prof is None:
            if len(self._routes) >= self.max_routes:
                return
            prof = self._routes[key] = RouteProfile()
        prof.n += 1
        prof.required = None
        warm = prof.n > self.min_history
        table = prof.params
        seen: set[str] = set()
        brought_new = False
        memo = _value_memo
        max_enum = self.max_enum
        for name, value, jtype in params:
            st = table.get(name)
            if st is None:
                if len(table) >= self.max_params:
                    prof.overflow += 1
                    continue
                st = table[name] = ParamStats()
                brought_new = True
            if name not in seen:
                seen.add(name)
                st.count += 1
            info = memo.get(value)
            if info is None:
                info = _value_info(value)
            kind = info[0] if jtype == "str" else jtype if jtype in KINDS else "text"
            st._learn(value, kind, info[1], info[2], info[3], max_enum)
        if warm:
            prof.late += 1
            prof.new_late += brought_new

    def score(
        self, service: str, method: str, route: str, params: Sequence[Param]
    ) -> tuple[float, list[str]]:
        """(score in [0, 1], reasons); 0 and no reasons for a route with little history."""
        a = self.assess(service, method, route, params)
        return a.score, list(a.reasons)

    def assess(self, service: str, method: str, route: str, params: Sequence[Param]) -> Assessment:
        """Like :meth:`score`, with the weight of each component (feature inputs)."""
        prof = self._routes.get((service, method, route))
        if prof is None or prof.n < self.min_history:
            return _ZERO
        found: list[tuple[float, int, str]] = []  # (weight, component, reason)
        table = prof.params
        present: set[str] = set()
        reported: set[str] = set()
        memo = _value_memo
        for name, value, jtype in params:
            present.add(name)
            st = table.get(name)
            if st is not None:
                # The usual case inline: a known name whose value fits (as _check_value
                # would find); anything else takes _check_value.
                if st.obs < 10:
                    continue
                d = st._derived
                if d is None:
                    d = st.derived()
                info = memo.get(value)
                if info is None:
                    info = _value_info(value)
                kind = info[0] if jtype == "str" else jtype if jtype in KINDS else "text"
                if (
                    kind in d.ok_kinds
                    and len(value) <= d.len_limit
                    and not info[1] & d.rare_classes
                ):
                    if d.num_range and (kind == "int" or kind == "float"):
                        x = info[2]
                        if (
                            x is not None
                            and (x >= 0 or st.nmin < 0)
                            and d.num_lo_bin - 5 <= info[3] <= d.num_hi_bin + 5
                        ):
                            continue
                    else:
                        vals = st.values
                        if (
                            vals is None
                            or kind == "null"
                            or kind == "empty"
                            or value in vals
                            or st.obs < 50
                            or st.obs < 5 * len(vals)
                        ):
                            continue
                self._check_value(name, value, jtype, st, found)
                continue
            else:
                if name in reported:
                    continue
                reported.add(name)
                parent = _scalar_ancestor(name, table)
                full = len(table) >= self.max_params
                if parent is not None:  # {"amount": {"$gt": 0}} where amount is a number
                    present.add(parent)
                    if parent not in reported:
                        reported.add(parent)
                        kind = "array" if name == parent + "[]" else "object"
                        found.append((0.85, _C["type"], f"{parent[:64]}: {kind} where "
                                      f"{table[parent].dominant()} lives"))
                    continue
                mass = _mass_name(name)
                w = 0.9 if mass else 0.55
                if full or prof.novelty() > 0.02:  # free-form names: weaker evidence
                    w = 0.6 if mass else 0.2
                why = " (privilege-like name)" if mass else ""
                found.append(
                    (
                        w,
                        _C["mass_assignment" if mass else "unknown"],
                        f"unknown parameter {name[:64]}{why}",
                    )
                )
                continue
        if len(present) < len(table):
            need = self.required_share * prof.n
            req = prof.required  # names (nearly) every request carries; reset by learning
            if req is None or req[0] != need:
                req = prof.required = (need, [n for n, st in table.items() if st.count >= need])
            required = req[1]
            missing = [n for n in required if n not in present]
            for name in missing[:3]:
                found.append((0.15, _C["missing"], f"missing required parameter {name[:64]}"))
        if not found:
            return _ZERO
        comps = [0.0] * len(COMPONENTS)
        keep = 1.0
        for w, c, _ in found:
            keep *= 1.0 - w
            comps[c] = max(comps[c], w)
        found.sort(key=lambda f: -f[0])
        reasons = tuple(dict.fromkeys(r for _, _, r in found))[: self.max_reasons]
        return Assessment(1.0 - keep, reasons, tuple(comps))

    def _check_value(
        self, name: str, value: str, jtype: str, st: ParamStats, found: list[tuple[float, int, str]]
    ) -> None:
        obs = st.obs
        if obs < 10:
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
        if type_ok and not long and not bits & d.rare_classes:  # the usual case: often quiet
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
                found.append(
                    (0.4, _C["enum"], f"{label}: value outside its {len(vals)} known values")
                )

    def save_state(self) -> bytes:
        """Every profile and the config as JSON bytes with a format version."""
        routes = [
            {"service": s, "method": m, "route": r, "n": p.n, "overflow": p.overflow,
             "late": p.late, "new_late": p.new_late,
             "params": {name: st.to_json() for name, st in p.params.items()}}
            for (s, m, r), p in self._routes.items()
        ]  # fmt: skip
        return orjson.dumps({
            "format": STATE_FORMAT, "version": STATE_VERSION,
            "config": {"min_history": self.min_history, "max_params": self.max_params,
                       "max_enum": self.max_enum, "max_routes": self.max_routes,
                       "required_share": self.required_share, "max_reasons": self.max_reasons},
            "routes": routes,
        })  # fmt: skip

    @classmethod
    def load_state(cls, data: bytes) -> ProfileStore:
        """A store that continues where the saved one stopped; ValueError on bad state."""
        try:
            doc = orjson.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
                raise ValueError("not a profile state")
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported profile state version {doc.get('version')!r}")
            store = cls(**doc["config"])
            for r in doc["routes"]:
                p = RouteProfile()
                p.n, p.overflow = int(r["n"]), int(r["overflow"])
                p.late, p.new_late = int(r["late"]), int(r["new_late"])
                p.params = {str(k): ParamStats.from_json(v) for k, v in r["params"].items()}
                store._routes[(str(r["service"]), str(r["method"]), str(r["route"]))] = p
        except ValueError as exc:
            raise ValueError(f"profile state: {exc}") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"profile state: malformed ({type(exc).__name__}: {exc})") from None
        return store


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


def _scalar_ancestor(name: str, table: dict[str, ParamStats]) -> str | None:
    """The nearest enclosing name of ``name`` that the route knows as a scalar, if any."""
    cur = name
    for _ in range(8):
        if cur.endswith("[]"):
            cur = cur[:-2]
        elif "." in cur:
            cur = cur.rsplit(".", 1)[0]
        else:
            return None
        st = table.get(cur)
        if st is not None:
            floor = 0.01 * st.obs
            nested = st.kinds.get("object", 0) > floor or st.kinds.get("array", 0) > floor
            return None if nested else cur
    return None


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
