"""Suppression rules and maintenance windows (CONTRACTS §7): the file, checked, and matching.

A rule says "this is fine" for a scope (service, and optionally kinds, a route
template, a client address or CIDR, a user-agent glob) until it expires. A
maintenance window says "raise nothing for this service in this period, and
keep it out of the baselines". Matching is by **event time** (the incident's
times), never the wall clock, so a replay of yesterday with today's file
suppresses what the live service suppressed yesterday, and an expired rule
stops applying at the same event in both.

Client and user-agent scopes are judged on the requests that make the
incident: the incident's client for client-keyed kinds, else the clients and
user agents of the sample requests the detectors attached to its signals (all
must be in scope, so a route-keyed spike matches a client rule only when the
traffic that makes it comes from that client).
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from detector.errors import UsageError
from detector.kinds import KINDS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_FILE_BYTES = 4 << 20  # a rules file is small; bound what a wrong path can cost
_RULE_KEYS = ("kind", "service", "route", "client", "user_agent", "reason", "author", "expires",
              "learn")
_MAINT_KEYS = ("service", "start", "end", "reason")


class SuppressionError(UsageError):
    """The suppression file cannot be used; the message names the rule and key."""


@dataclass(frozen=True)
class Subject:
    """What a rule is matched against: one incident change, with the requests behind it."""

    service: str
    kind: str
    route: str | None
    client: str | None
    start: float  # event time the anomaly began (maintenance windows judge this)
    at: float  # event time of the change (rule expiry judges this)
    who: tuple[tuple[str, str], ...] = ()  # (client, user agent) of sample requests


@dataclass(frozen=True)
class Rule:
    """One ``[[suppress]]`` entry.

    >>> r = Rule(1, "catalog", 1e10, "export job", "ops", client="10.0.0.0/8")
    >>> r.matches(Subject("catalog", "traffic_spike", "/x", "10.1.2.3", 0.0, 0.0))
    True
    >>> r.matches(Subject("catalog", "traffic_spike", "/x", "192.0.2.1", 0.0, 0.0))
    False
    """

    index: int  # 1-based position among the file's rules
    service: str
    expires: float
    reason: str
    author: str
    kinds: frozenset[str] | None = None
    route: str | None = None
    client: str | None = None
    user_agent: str | None = None
    network: Network | None = field(default=None, compare=False)
    # The baselines learn the windows the rule covers as normal (a false positive's rule:
    # what the detector mistook for an anomaly becomes part of what it expects).
    learn: bool = False

    def __post_init__(self) -> None:
        if self.client is not None and self.network is None:
            object.__setattr__(self, "network", ipaddress.ip_network(self.client, strict=False))

    @property
    def id(self) -> str:
        """A short id from the rule's content (stable across edits of other rules)."""
        raw = "\x1f".join([self.service, ",".join(sorted(self.kinds or ())), self.route or "",
                           self.client or "", self.user_agent or "", str(self.expires),
                           self.reason, "learn" if self.learn else ""])
        return "sup-" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]

    def expired(self, at: float) -> bool:
        return at >= self.expires

    def matches(self, s: Subject) -> bool:
        """Whether the rule covers ``s`` (service, kind, route, client, agent, not expired)."""
        if s.service != self.service or self.expired(s.at):
            return False
        if self.kinds is not None and s.kind not in self.kinds:
            return False
        if self.route is not None and s.route != self.route:
            return False
        if self.network is not None and not self._client_in(s):
            return False
        if self.user_agent is not None:
            if not s.who:
                return False
            return all(fnmatch.fnmatchcase(ua, self.user_agent) for _, ua in s.who)
        return True

    def _client_in(self, s: Subject) -> bool:
        if s.client is not None:
            return _in(s.client, self.network)
        return bool(s.who) and all(_in(c, self.network) for c, _ in s.who)


def _in(address: str, network: Network | None) -> bool:
    try:
        return network is not None and ipaddress.ip_address(address.strip("[]")) in network
    except ValueError:  # a client that is no address (a campaign's label): not in any CIDR
        return False


@dataclass(frozen=True)
class Maintenance:
    """One ``[[maintenance]]`` window: ``[start, end)`` in event time."""

    index: int
    service: str
    start: float
    end: float
    reason: str

    @property
    def id(self) -> str:
        raw = "\x1f".join([self.service, str(self.start), str(self.end), self.reason])
        return "mnt-" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]

    def overlaps(self, start: float, end: float) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True)
class Suppressions:
    """The rules and maintenance windows of one file, checked.

    >>> s = Suppressions.parse({"maintenance": [{"service": "pay",
    ...     "start": "2026-03-17T02:00:00Z", "end": "2026-03-17T03:00:00Z", "reason": "db"}]})
    >>> sorted(s.muted(1773712800.0, 1773712860.0))
    ['pay']
    """

    rules: tuple[Rule, ...] = ()
    maintenance: tuple[Maintenance, ...] = ()
    source: str = ""

    @classmethod
    def parse(cls, data: Any, source: str = "suppressions") -> Suppressions:
        """Check a loaded document; :class:`SuppressionError` names the entry and key."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SuppressionError(f"{source}: expected [[suppress]] and [[maintenance]] tables")
        unknown = sorted(set(data) - {"suppress", "maintenance"})
        if unknown:
            raise SuppressionError(f"{source}: unknown section {unknown[0]!r} "
                                   "(suppress, maintenance)")
        rules = tuple(_rule(i, e, source) for i, e in enumerate(_entries(data, "suppress",
                                                                          source), 1))
        maint = tuple(_maint(i, e, source) for i, e in enumerate(_entries(data, "maintenance",
                                                                          source), 1))
        return cls(rules, maint, source)

    @classmethod
    def load(cls, path: Path) -> Suppressions:
        """Read and check a TOML or YAML file (YAML by its .yaml/.yml suffix)."""
        return cls.parse(read_document(path), str(path))

    def muted(self, start: float, end: float) -> frozenset[str]:
        """Services with a maintenance window overlapping ``[start, end)``."""
        return frozenset(m.service for m in self.maintenance if m.overlaps(start, end))

    def maintenance_of(self, service: str, t: float) -> Maintenance | None:
        for m in self.maintenance:
            if m.service == service and m.start <= t < m.end:
                return m
        return None

    def rule_for(self, s: Subject) -> Rule | None:
        """The first rule covering ``s``, if any."""
        return next((r for r in self.rules if r.matches(s)), None)

    def learns(self, s: Subject) -> bool:
        """A ``learn`` rule covers ``s``: its window is learned as normal."""
        return any(r.learn and r.matches(s) for r in self.rules)

    def suppresses(self, s: Subject) -> bool:
        """A rule covers ``s``, or ``s`` began inside its service's maintenance window."""
        return self.maintenance_of(s.service, s.start) is not None or self.rule_for(s) is not None


