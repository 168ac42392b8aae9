"""Signature stage of request analysis: known attack payloads in a request.

Each request field is normalised into a few decoded variants
(:mod:`detector.analysis.normalize`) and every variant is scanned once by a
multi-pattern matcher compiled from the packaged rules
(:mod:`detector.analysis.rules`). The matchers are Hyperscan or RE2, never
Python ``re``: scanning time stays linear whatever the input.

A field longer than the scan window (``max_field_chars``, 64 Ki characters) is
scanned whole, window by window, each window overlapping the previous one by
:data:`WINDOW_OVERLAP` characters: a payload shorter than the overlap lies
entirely inside some window wherever it sits, so padding hides nothing, and the
cost stays linear (about 1.07 x the field's length; decoding is per window).
The analyser also reports such a field on its own (:meth:`SignatureEngine.oversized`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from detector.analysis.backends import Matcher, make_matcher
from detector.analysis.normalize import MAX_FIELD_CHARS, variants
from detector.analysis.rules import LOCATIONS, Rule, load_rules

__all__ = ["WINDOW_OVERLAP", "SignatureEngine", "SignatureHit", "header_values"]

# Characters shared by consecutive scan windows of an oversized field: longer than
# any payload a rule matches as a whole (the longest rule spans are a few hundred
# characters, encoded payloads a few times that), small next to the window.
WINDOW_OVERLAP = 4096


@dataclass(frozen=True, slots=True)
class SignatureHit:
    """One rule firing in one request location ("path", "query", "body", "user_agent", "header").

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
        if max_field_chars <= 2 * WINDOW_OVERLAP:
            raise ValueError(f"max_field_chars must exceed {2 * WINDOW_OVERLAP}")
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
        """Hits for one field's raw text, decoded the way ``location`` is decoded.

        The whole field is scanned, however long: see the module docstring.

        >>> engine = SignatureEngine.default()
        >>> padded = "a" * 100_000 + "<script>alert(1)</script>"
        >>> sorted({h.category for h in engine.scan_text(padded)})
        ['xss']
        """
        if location not in self._hits:
            raise ValueError(f"unknown location {location!r}; expected one of {LOCATIONS}")
        json_like = location == "body" and _looks_json(text)
        form = location in ("query", "header") or (location == "body" and not json_like)
        cap = self.max_field_chars
        if len(text) <= cap:
            return self._scan(text, location, form=form, json_like=json_like)
        hits: dict[SignatureHit, None] = {}
        step = cap - WINDOW_OVERLAP
        for start in range(0, len(text) - WINDOW_OVERLAP, step):
            for h in self._scan(text[start : start + cap], location, form=form,
                                json_like=json_like):
                hits[h] = None
        return list(hits)

    def oversized(self, fields: Mapping[str, str | None]) -> list[str]:
        """Reasons for the fields longer than one scan window (a size anomaly of its own).

        >>> SignatureEngine.default().oversized({"query": "q=" + "x" * 69_998, "path": "/"})
        ['query of 70,000 characters exceeds the 65,536-character scan window']
        """
        cap = self.max_field_chars
        return [
            f"{name} of {len(text):,} characters exceeds the {cap:,}-character scan window"
            for name, text in fields.items()
            if text is not None and len(text) > cap
        ]

    def scan_request(
        self,
        method: str,
        path: str,
        query: str,
        body: str | None,
        user_agent: str,
        headers: Mapping[str, str] | None = None,
    ) -> list[SignatureHit]:
        """Hits over the path, query string, body, User-Agent and headers of one request.

        ``headers`` (optional) are scanned with location "header": see
        :func:`header_values` for which ones and how they are split. A User-Agent
        found in ``headers`` is ignored when ``user_agent`` is given.
        ``method`` is accepted for future method-specific rules; none uses it yet.

        >>> engine = SignatureEngine.default(paranoia=2)
        >>> cookie = {"Cookie": "sid=1' union select 1--"}
        >>> hits = engine.scan_request("GET", "/", "", None, "", cookie)
        >>> sorted({(h.category, h.location) for h in hits})
        [('sqli', 'header')]
        """
        hits = self.scan_text(path, "path")
        if query:
            hits += self.scan_text(query, "query")
        if body:
            hits += self.scan_text(body, "body")
        if user_agent:
            hits += self.scan_text(user_agent, "user_agent")
        if headers:
            seen: set[SignatureHit] = set(hits)
            for value in header_values(headers, skip_user_agent=bool(user_agent)):
                for h in self.scan_text(value, "header"):
                    if h not in seen:
                        seen.add(h)
                        hits.append(h)
        return hits


