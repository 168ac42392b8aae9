"""eventlet/oslo WSGI server access lines (OpenStack nova-api and friends).

These logs interleave access lines with every other message of the service, so
a non-access line is an ordinary DecodeError("not an access record").
"""

from __future__ import annotations

import re

from detector.decoding._common import (
    client_of,
    fail,
    new_event,
    split_request,
    to_count,
    to_seconds,
    to_status,
)
from detector.decoding._text import TextDecoder
from detector.events import AccessEvent

_WSGI = re.compile(
    r"(?:\S+ )?"  # loghub prefixes each line with the source file name
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) \d+ [A-Z]+ \S+ "  # time pid LEVEL logger
    r"\[([^\]]*)\] "  # [req-id user project domain ...]
    r'(\S+) "([^"]*)" status: (\d+)\s+len: (\d+)\s+time: (\d+(?:\.\d+)?)',
)


class WsgiDecoder(TextDecoder):
    """OpenStack/eventlet WSGI access lines; times without a zone are UTC.

    >>> d = WsgiDecoder("nova")
    >>> e = d.decode(b'nova-api.log 2017-05-16 00:00:00.008 25746 INFO'
    ...              b' nova.osapi_compute.wsgi.server [req-3810 u p - - -] 10.11.10.1'
    ...              b' "GET /v2/p/servers/detail HTTP/1.1"'
    ...              b' status: 200 len: 1893 time: 0.2477829', "f", 1)
    >>> e.path, e.status, e.bytes, e.request_id, e.service
    ('/v2/p/servers/detail', 200, 1893, 'req-3810', 'nova')
    """

    name = "wsgi"
    __slots__ = ()

    def _access(self, line: str, source: str, offset: int) -> AccessEvent:
        m = _WSGI.match(line)
        if m is None:
            fail("not an access record")
        ts_text, context, client, request, status, size, seconds = m.groups()
        ts = self._parse_ts(ts_text)
        method, path, query = split_request(request)
        request_id = context.split(" ", 1)[0]
        return new_event(
            AccessEvent,
            (ts, self.default_service, None, method, path, query,
             to_status(status), to_seconds(seconds), to_count(size),
             client_of(client, None), "",
             None, request_id if request_id.startswith("req-") else None, source, offset,
             None),
        )  # fmt: skip
