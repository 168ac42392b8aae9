"""Common and Combined Log Format (Apache, nginx default), optionally with a request time."""

from __future__ import annotations

import re

from detector.decoding._common import (
    excerpt,
    fail,
    new_event,
    split_request,
    to_count,
    to_seconds,
    to_status,
)
from detector.decoding._text import TextDecoder
from detector.events import AccessEvent

# A quoted field; quotes inside it arrive escaped as \". Written as "unrolled loop" (runs of
# plain characters between escapes), not as one alternation per character: the same
# strings and groups (an escape's backslash always takes the next character, so the
# closing quote is the same), 6x faster to match (measured on the bench_formats corpus).
QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_CLF = re.compile(
    r"(\S+) \S+ \S+ \[([^\]]+)\] "  # host ident user [time]
    + QUOTED
    + r" (\d+|-) (\d+|-)"  # "request" status bytes
    + r"(?: "
    + QUOTED
    + r" "
    + QUOTED
    + r")?"  # Combined: "referer" "agent"
    + r"(?: (\d+(?:\.\d+)?))?"  # request time in seconds ($request_time, %T)
    + r"(?: .*)?\Z",  # further fields some setups append
    re.DOTALL,
)


class ClfDecoder(TextDecoder):
    """Common/Combined Log Format; the service is the configured default.

    Combined's referer is the event's one request header, ``referer`` (as logged: a
    quote in it stays escaped, like the User-Agent's).

    >>> d = ClfDecoder("www")
    >>> e = d.decode(b'pc1.nasa.gov - - [01/Jul/1995:00:00:01 -0400] "GET /history/ HTTP/1.0"'
    ...              b' 200 6245\\n', "f", 1)
    >>> e.client, e.path, e.status, e.bytes, e.service
    ('pc1.nasa.gov', '/history/', 200, 6245, 'www')
    """

    name = "clf"
    __slots__ = ()

    def _access(self, line: str, source: str, offset: int) -> AccessEvent:
        m = _CLF.match(line)
        if m is None:
            fail(f"not a {self.name} line: {excerpt(line)}")
        host, ts_text, request, status, size, referer, ua, rt = m.groups()
        ts = self._parse_ts(ts_text)
        method, path, query = split_request(request)
        return new_event(
            AccessEvent,
            (ts, self.default_service, None, method, path, query,
             to_status(status), to_seconds(rt) if rt else None,
             to_count(size), host, ua if ua and ua != "-" else "", None, None,
             source, offset, (("referer", referer),) if referer and referer != "-" else None),
        )  # fmt: skip