def read_document(path: Path) -> Any:
    """The file's document (TOML, or YAML by suffix); one-line errors."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SuppressionError(f"cannot read suppressions {path}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise SuppressionError(f"suppressions {path}: larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        text = raw.decode("utf-8")
        if is_yaml(path):
            return yaml.safe_load(text)
        return tomllib.loads(text)
    except UnicodeDecodeError:
        raise SuppressionError(f"suppressions {path}: not UTF-8 text") from None
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SuppressionError(f"suppressions {path}: {first}") from None


def is_yaml(path: Path) -> bool:
    return path.suffix.lower() in {".yaml", ".yml"}


def _entries(data: dict[str, Any], name: str, source: str) -> list[dict[str, Any]]:
    got = data.get(name, [])
    if not isinstance(got, list) or not all(isinstance(e, dict) for e in got):
        raise SuppressionError(f"{source}: {name} must be a list of tables ([[{name}]])")
    return got


def _rule(i: int, e: dict[str, Any], source: str) -> Rule:
    where = f"{source}: suppress[{i}]"
    _no_unknown(e, _RULE_KEYS, where)
    kinds: frozenset[str] | None = None
    if "kind" in e:
        raw = e["kind"]
        listed = [raw] if isinstance(raw, str) else raw
        if not isinstance(listed, list) or not listed or not all(isinstance(k, str)
                                                                  for k in listed):
            raise SuppressionError(f"{where}.kind: a kind or a list of kinds")
        bad = [k for k in listed if k not in KINDS]
        if bad:
            raise SuppressionError(f"{where}.kind: unknown kind {bad[0]!r}")
        kinds = frozenset(listed)
    route = _text(e, "route", where, required=False)
    if route is not None and not route.startswith("/"):
        raise SuppressionError(f"{where}.route: a route template starting with '/'")
    client = _text(e, "client", where, required=False)
    network = None
    if client is not None:
        try:
            network = ipaddress.ip_network(client.strip("[]"), strict=False)
        except ValueError:
            raise SuppressionError(f"{where}.client: {client!r} is no address or CIDR") from None
    learn = e.get("learn", False)
    if not isinstance(learn, bool):
        raise SuppressionError(f"{where}.learn: true or false")
    return Rule(i, _text(e, "service", where) or "", _time(e, "expires", where),
                _text(e, "reason", where) or "", _text(e, "author", where) or "",
                kinds=kinds, route=route, client=client,
                user_agent=_text(e, "user_agent", where, required=False), network=network,
                learn=learn)


def _maint(i: int, e: dict[str, Any], source: str) -> Maintenance:
    where = f"{source}: maintenance[{i}]"
    _no_unknown(e, _MAINT_KEYS, where)
    start, end = _time(e, "start", where), _time(e, "end", where)
    if end <= start:
        raise SuppressionError(f"{where}.end: must be after start")
    return Maintenance(i, _text(e, "service", where) or "", start, end,
                       _text(e, "reason", where) or "")


def _no_unknown(e: dict[str, Any], known: Iterable[str], where: str) -> None:
    extra = sorted(set(e) - set(known))
    if extra:
        raise SuppressionError(f"{where}.{extra[0]}: unknown key ({', '.join(known)})")


def _text(e: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    v = e.get(key)
    if v is None:
        if required:
            raise SuppressionError(f"{where}.{key}: required")
        return None
    if not isinstance(v, str) or not v.strip():
        raise SuppressionError(f"{where}.{key}: a non-empty string")
    return v.strip()


def _time(e: dict[str, Any], key: str, where: str) -> float:
    v = e.get(key)
    if v is None:
        raise SuppressionError(f"{where}.{key}: required (an ISO time, 2026-12-31T00:00:00Z)")
    try:
        return parse_time(v)
    except ValueError:
        raise SuppressionError(f"{where}.{key}: {str(v)[:40]!r} is no ISO time "
                               "(2026-12-31T00:00:00Z)") from None


def parse_time(v: object) -> float:
    """Epoch seconds of an ISO time (string, TOML datetime or date); naive means UTC.

    >>> parse_time("2026-01-01T00:00:00Z"), parse_time("2026-01-01")
    (1767225600.0, 1767225600.0)
    """
    if isinstance(v, datetime):
        dt = v
    elif isinstance(v, date):
        dt = datetime(v.year, v.month, v.day)
    elif isinstance(v, str):
        dt = datetime.fromisoformat(v.strip())
    else:
        raise ValueError(str(v))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
