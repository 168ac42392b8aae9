"""Known id shapes: decide, for one path segment, whether it is an identifier.

Every id shape maps to the single placeholder ``{id}`` so that templates stay
comparable across services and with labels. A file name keeps its extension
(``3f2a9c1be9d04c7a.png`` -> ``{id}.png``). Pure functions, no state: the
tree relies on ``shape(seg)`` always giving the same answer for the same seg.

>>> shape("42"), shape("SKU-19786"), shape("users"), shape("v2")
('{id}', '{id}', None, None)
>>> shape("3f2a9c1be9d04c7a.png"), shape("report-2024.pdf")
('{id}.png', None)
"""

from __future__ import annotations

import re
from itertools import islice
from urllib.parse import unquote

ID = "{id}"
REST = "{rest}"

# Cheapest verdicts first: most segments are plain lowercase words or integers.
_WORD = re.compile(r"[a-z_-]+")
# Short version tags (v1, v2, v1.2, v2beta, v1alpha1) are API structure, not ids.
_VERSION = re.compile(r"[vV]\d{1,3}(?:\.\d{1,3}){0,2}(?:[-_]?[a-zA-Z]+\d{0,3})?")
# Integers, decimals, dates, IPv4, phone numbers, times: a digit with separators.
_NUMERIC = re.compile(r"[-+(]?\d[\d.,:_()\- ]*")
_UUID = re.compile(r"[0-9a-f]{8}(-?)[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{12}", re.I)
_HEX = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,})")
_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+\.[^@\s/.]{2,}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?"
)
_IPV6 = re.compile(r"[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_SKU = re.compile(r"[A-Za-z0-9]+[-_.:~][A-Za-z0-9\-_.:~]*")
_SEP = re.compile(r"[-_.:~]+")
_DIGIT = re.compile(r"\d")
_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_NO_DIGITS = str.maketrans("", "", "0123456789")
# Letter/digit runs: a random token switches often, a word or a version rarely.
_LD_RUNS = re.compile(r"[A-Za-z]+|\d+")
# Word-ish runs: a Capitalised word counts once, so camelCase scores low.
_CASE_RUNS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+|\d+")
_EXT = re.compile(r"[A-Za-z][A-Za-z0-9]{0,7}")
_PLACEHOLDER = re.compile(r"\{id\}(?:\.[A-Za-z][A-Za-z0-9]{0,7}){0,2}")
# The id forms that fill real traffic, decided in one match: a prefix and a
# long number (SKU-19786, ord_123456) and a content hash with one extension
# (3f2a9c1be9d04c7a.png, with a digit in the hash). The full analysis in
# shape() reaches the same verdict on every string they match, only slower.
PREFIXED_NUMBER = r"[A-Za-z]+[-_][0-9]{5,}"  # (also the cache's shortcut: routes.templater)
_PREFIXED_NUMBER = re.compile(PREFIXED_NUMBER)
_HASHED_FILE = re.compile(r"([0-9a-fA-F]{8,})(\.[A-Za-z][A-Za-z0-9]{0,7})")
# Heuristics below run Python-level loops: they look at a bounded window or a
# bounded number of parts, so a hostile 256-char segment costs microseconds.
_WINDOW = 64
_MAX_PARTS = 8


def _digits(s: str) -> int:
    return len(s) - len(s.translate(_NO_DIGITS))


def _ld_switches_at_least(s: str, n: int) -> bool:
    """At least ``n`` letter/digit switches (stops scanning once found)."""
    return sum(1 for _ in islice(_LD_RUNS.finditer(s), n + 1)) > n


def _random_alnum(s: str) -> bool:
    """8+ ASCII alphanumerics switching letter/digit at least 3 times (dQw4w9WgXcQ)."""
    return len(s) >= 8 and _ld_switches_at_least(s, 3)


def _digit_heavy(s: str) -> bool:
    """6+ ASCII alphanumerics, at least half digits (A1234567, SKU19786, v20240101)."""
    return len(s) >= 6 and 2 * _digits(s) >= len(s)


def _base64(s: str) -> bool:
    """A 16+ char token of mixed classes that does not read like words or camelCase."""
    classes = (
        (_UPPER.search(s) is not None)
        + (_LOWER.search(s) is not None)
        + (_DIGIT.search(s) is not None)
    )
    w = s[:_WINDOW]
    return classes >= 2 and 10 * len(_CASE_RUNS.findall(w)) >= 3 * len(w)


def _strong(part: str) -> bool:
    """A part of a compound token that is an id on its own, whatever surrounds it."""
    if part.isdigit():
        return len(part) >= 5
    if _HEX.fullmatch(part) and _DIGIT.search(part):
        return True
    return part.isalnum() and (_random_alnum(part) or _digit_heavy(part))


def _sku(s: str) -> bool:
    """Letters and digits joined by separators: SKU-19786, ord_8f3k2, A12-B34, ORD-42.

    Slugs and file stems with a real word (report-2024, h264-stream, covid-19) and
    short technical tags (api-v2, x86_64, utf-8) stay literal.
    """
    parts = [p for p in _SEP.split(s, _MAX_PARTS)[:_MAX_PARTS] if p]
    if any(_strong(p) for p in parts):
        return True
    if any(p.isalpha() and len(p) >= 4 and not p.isupper() for p in parts):
        return False
    mixed = [p for p in parts if not p.isalpha() and not p.isdigit()]
    if len(mixed) >= 2 or any(_ld_switches_at_least(p, 3) for p in mixed):
        return True
    return _digits(s) >= 2 and any(p.isalpha() and p.isupper() for p in parts)


def is_id(s: str) -> bool:
    """True if the (already percent-decoded) segment has a known identifier shape."""
    if not s or _WORD.fullmatch(s):
        return False
    if s.isascii() and s.isdigit():
        return True
    if not s.isprintable():
        # Control characters, lone surrogates, zero-width marks: never a route
        # word, and kept out of templates that end up in JSON and terminals.
        return True
    if _VERSION.fullmatch(s):
        return False
    if _NUMERIC.fullmatch(s) or _UUID.fullmatch(s):
        return True
    if _HEX.fullmatch(s) and _DIGIT.search(s):
        return True
    if "@" in s:
        return _EMAIL.fullmatch(s) is not None
    if _DATETIME.fullmatch(s):
        return True
    if ":" in s and _IPV6.fullmatch(s) and _DIGIT.search(s):
        return True
    if not s.isascii():
        return False  # unicode words (café, поиск) stay literal
    if s.isalnum():
        return _random_alnum(s) or _digit_heavy(s) or (len(s) >= 16 and _base64(s))
    if len(s) >= 16 and _B64.fullmatch(s) and _base64(s):
        return True
    return _SKU.fullmatch(s) is not None and _sku(s)  # needs a separator, no backtracking


def _decoded(seg: str) -> str:
    # Shape is judged on the decoded text (%31%32 is 12), the template keeps seg.
    return unquote(seg, errors="replace") if "%" in seg else seg


def shape(seg: str) -> str | None:
    """The placeholder form of ``seg`` (``{id}``, ``{id}.png``) or None if it is literal.

    Idempotent on its own output: ``shape("{id}.png") == "{id}.png"``.
    """
    if _PREFIXED_NUMBER.fullmatch(seg) is not None:
        return ID
    hashed = _HASHED_FILE.fullmatch(seg)
    if hashed is not None and not hashed[1].isalpha():
        return ID + hashed[2]
    return analysed_shape(seg)


def analysed_shape(seg: str) -> str | None:
    """:func:`shape` by the full analysis, without the one-match verdicts for common ids."""
    if "{" in seg or "}" in seg:
        # Our own placeholders pass through; any other brace segment (an unfilled
        # client-side template like {userId}) is treated as an id, so a literal
        # never looks like a placeholder.
        return seg if _PLACEHOLDER.fullmatch(seg) else ID
    decoded = _decoded(seg)
    if "@" not in decoded:  # an email's .com is a domain, not a file extension
        stems = []
        stem = seg
        for _ in range(2):  # <sha>.tar.gz: at most two extensions, longest first
            dot = stem.rfind(".")
            if dot <= 0 or not _EXT.fullmatch(stem, dot + 1):
                break
            stem = stem[:dot]
            stems.append(stem)
        for stem in reversed(stems):
            if is_id(_decoded(stem)):
                return ID + seg[len(stem) :]
    return ID if is_id(decoded) else None