# Headers whose values are protocol plumbing set by the client or a proxy, not by a
# person or an application: scanning them adds cost and false positives, no attacks
# that the other locations would not catch. Accept-* are left to rules that name them.
_PLUMBING = frozenset(
    {
        "host", "connection", "keep-alive", "proxy-connection", "content-length",
        "transfer-encoding", "te", "upgrade", "cache-control", "pragma", "accept",
        "accept-encoding", "accept-language", "accept-charset", "accept-ranges",
        "accept-datetime", "authorization", "proxy-authorization", "if-modified-since",
        "if-unmodified-since", "if-none-match", "if-match", "date", "dnt", "sec-fetch-site",
        "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user", "sec-ch-ua", "sec-ch-ua-mobile",
        "sec-ch-ua-platform", "upgrade-insecure-requests", "priority", "x-request-id",
        "x-amzn-trace-id", "traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid",
        "x-b3-parentspanid", "x-b3-sampled", "x-envoy-expected-rq-timeout-ms",
        "x-envoy-attempt-count", "x-forwarded-proto", "x-forwarded-port", "x-real-port",
        "content-md5", "x-csrf-token", "x-xsrf-token", "x-forwarded-host", "x-forwarded-server",
        "x-original-host", "x-envoy-original-host", "x-envoy-decorator-operation",
    }
)  # fmt: skip
MAX_HEADER_VALUES = 64  # at most this many header values (after Cookie splitting) per request


def _cookie_parts(value: str) -> Iterator[str]:
    """Cookie values, and names that are more than a plain token.

    >>> list(_cookie_parts("sid=1; java.lang.Runtime=x; flag"))
    ['1', 'java.lang.Runtime', 'x']
    """
    for pair in value.split(";"):
        name, eq, val = pair.strip().partition("=")
        if name and not name.replace("_", "").replace("-", "").isalnum():
            yield name
        if eq and val:
            yield val


def header_values(headers: Mapping[str, str], *, skip_user_agent: bool = True) -> list[str]:
    """The header values worth scanning, Cookie split into its names and values.

    Plumbing headers (Host, Accept*, Connection, Authorization, tracing ids ...)
    are skipped; everything else (Cookie, Referer, X-Forwarded-For, Forwarded,
    Content-Type, X-* and other custom headers) is kept. Header *names* that are
    not plain tokens are scanned too: CRS tests payloads hidden in names.
    Upload-name headers (X-Filename, X-File-Name ...) become ``filename="..."``
    so the multipart upload rules apply to them.

    >>> header_values({"Cookie": "sid=abc; pref=o%27reilly", "Host": "x", "X-Api": "1"})
    ['abc', 'o%27reilly', '1']
    """
    out: list[str] = []
    for raw_name, raw_value in headers.items():
        name = raw_name.lower()
        value = str(raw_value or "")
        if name in _PLUMBING or (name == "user-agent" and skip_user_agent):
            continue
        if not name.replace("-", "").replace("_", "").isalnum():
            out.append(raw_name)
        if not value:
            continue
        if name == "cookie":
            out.extend(_cookie_parts(value))
        elif "filename" in name.replace("-", "").replace("_", "").replace(".", ""):
            # X-Filename & co. name an upload: scan it the way a multipart part is scanned
            out.append(f'filename="{value}"')
        else:
            out.append(value)
    return out[:MAX_HEADER_VALUES]
