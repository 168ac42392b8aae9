"""AWS Application Load Balancer access logs (space-separated, quoted request and agent)."""

from __future__ import annotations

import re

from detector.decoding._common import (
    excerpt,
    fail,
    new_event,
    split_request,
    strip_port,
    to_count,
    to_status,
)
from detector.decoding._text import TextDecoder
from detector.decoding.clf import QUOTED
from detector.events import AccessEvent

_ALB = re.compile(
    r"(?:https?|h2|grpcs?|wss?) (\S+) \S+ (\S+) \S+ "  # type time elb client:port target:port
    r"(\S+) (\S+) (\S+) "  # request / target / response processing times (s, -1 = n/a)
    r"(\S+) \S+ \S+ (\S+) "  # elb_status_code target_status_code received_bytes sent_bytes
    r'"([^"]*)" ' + QUOTED +  # "request" "user_agent"
    r'(?: \S+ \S+ \S+ "([^"]*)")?'  # ssl_cipher ssl_protocol target_group_arn "trace_id"
    r"(?: .*)?\Z",  # AWS keeps appending fields: tolerate any number
    re.DOTALL,
)


def _processing_time(fields: tuple[str, str, str]) -> float | None:
    total = 0.0
    for f in fields:
        try:
            v = float(f)
        except ValueError:
            return None
        if not 0.0 <= v < float("inf"):
            return None  # -1: the request never reached a target or the connection broke
        total += v
    return total


class AlbDecoder(TextDecoder):
    """AWS ALB access log lines; duration is the sum of the three processing times.

    >>> d = AlbDecoder("shop")
    >>> e = d.decode(b'https 2026-03-17T09:06:00.100000Z app/lb/1 10.0.0.9:2817 10.1.0.5:80 0.001'
    ...              b' 0.200 0.001 502 502 34 366 "GET https://shop.example:443/a?b=1 HTTP/1.1"'
    ...              b' "curl/8" ECDHE TLSv1.2 arn:tg "Root=1-abc" "shop.example" more', "f", 1)
    >>> e.client, e.path, e.query, e.status, e.duration, e.request_id
    ('10.0.0.9', '/a', 'b=1', 502, 0.202, 'Root=1-abc')
    """

    name = "alb"
    __slots__ = ()

    def _access(self, line: str, source: str, offset: int) -> AccessEvent:
        m = _ALB.match(line)
        if m is None:
            fail(f"not an {self.name} line: {excerpt(line)}")
        ts_text, client, rpt, tpt, spt, status, size, request, ua, trace = m.groups()
        ts = self._parse_ts(ts_text)
        method, path, query = split_request(request)
        return new_event(
            AccessEvent,
            (ts, self.default_service, None, method, path, query,
             to_status(status), _processing_time((rpt, tpt, spt)), to_count(size),
             strip_port(client) if client != "-" else "", ua if ua != "-" else "",
             None, trace if trace and trace != "-" else None, source, offset, None),
        )  # fmt: skip
