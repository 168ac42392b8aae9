"""The Kafka key of a log line (its service), found without decoding the whole line.

The service's consumer group keeps state per service, so the input topic is
keyed by service (ARCHITECTURE, "State, delivery, scale"). Decoding every line
to learn it costs more than producing it; the JSON formats name their
service in a handful of ways a byte pattern finds. That shortcut is only taken
for an input where it gives, on the first lines, the service the real decoder
gives; a line it does not find a service in is decoded for real. Text formats
(CLF, ALB, WSGI), and JSON inputs whose first lines name none, carry no
service: their lines get the default one, as the consumer gives them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from detector.decoding import DecodeError, Decoder
from detector.decoding._json import JsonDecoder
from detector.decoding.stage import choose_decoder
from detector.events import BadRecord

# "service": "x", "service.name": "x", "service": {"name": "x"} (nested OTel/ECS).
SERVICE_FIELD = re.compile(
    rb'"service(?:\.name)?"\s*:\s*(?:\{\s*"name"\s*:\s*)?"([^"\\]{1,256})"')
SAMPLE_LINES = 64


class ServiceKeyer:
    """Keys one input's lines by service; ``None`` for a line that is no record at all.

    >>> k = ServiceKeyer("a.log", [b'{"timestamp": "2026-03-20T00:00:00Z", '
    ...     b'"service.name": "shop", "http.request.method": "GET", "url.path": "/", '
    ...     b'"http.response.status_code": 200}'], default="web")
    >>> k.fast, k.key(b'{"service.name": "cart", "timestamp": "x"}'), k.key(b"junk")
    (True, b'cart', None)
    """

    def __init__(self, name: str, head: Sequence[bytes], *, default: str = "default",
                 fmt: str = "auto") -> None:
        self.name = name
        self.default = default.encode()
        # DecodeError (unknown format) goes to the caller: nothing is published blind.
        self.decoder: Decoder = choose_decoder(fmt, list(head), default)
        sample = head[:SAMPLE_LINES]
        matched = [self._matched(line) for line in sample]
        decoded = [self._decoded(line) for line in sample]
        # A JSON input whose lines name no service (nginx often) is keyed like a text one.
        pairs = list(zip(matched, decoded, strict=True))
        self.json = isinstance(self.decoder, JsonDecoder)
        self.carries_service = self.json and any(
            d not in (None, self.default) or m is not None for m, d in pairs)
        self.fast = self.carries_service and all(
            d is None or d == (m or self.default) for m, d in pairs)

    def _matched(self, line: bytes) -> bytes | None:
        m = SERVICE_FIELD.search(line)
        return m.group(1) if m else None

    def _decoded(self, line: bytes) -> bytes | None:
        try:
            item = self.decoder.decode(line, self.name, 0)
        except DecodeError:
            return None
        if isinstance(item, BadRecord):
            return None
        return item.service.encode()

    def key(self, line: bytes) -> bytes | None:
        """The service of ``line`` as bytes; None when the line does not decode."""
        if not self.carries_service:
            return self.default
        if self.fast:
            m = SERVICE_FIELD.search(line)
            if m is not None:
                return m.group(1)
        return self._decoded(line)

    def named(self, line: bytes) -> bytes | None:
        """The service of ``line`` when its bytes leave no doubt; None: decode it to know.

        Stricter than :meth:`key`, for callers that skip the lines of other services
        (``replay --workers``): a line naming a service twice, or that may be a
        deployment event (every worker needs those), or a JSON line of an input that
        names no service but which mentions one, is left to the decoder.
        """
        if b"deployment" in line:
            return None
        if not self.carries_service:
            if self.json and b'"service' in line:
                return None
            return self.default
        if not self.fast:
            return None
        m = SERVICE_FIELD.search(line)  # (faster than byte finds: the match is near the start)
        if m is None or SERVICE_FIELD.search(line, m.end()) is not None:
            return None
        return m.group(1)

    def timed(self, line: bytes) -> tuple[float, bytes | None]:
        """(event time, key) by a full decode: what merging several inputs needs.
        A line that does not decode sorts first (-inf), as replay lets bad records pass."""
        try:
            item = self.decoder.decode(line, self.name, 0)
        except DecodeError:
            return float("-inf"), None
        if isinstance(item, BadRecord):
            return float("-inf"), None
        return item.ts, item.service.encode() if self.carries_service else self.default
