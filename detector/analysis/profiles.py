"""Learned request profiles per (service, method, route), and how far a request is from them.

A profile knows, for each parameter name: how often it is present, what kind
of value it carries (int, float, bool, uuid, email, token, date, url, free
text, object, array), a length histogram, which character classes occur, a
signed log-scale histogram of numeric values, and its values while there are
few of them (an enumeration). Scoring a request lists what does not fit, each
with a weight; the score is their noisy-OR, in [0, 1], higher = more anomalous.

Unknown is not anomalous (cold start): a route with fewer than
``min_history`` requests scores 0, and a parameter is judged on its values
(kind, length, characters, range, enumeration) only once it has carried
``min_history // 2`` of them. An absence is evidence only when the sample could
have shown the thing: after n observations without it, its frequency is below
3/n with 95 % confidence (the rule of three), 1.5 % at the default 200 requests
and 3 % at 100 values. A few minutes of a busy route (50 requests, a price
filter seen 12 times) would otherwise call the first ``price_min=0`` absurd, and
never learn it, since what is flagged is not learned.

Memory is bounded: ``max_params`` names per route, ``max_enum`` values per
name, fixed histograms, ``max_routes`` routes.

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
['currency: length 600 (usual 3)',
 'unknown parameter is_admin (privilege-like name): never seen on POST /charges in 60 requests;
 known: amount, currency',
 'amount: object where int lives']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from detector.analysis.headers import HeaderProfiles
from detector.analysis.param_stats import (
    _C,
    _PROSE_NEWS,
    COMPONENTS,
    SHAPE_KINDS,
    ParamStats,
    _odd_bits,
    broken_encoding,
    check_value,
)
from detector.analysis.params import Param
from detector.analysis.resources import ResourceModel
from detector.analysis.values import (
    KINDS,
    _masks,
    _value_info,
    _value_memo,
    rarity_weight,
    upper_rate,
    value_kind,
)
from detector.state.component import DocumentState
from detector.state.snapshot import SnapshotError

__all__ = [
    "COMPONENTS",
    "KINDS",
    "MASS_ASSIGNMENT_NAMES",
    "Assessment",
    "ProfileStore",
    "value_kind",
]

STATE_FORMAT = "detector.profiles"
STATE_VERSION = 2  # 2: shape models, duplicates, content types, calibration (1 still loads)
CAL_BINS = 20  # calibration histogram of a route's prequential scores, bins of 0.05
CAL_MIN = 100  # scored requests before a route's calibration tempers anything
# A route still learning judges only privilege-like names new to its whole service
# (ProfileStore._cold): once it has shown this many requests without them ...
COLD_MIN = 30
COLD_SERVICE_MIN = 2000  # ... in a service that has shown this many
COLD_WEIGHT = 0.6  # as an unknown privilege-like name on a warm, free-form route

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


def _mass_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1].replace("[]", "").lower().replace("_", "").replace("-", "")
    return last in MASS_ASSIGNMENT_NAMES or any(stem in last for stem in MASS_ASSIGNMENT_STEMS)


def body_kind(body: str | None) -> str:
    """What a request body is, by its first character: ``none``, ``json``, ``form`` or
    ``other`` (the content type, where a log carries no header to say it).

    >>> [body_kind(b) for b in (None, ' {"a": 1}', "a=1&b=2", "<xml/>")]
    ['none', 'json', 'form', 'other']
    """
    if body is None:
        return "none"
    head = body[:64].lstrip()
    if head[:1] in ("{", "["):
        return "json"
    if "=" in head and "<" not in head[:1]:
        return "form"
    return "other"


class RouteProfile:
    """Parameter statistics of one (service, method, route)."""

    __slots__ = ("bodied", "bodies", "cal", "late", "n", "new_late", "overflow", "params",
                 "required", "scored", "turns")

    def __init__(self) -> None:
        self.n = 0  # requests learned, with or without parameters
        self.params: dict[str, ParamStats] = {}
        self.overflow = 0  # names not kept because the table was full
        self.late = 0  # requests learned after the first warm-up
        self.new_late = 0  # ... of which brought a name never seen before
        self.required: tuple[float, list[str]] | None = None  # assess() cache, reset by learn
        self.bodies: dict[str, int] = {}  # body kinds (body_kind) learned, when told
        self.bodied = False  # a body of any kind was learned (bodies has more than "none")
        # Prequential calibration: scores of warm requests, taken before they were learned.
        self.cal = [0] * CAL_BINS
        self.scored = 0
        self.turns = 0  # batches a mature route was offered to learn from (RequestAnalyzer)

    def novelty(self) -> float:
        """Share of recent requests that brought a new name: high for free-form JSON."""
        return self.new_late / self.late if self.late >= 20 else 0.0


class Assessment(NamedTuple):
    """A request against its route profile: score, short reasons, per-component weights."""

    score: float
    reasons: tuple[str, ...]
    components: tuple[float, ...]  # max weight per COMPONENTS entry
    raw: float = 0.0  # the score before the route's calibration (what calibrate() records)


_ZERO = Assessment(0.0, (), (0.0,) * len(COMPONENTS))


class ProfileStore(DocumentState):
    """Per-route request profiles, learned online, persisted as versioned JSON."""

    STATE_NAME = "profiles"

    def __init__(
        self,
        *,
        min_history: int = 200,
        max_params: int = 200,
        max_enum: int = 32,
        max_routes: int = 20_000,
        required_share: float = 0.98,
        max_reasons: int = 5,
    ) -> None:
        self.min_history = min_history
        # values of one name before its values are judged (see the module docstring)
        self.min_param_obs = max(10, min_history // 2)
        self.max_params = max_params
        self.max_enum = max_enum
        self.max_routes = max_routes
        self.required_share = required_share
        self.max_reasons = max_reasons
        self._routes: dict[tuple[str, str, str], RouteProfile] = {}
        # The services' route trees, methods and extensions: what resources exist.
        self.resources = ResourceModel(min_history=min_history)
        # The services' request headers: names, value shapes, cookie names.
        self.headers = HeaderProfiles(min_history=min_history)

    def __len__(self) -> int:
        return len(self._routes)

    def history(self, service: str, method: str, route: str) -> int:
        """Requests learned for the route (0 when unknown)."""
        prof = self._routes.get((service, method, route))
        return prof.n if prof is not None else 0

    def learn(self, service: str, method: str, route: str, params: Sequence[Param],
              body: str | None = None) -> None:
        """Add one request (its parsed parameters; empty for none) to the route's profile.

        ``body`` (kind from :func:`body_kind`, e.g. ``"json"``), when given, teaches the
        route's content types."""
        key = (service, method, route)
        prof = self._routes.get(key)
        if prof is None:
            if len(self._routes) >= self.max_routes:
                return
            prof = self._routes[key] = RouteProfile()
        prof.n += 1
        prof.required = None
        warm = prof.n > self.min_history
        if body is not None:
            prof.bodies[body] = prof.bodies.get(body, 0) + 1
            if body != "none":
                prof.bodied = True
        table = prof.params
        seen: set[str] = set()
        twice: set[str] | None = None  # names given twice in this request (rare: lazy)
        brought_new = False
        memo = _value_memo
        max_enum = self.max_enum
        min_obs = self.min_param_obs
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
            elif "[]" not in name:  # arrays repeat by design
                if twice is None:
                    twice = set()
                if name not in twice:
                    twice.add(name)
                    st.dups += 1
            info = memo.get(value)
            if info is None:
                info = _value_info(value)
            kind = info[0] if jtype == "str" else jtype if jtype in KINDS else "text"
            st._learn(value, kind, info[1], info[2], info[3], max_enum, st.obs >= min_obs)
        if warm:
            prof.late += 1
            prof.new_late += brought_new

    def score(
        self, service: str, method: str, route: str, params: Sequence[Param]
    ) -> tuple[float, list[str]]:
        """(score in [0, 1], reasons); 0 and no reasons for a route with little history."""
        a = self.assess(service, method, route, params)
        return a.score, list(a.reasons)

    def assess(self, service: str, method: str, route: str, params: Sequence[Param],
               body: str | None = None) -> Assessment:
        """Like :meth:`score`, with the weight of each component (feature inputs).

        ``body`` is the request's :func:`body_kind` when known (checked against the
        content types the route was taught)."""
        prof = self._routes.get((service, method, route))
        if prof is None or prof.n < self.min_history:
            return self._cold(service, method, route, prof, params)
        found: list[tuple[float, int, str]] = []  # (weight, component, reason)
        table = prof.params
        present: set[str] = set()
        reported: set[str] = set()
        twice: list[str] | None = None  # names given twice (rare: lazy)
        facets: list[tuple[float, int, str]] | None = None  # explained, not scored again
        memo = _value_memo
        for name, value, jtype in params:
            if name in present:
                if "[]" not in name:
                    if twice is None:
                        twice = [name]
                    elif name not in twice:
                        twice.append(name)
            else:
                present.add(name)
            st = table.get(name)
            if st is not None and st.obs < self.min_param_obs and _rare_nested(name, st, table):
                st = None  # a few values nested in a scalar: judged as the type break below
            if st is not None:
                # The usual case inline: a known name whose value fits (as check_value
                # would find); anything else takes check_value.
                if st.obs < self.min_param_obs:
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
                    and (value.isascii() or broken_encoding(value) is None)
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
                        if vals is not None and value in vals:
                            continue  # a learned value: nothing about it is new
                        if (
                            vals is None
                            or kind == "null"
                            or kind == "empty"
                            or value in vals
                            or st.obs < 50
                            or st.obs < 5 * len(vals)
                        ) and (
                            kind not in SHAPE_KINDS
                            or not st.tlate
                            or (d.prose and value.isascii() and _PROSE_NEWS.search(value) is None)
                            or not _novel(value, d.new_chars, d.new_pairs, d.prose)
                        ):
                            continue
                # One value's pieces of evidence (type, length, characters, enumeration...)
                # are facets of one surprise: the strongest counts, the rest explain.
                mine: list[tuple[float, int, str]] = []
                check_value(name, value, jtype, st, mine, self.min_param_obs)
                if mine:
                    mine.sort(key=lambda f: -f[0])
                    found.append(mine[0])
                    if len(mine) > 1:
                        facets = (facets or []) + mine[1:]
                continue
            if name in reported:
                continue
            reported.add(name)
            parent = _scalar_ancestor(name, table)
            if parent is not None:  # {"amount": {"$gt": 0}} where amount is a number
                present.add(parent)
                if parent not in reported:
                    reported.add(parent)
                    kind = "array" if name == parent + "[]" else "object"
                    found.append((0.85, _C["type"], f"{parent[:64]}: {kind} where "
                                  f"{table[parent].dominant()} lives"))
                continue
            found.append(self._unknown(prof, method, route, name))
        if twice:
            for name in twice[:3]:
                st = table.get(name)
                if st is not None and st.count >= self.min_param_obs:
                    w = rarity_weight(upper_rate(st.dups, st.count))
                    if w > 0.0:
                        found.append((w, _C["duplicate"], f"parameter {name[:64]} given twice "
                                      f"(repeated in {st.dups:,} of {st.count:,} requests)"))
        # A request logged without its body on a route that carries bodies lacks their
        # names because of the log (bodies sampled, capped, not logged), not the client.
        unlogged = body == "none" and prof.bodied
        if len(present) < len(table) and not unlogged:
            missing = [n for n in self._required(prof) if n not in present]
            if missing:
                # Absences travel together (a request without its body lacks them all): one
                # piece of evidence, as rare as the best-carried missing name's absence.
                missing.sort(key=lambda k: -table[k].count)
                c = table[missing[0]].count
                w = rarity_weight(upper_rate(prof.n - c, prof.n))
                names = ", ".join(k[:64] for k in missing[:3]) + (", …" if len(missing) > 3
                                                                   else "")
                plural = "s" if len(missing) > 1 else ""
                found.append((max(w, 0.15), _C["missing"], f"missing parameter{plural} {names} "
                              f"(carried by {c:,} of {prof.n:,} requests)"))
        if body is not None and body != "none" and prof.bodies and body not in prof.bodies:
            seen = sum(prof.bodies.values())
            if seen >= self.min_history:
                kinds = ", ".join(sorted(prof.bodies))
                found.append((rarity_weight(upper_rate(0, seen)), _C["content_type"],
                              f"{body} body never seen on {method} {route[:64]} in {seen:,} "
                              f"requests (known: {kinds})"))
        if not found:
            return _ZERO
        comps = [0.0] * len(COMPONENTS)
        keep = 1.0
        for w, c, _ in found:
            keep *= 1.0 - w
            comps[c] = max(comps[c], w)
        if facets:
            for w, c, _ in facets:
                comps[c] = max(comps[c], w)
            found.extend(facets)
        found.sort(key=lambda f: -f[0])
        reasons = tuple(dict.fromkeys(r for _, _, r in found))[: self.max_reasons]
        raw = 1.0 - keep
        return Assessment(self._calibrated(prof, raw), reasons, tuple(comps), raw)

    def _cold(self, service: str, method: str, route: str, prof: RouteProfile | None,
              params: Sequence[Param]) -> Assessment:
        """A route still learning: only a privilege-like name its service never carried.

        Mass assignment (``is_admin`` in a sign-up body) two hours after a route first
        shows would otherwise be learned with the route. Its service's vocabulary is the
        prior: a name no route of a well-known service ever carried, on a route that has
        shown :data:`COLD_MIN` requests without it, is news before the route is warm.
        """
        if prof is None or prof.n < COLD_MIN:
            return _ZERO
        table = prof.params
        names = {n for n, _, _ in params if n not in table and _mass_name(n)}
        if not names:
            return _ZERO
        learned = 0
        for (svc, _, _), other in self._routes.items():
            if svc == service:
                learned += other.n
                names -= other.params.keys()
        if not names or learned < COLD_SERVICE_MIN:
            return _ZERO
        reasons = tuple(f"unknown parameter {n[:64]} (privilege-like name): never seen in "
                        f"{learned:,} requests of {service[:64]}; {method} {route[:64]} is "
                        f"still learning ({prof.n:,} requests)" for n in sorted(names))
        comps = [0.0] * len(COMPONENTS)
        comps[_C["mass_assignment"]] = COLD_WEIGHT
        score = 1.0 - (1.0 - COLD_WEIGHT) ** len(names)
        return Assessment(score, reasons[: self.max_reasons], tuple(comps), score)

    def route_profile(self, key: tuple[str, str, str]) -> RouteProfile | None:
        """The profile of (service, method, route), if any (read-only use)."""
        return self._routes.get(key)

    def expects_params(self, service: str, method: str, route: str) -> bool:
        """Whether the route is past its cold start and (nearly) every request of it
        carried some query parameter: a request without any is then worth assessing.

        Not on routes that carry bodies: a request logged without its body says more
        about the log (bodies are sampled, capped or not logged) than about the client."""
        prof = self._routes.get((service, method, route))
        if prof is None or prof.n < self.min_history or not prof.params or prof.bodied:
            return False
        return bool(self._required(prof))

    def _required(self, prof: RouteProfile) -> list[str]:
        """Names (nearly) every request of the route carries; cached until it learns."""
        need = self.required_share * prof.n
        req = prof.required
        if req is None or req[0] != need:
            req = prof.required = (need, [n for n, st in prof.params.items() if st.count >= need])
        return req[1]

    def _unknown(self, prof: RouteProfile, method: str, route: str,
                 name: str) -> tuple[float, int, str]:
        """The finding of a parameter name the route never carried."""
        table = prof.params
        mass = _mass_name(name)
        why = " (privilege-like name)" if mass else ""
        if len(table) >= self.max_params or prof.novelty() > 0.02:
            # free-form names (or a full table): weaker evidence
            return (0.6 if mass else 0.2, _C["mass_assignment" if mass else "unknown"],
                    f"unknown parameter {name[:64]}{why}")
        # how often a warm request brought a new name is how rare one is
        w = max(0.9 if mass else 0.55, rarity_weight(upper_rate(prof.new_late, prof.late)))
        top = sorted(table, key=lambda k: -table[k].count)
        known = ", ".join(k[:32] for k in top[:6]) + (", …" if len(top) > 6 else "")
        return (w, _C["mass_assignment" if mass else "unknown"],
                f"unknown parameter {name[:64]}{why}: never seen on {method} {route[:64]} "
                f"in {prof.n:,} requests; known: {known or 'none'}")

    def _calibrated(self, prof: RouteProfile, raw: float) -> float:
        """``raw`` tempered by how often this route's own normal requests scored as high.

        Each weight is a rarity of one piece of evidence; a route with many parameters
        collects more of them. Where warm requests of the route (scored before they were
        learned: prequential) reached ``raw``'s bin, the score is at most the rarity
        weight of that share, so a threshold means about the same false-positive rate on
        every route. Unchanged while the route has scored fewer than ``CAL_MIN``
        requests, or when none of its requests ever scored that high.
        """
        if prof.scored < CAL_MIN:
            return raw
        k = sum(prof.cal[min(int(raw * CAL_BINS), CAL_BINS - 1):])
        if k == 0:
            return raw
        return min(raw, rarity_weight(upper_rate(k, prof.scored)))

    def calibration_card(self) -> dict[str, Any]:
        """How scores are calibrated, for the model card: the rule and its coverage."""
        routes = [p for p in self._routes.values() if p.scored >= CAL_MIN]
        return {
            "evidence": "each piece of evidence weighs rarity_weight(p), p = (k + 3) / (n + 3) "
                        "the share of warm values or requests that showed the same novelty "
                        "(counted prequentially, before learning); weight 0.5 is p = 1 %, "
                        "0.75 is p = 0.1 %, capped at 0.95",
            "combination": "facets of one value: the strongest; across parameters and "
                           "resources: noisy-OR; with the batch model: noisy-OR",
            "route": f"score lowered to rarity_weight((k + 3) / (n + 3)) of the share k / n "
                     f"of the route's prequential scores in its {CAL_BINS}-bin histogram at "
                     f"or above it, once the route scored {CAL_MIN} requests",
            "routes_calibrated": len(routes),
            "routes": len(self._routes),
            "scored_requests": sum(p.scored for p in routes),
        }

    def calibrate(self, service: str, method: str, route: str, score: float) -> None:
        """Record the score a warm request got before it was learned (prequential)."""
        prof = self._routes.get((service, method, route))
        if prof is None or prof.n < self.min_history:
            return
        prof.cal[min(int(score * CAL_BINS), CAL_BINS - 1)] += 1
        prof.scored += 1

    def save_state(self) -> bytes:
        """Every profile and the config as JSON bytes with a format version."""
        routes = [
            {"service": s, "method": m, "route": r, "n": p.n, "overflow": p.overflow,
             "late": p.late, "new_late": p.new_late, "bodies": p.bodies, "cal": p.cal,
             "scored": p.scored, "turns": p.turns,
             "params": {name: st.to_json() for name, st in p.params.items()}}
            for (s, m, r), p in self._routes.items()
        ]  # fmt: skip
        return orjson.dumps({
            "format": STATE_FORMAT, "version": STATE_VERSION,
            "config": {"min_history": self.min_history, "max_params": self.max_params,
                       "max_enum": self.max_enum, "max_routes": self.max_routes,
                       "required_share": self.required_share, "max_reasons": self.max_reasons},
            "routes": routes,
            "resources": self.resources.snapshot(),
            "headers": self.headers.snapshot(),
        })  # fmt: skip

    @classmethod
    def load_state(cls, data: bytes) -> ProfileStore:
        """A store that continues where the saved one stopped; ValueError on bad state."""
        try:
            doc = orjson.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
                raise ValueError("not a profile state")
            if doc.get("version") not in (1, STATE_VERSION):  # 1: no shape models yet
                raise ValueError(f"unsupported profile state version {doc.get('version')!r}")
            store = cls(**doc["config"])
            try:  # absent in version 1
                if doc.get("resources") is not None:
                    store.resources.restore(doc["resources"])
                if doc.get("headers") is not None:
                    store.headers.restore(doc["headers"])
            except SnapshotError as exc:
                raise ValueError(str(exc)) from None
            for r in doc["routes"]:
                p = RouteProfile()
                p.n, p.overflow = int(r["n"]), int(r["overflow"])
                p.late, p.new_late = int(r["late"]), int(r["new_late"])
                p.bodies = {str(k): int(v) for k, v in r.get("bodies", {}).items()}
                p.bodied = any(k != "none" for k in p.bodies)
                p.cal = [int(x) for x in r.get("cal", [0] * CAL_BINS)]
                if len(p.cal) != CAL_BINS:
                    raise ValueError("calibration histogram size mismatch")
                p.scored = int(r.get("scored", 0))
                p.turns = int(r.get("turns", 0))  # absent before learning turns
                p.params = {str(k): ParamStats.from_json(v) for k, v in r["params"].items()}
                store._routes[(str(r["service"]), str(r["method"]), str(r["route"]))] = p
        except ValueError as exc:
            raise ValueError(f"profile state: {exc}") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"profile state: malformed ({type(exc).__name__}: {exc})") from None
        return store


def _novel(value: str, new_chars: int, new_pairs: int, prose: bool = False) -> bool:
    cm, gm = _masks(value)
    if prose:
        return bool(cm & new_chars & _odd_bits(value))
    return bool(cm & new_chars or gm & new_pairs)


# A nested name (``grant_type[]``, ``scope.value``) with fewer values than a name needs to
# be judged, carried by under this share of the requests that carry its scalar parent, is
# a type break still, however it got learned: a campaign that starts while the route is
# cold is learned until the route warms up (a minute of it, when it outpaces the route).
NESTED_RARE = 0.25


def _rare_nested(name: str, st: ParamStats, table: dict[str, ParamStats]) -> bool:
    """Whether ``name`` (few values yet) sits under a scalar the route carries often.

    >>> table = {"grant_type": ParamStats(), "grant_type[]": ParamStats()}
    >>> table["grant_type"].count, table["grant_type"].kinds = 900, {"token": 900}
    >>> table["grant_type[]"].count = 6
    >>> _rare_nested("grant_type[]", table["grant_type[]"], table)
    True
    """
    parent = _scalar_ancestor(name, table)
    return parent is not None and st.count < NESTED_RARE * table[parent].count


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
