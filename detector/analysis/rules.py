"""Signature rules as data: loading and validating ``rules/*.yaml``.

A rule file holds a list of rules; a rule names its category, paranoia level
(1 = high confidence ... 4 = noisy), the request locations it applies to, its
regex ``patterns`` (the common subset of Hyperscan and RE2: no lookaround, no
back-references) and optional ``keywords`` taken from a word list under
``rules/lists/``. Examples in each rule are asserted by the test-suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["CATEGORIES", "LOCATIONS", "Rule", "load_rules", "word_list"]

LOCATIONS = ("path", "query", "body", "user_agent", "header")
CATEGORIES = frozenset(
    {
        "sqli", "xss", "path_traversal", "rfi", "cmdi", "ssti", "ssrf", "log4shell", "nosqli",
        "xxe", "php", "java", "scanner", "sensitive_file", "nodejs", "generic",
    }
)  # fmt: skip
_RULES_PKG = "detector.analysis"


@dataclass(frozen=True, slots=True)
class Rule:
    """One signature: an id, its category and the regexes that fire it.

    >>> r = Rule("x-1", "xss", 1, "script tag", ("query",), ("<script",), (), ())
    >>> r.paranoia, r.locations
    (1, ('query',))
    """

    id: str
    category: str
    paranoia: int
    description: str
    locations: tuple[str, ...]
    patterns: tuple[str, ...]
    match: tuple[str, ...]
    no_match: tuple[str, ...]


def _escape(word: str) -> str:
    """Regex-escape a literal for both Hyperscan and RE2 (ASCII punctuation only)."""
    return "".join("\\" + c if not c.isalnum() and c != " " and c.isascii() else c for c in word)


@cache
def word_list(name: str) -> tuple[str, ...]:
    """Words of ``rules/lists/<name>.yaml``, lowercased."""
    text = resources.files(_RULES_PKG).joinpath("rules", "lists", f"{name}.yaml").read_text()
    data = yaml.safe_load(text)
    return tuple(str(w).lower() for w in data["words"])


_CHUNK = 1500  # Hyperscan rejects single alternations much larger than this


def _keyword_patterns(spec: dict[str, Any]) -> list[str]:
    words: list[str] = list(spec.get("words", []))
    if "list" in spec:
        words.extend(word_list(str(spec["list"])))
    ordered = sorted({w.lower() for w in words}, key=lambda w: (-len(w), w))
    before, after = spec.get("before", ""), spec.get("after", "")
    # "after" guards the end of a word; entries ending in '/' or '-' are prefixes already
    groups = [([w for w in ordered if w[-1].isalnum()], after)]
    groups.append(([w for w in ordered if not w[-1].isalnum()], spec.get("after_prefix", "")))
    # Hyperscan compiles a big alternation inside context classes slowly: "chunk" trades
    # compile time against the number of patterns
    chunk = int(spec.get("chunk", _CHUNK))
    return [
        f"{before}(?:{'|'.join(_escape(w) for w in ws[i : i + chunk])}){tail}"
        for ws, tail in groups
        for i in range(0, len(ws), chunk)
    ]


def _parse(raw: dict[str, Any], source: str) -> Rule:
    rid = str(raw["id"])
    category = str(raw["category"])
    paranoia = int(raw["paranoia"])
    locations = tuple(raw.get("locations", LOCATIONS))
    if category not in CATEGORIES:
        raise ValueError(f"{source}: rule {rid}: unknown category {category!r}")
    if not 1 <= paranoia <= 4:
        raise ValueError(f"{source}: rule {rid}: paranoia must be 1-4")
    if not set(locations) <= set(LOCATIONS):
        raise ValueError(f"{source}: rule {rid}: unknown location in {locations}")
    patterns = [str(p) for p in raw.get("patterns", [])]
    for spec in raw.get("keywords", []):
        patterns += _keyword_patterns(spec)
    if not patterns:
        raise ValueError(f"{source}: rule {rid}: no patterns")
    examples = raw.get("examples", {})
    return Rule(
        rid,
        category,
        paranoia,
        str(raw.get("description", "")),
        locations,
        tuple(patterns),
        tuple(str(x) for x in examples.get("match", [])),
        tuple(str(x) for x in examples.get("no_match", [])),
    )


@cache
def load_rules() -> tuple[Rule, ...]:
    """All packaged rules, in file then declaration order; ids must be unique."""
    rules: list[Rule] = []
    folder = resources.files(_RULES_PKG).joinpath("rules")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(entry.read_text())
        rules.extend(_parse(r, entry.name) for r in data["rules"])
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate rule ids: {sorted(dupes)}")
    return tuple(rules)
