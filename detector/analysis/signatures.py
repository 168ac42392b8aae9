"""Signature stage of request analysis: known attack payloads in a request.

Each request field is normalised into a few decoded variants
(:mod:`detector.analysis.normalize`) and every variant is scanned once by a
multi-pattern matcher compiled from the packaged rules
(:mod:`detector.analysis.rules`). The matchers are Hyperscan or RE2, never
Python ``re``: scanning time stays linear whatever the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from detector.analysis.backends import Matcher, make_matcher
from detector.analysis.normalize import MAX_FIELD_CHARS, variants
from detector.analysis.rules import LOCATIONS, Rule, load_rules

__all__ = ["SignatureEngine", "SignatureHit"]


@dataclass(frozen=True, slots=True)
class SignatureHit:
    """One rule firing in one request location ("path", "query", "body", "user_agent").

    >>> SignatureHit("sqli-union-select", "sqli", 1, "query").category
    'sqli'
    """

    rule_id: str
    category: str
    paranoia: int
    location: str


def _looks_json(body: str) -> bool:
    head = body[:64].lstrip()
    return head.startswith(("{", "["))


@lru_cache(maxsize=8)
def _compiled(rules: tuple[Rule, ...], backend: str) -> tuple[Matcher, tuple[int, ...]]:
    """One matcher over every pattern of every rule, and each pattern's rule index.

    Compiling a Hyperscan database takes seconds, so it is done once per process
    and rule set; paranoia and location are filtered after matching instead.
    """
    owners = tuple(i for i, r in enumerate(rules) for _ in r.patterns)
    patterns = [p for r in rules for p in r.patterns]
    return make_matcher(patterns, backend), owners


class SignatureEngine:
    """Compiled signatures filtered to one paranoia level.

    >>> engine = SignatureEngine.default(paranoia=2)
    >>> sorted({h.category for h in engine.scan_text("1' UNION SELECT password FROM users--")})
    ['sqli']
    >>> engine.scan_request("GET", "/search", "q=o%27reilly+books", None, "Mozilla/5.0")
    []
    """

    def __init__(
        self,
        rules: tuple[Rule, ...],
        paranoia: int = 2,
        backend: str = "auto",
        max_field_chars: int = MAX_FIELD_CHARS,
    ) -> None:
        if not 1 <= paranoia <= 4:
            raise ValueError("paranoia must be between 1 and 4")
        self.paranoia = paranoia
        self.max_field_chars = max_field_chars
        self.rules = tuple(r for r in rules if r.paranoia <= paranoia)
        self._matcher, owners = _compiled(rules, backend)
        self.backend = self._matcher.name
        # per location: pattern index -> the hit it reports, or None when filtered out
        self._hits: dict[str, tuple[SignatureHit | None, ...]] = {}
        for loc in LOCATIONS:
            per_rule = [
                SignatureHit(r.id, r.category, r.paranoia, loc)
                if r.paranoia <= paranoia and loc in r.locations
                else None
                for r in rules
            ]
            self._hits[loc] = tuple(per_rule[i] for i in owners)

    @classmethod
    def default(cls, paranoia: int = 2, backend: str = "auto") -> SignatureEngine:
        """Engine over the packaged rules (``backend``: "auto", "hyperscan" or "re2")."""
        return cls(load_rules(), paranoia=paranoia, backend=backend)

    def _scan(self, text: str, location: str, *, form: bool, json_like: bool) -> list[SignatureHit]:
        if not text:
            return []
        found: set[int] = set()
        limit = self.max_field_chars
        for v in variants(text, form=form, json_like=json_like, limit=limit):
            found |= self._matcher.scan(v.encode("utf-8", "surrogatepass"))
        table = self._hits[location]
        hits = dict.fromkeys(h for i in sorted(found) if (h := table[i]) is not None)
        return list(hits)

    def scan_text(self, text: str, location: str = "query") -> list[SignatureHit]:
        """Hits for one field's raw text, decoded the way ``location`` is decoded."""
        if location not in self._hits:
            raise ValueError(f"unknown location {location!r}; expected one of {LOCATIONS}")
        if len(text) > self.max_field_chars:
            text = text[: self.max_field_chars]
        json_like = location == "body" and _looks_json(text)
        form = location == "query" or (location == "body" and not json_like)
        return self._scan(text, location, form=form, json_like=json_like)

    def scan_request(
        self, method: str, path: str, query: str, body: str | None, user_agent: str
    ) -> list[SignatureHit]:
        """Hits over the path, query string, body and User-Agent of one request.

        ``method`` is accepted for future method-specific rules; none uses it yet.
        """
        hits = self.scan_text(path, "path")
        if query:
            hits += self.scan_text(query, "query")
        if body:
            hits += self.scan_text(body, "body")
        if user_agent:
            hits += self.scan_text(user_agent, "user_agent")
        return hits
