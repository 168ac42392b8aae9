"""Signature scans of a request's fields, memoised: most traffic repeats its paths,
User-Agents and payloads, so most requests cost a few dict lookups.

Every memo is bounded by entries and by bytes (keys are request text, as long as a
client likes), and only short fields are memoised at all. The hit lists are shared
between requests: nothing downstream may mutate them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from detector.analysis.params import Param, parse_request
from detector.analysis.signatures import SignatureEngine, SignatureHit
from detector.events import AccessEvent
from detector.memo import Memo, size_of

__all__ = ["CACHE_BYTES", "CACHE_MAX", "PAYLOAD_BYTES", "PLAIN_IDS", "FieldScans", "parsed_size"]

CACHE_MAX = 65_536
CACHE_BYTES = 8 << 20  # per memo: keys are request text, as long as a client likes
# The parsed payloads: the memo most requests go through. A busy API's distinct
# payloads (46k in the 1 M-line bench corpus, about 0.9 KB each parsed) fit, so a
# payload is parsed and scanned once, not once per wholesale clear.
PAYLOAD_BYTES = 48 << 20
_NONE: list[SignatureHit] = []  # shared "no hits": never mutated
# Plain integer and UUID path segments (as the templater's shortcut): linear, no nesting.
PLAIN_IDS = re.compile(
    r"/(?:\d{1,20}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?=/|$)"
)


class FieldScans:
    """Memoised :class:`SignatureEngine` scans of path, User-Agent, query and body.

    >>> scans = FieldScans(SignatureEngine.default())
    >>> ev = AccessEvent(0.0, "shop", None, "GET", "/users/42", "id=1'+OR+'1'='1", 200, None,
    ...                  None, "10.0.0.1", "curl/8", None, None, "a.log", 1)
    >>> sorted({h.category for h in scans.hits(ev)})
    ['sqli']
    >>> "/users/0" in scans.path_hits  # ids carry no payload: one entry for every user
    True
    """

    def __init__(self, signatures: SignatureEngine) -> None:
        self.signatures = signatures
        self.path_hits: Memo[str, list[SignatureHit]] = Memo(CACHE_MAX, CACHE_BYTES)
        self.ua_hits: Memo[str, list[SignatureHit]] = Memo(CACHE_MAX, CACHE_BYTES)
        self.query_hits: Memo[str, list[SignatureHit]] = Memo(CACHE_MAX, CACHE_BYTES)
        self.body_hits: Memo[str, list[SignatureHit]] = Memo(CACHE_MAX, CACHE_BYTES)
        # (query, body) -> (hits in query then body, parse_request(query, body)): pure
        # functions of the payload, memoised (payloads repeat a lot).
        self.payloads: Memo[tuple[str, str | None], tuple[list[SignatureHit], list[Param]]] = (
            Memo(CACHE_MAX, PAYLOAD_BYTES))

    def scan(self, cache: Memo[str, list[SignatureHit]], text: str,
             location: str) -> list[SignatureHit]:
        """Hits in ``text`` at ``location``, through ``cache`` (one of the memos above)."""
        hits = cache.get(text)
        if hits is None:
            hits = self.signatures.scan_text(text, location) if text else []
            if len(text) <= 2048:
                cache.put(text, hits, size_of(text))
        return hits

    def hits(self, ev: AccessEvent) -> list[SignatureHit]:
        """Hits over path, query, body and User-Agent."""
        path = ev.path
        if len(path) <= 512:  # ids carry no payload: '/users/42' and '/users/43' scan alike
            path = PLAIN_IDS.sub("/0", path)
        hits = self.path_hits.get(path)
        if hits is None:
            hits = self.scan(self.path_hits, path, "path")
        ua = self.ua_hits.get(ev.user_agent)
        if ua is None:
            ua = self.scan(self.ua_hits, ev.user_agent, "user_agent")
        if not (ev.query or ev.body):
            return hits + ua if ua else hits
        qb = self.payload(ev.query, ev.body)[0]
        return hits + qb + ua

    def payload(self, query: str, body: str | None) -> tuple[list[SignatureHit], list[Param]]:
        """(hits in the query then the body, parsed parameters), memoised for short payloads."""
        key = (query, body)
        got = self.payloads.get(key)
        if got is None:
            # API queries repeat a lot (pagination, filters), bodies too: both cached
            q = self.scan(self.query_hits, query, "query") if query else _NONE
            b = self.scan(self.body_hits, body, "body") if body else _NONE
            got = (q + b if q and b else q or b, parse_request(query, body))
            if len(query) + len(body or "") <= 1024:
                self.payloads.put(key, got, size_of(query, body) + parsed_size(got[1]))
        return got


def parsed_size(params: Sequence[Param]) -> int:
    """Bytes held by parsed parameters: the list, a tuple and two strings for each
    (measured with tracemalloc on the bench corpus' payloads: within 10 %).

    >>> parsed_size([]) < parsed_size([("a", "1", "int")])
    True
    """
    return 56 + sum(170 + len(name) + len(value) for name, value, _ in params)
