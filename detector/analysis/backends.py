"""Linear-time multi-pattern matchers: Hyperscan first, RE2 as the fallback.

Both backends take the same pattern list, read input as bytes (RE2 in
Latin-1 mode so that character classes count bytes exactly as Hyperscan
does), match case-insensitively and report each pattern index at most once.
Neither backtracks, so hostile input costs time linear in its length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["Matcher", "available_backends", "make_matcher"]


class Matcher(Protocol):
    """Scans bytes and returns the indices of the patterns that matched."""

    name: str

    def scan(self, data: bytes) -> set[int]: ...


class HyperscanMatcher:
    """One compiled Hyperscan block-mode database.

    >>> m = HyperscanMatcher(["union\\\\s+select", "<script"])
    >>> sorted(m.scan(b"1 UNION  SELECT <script>"))
    [0, 1]
    """

    name = "hyperscan"

    def __init__(self, patterns: Sequence[str]) -> None:
        import hyperscan

        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
        if patterns:
            self._db.compile(
                expressions=[p.encode() for p in patterns],
                ids=list(range(len(patterns))),
                elements=len(patterns),
                flags=[flags] * len(patterns),
            )
        self._empty = not patterns

    def scan(self, data: bytes) -> set[int]:
        found: set[int] = set()
        if self._empty or not data:
            return found

        def on_match(pid: int, _from: int, _to: int, _flags: int, _ctx: Any) -> None:
            found.add(pid)

        self._db.scan(data, match_event_handler=on_match)
        return found


class Re2Matcher:
    """An RE2 ``Set`` over the same patterns (unanchored search).

    >>> m = Re2Matcher(["union\\\\s+select", "<script"])
    >>> sorted(m.scan(b"1 UNION  SELECT <script>"))
    [0, 1]
    """

    name = "re2"

    def __init__(self, patterns: Sequence[str]) -> None:
        import re2

        opts = re2.Options()
        opts.case_sensitive = False
        opts.encoding = re2.Options.Encoding.LATIN1
        opts.max_mem = 256 << 20  # large keyword alternations need a roomy DFA budget
        opts.log_errors = False
        self._set = re2.Set.SearchSet(opts)
        for p in patterns:
            self._set.Add(p.encode("latin-1"))
        self._set.Compile()
        self._empty = not patterns

    def scan(self, data: bytes) -> set[int]:
        if self._empty or not data:
            return set()
        matched = self._set.Match(data)  # None, not [], when nothing matched
        return set(matched) if matched else set()


def available_backends() -> list[str]:
    """Backends importable here, preferred first."""
    names = []
    try:
        import hyperscan  # noqa: F401

        names.append("hyperscan")
    except ImportError:
        pass
    try:
        import re2  # noqa: F401

        names.append("re2")
    except ImportError:
        pass
    return names


def make_matcher(patterns: Sequence[str], backend: str = "auto") -> Matcher:
    """Compile ``patterns`` with ``backend`` ("auto", "hyperscan" or "re2")."""
    if backend == "auto":
        options = available_backends()
        if not options:
            raise ImportError("no signature backend: install hyperscan or google-re2")
        backend = options[0]
    if backend == "hyperscan":
        return HyperscanMatcher(patterns)
    if backend == "re2":
        return Re2Matcher(patterns)
    raise ValueError(f"unknown signature backend {backend!r}")
