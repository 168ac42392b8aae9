"""Shared shell of the line-oriented text decoders (CLF, ALB, WSGI)."""

from __future__ import annotations

from detector.decoding._common import fail, internal_error, load_object, text_line
from detector.decoding.base import DecodeError
from detector.decoding.deployment import is_deployment, parse_deployment
from detector.decoding.timestamps import TimestampParser
from detector.events import AccessEvent, DeploymentEvent


class TextDecoder:
    """Base of the text formats; subclasses set ``name`` and write ``_access``."""

    name = "text"
    __slots__ = ("default_service", "_parser", "_parse_ts")

    def __init__(self, default_service: str = "default") -> None:
        self.default_service = default_service
        self._parser = TimestampParser()
        self._parse_ts = self._parser.parse

    def decode(self, raw: bytes, source: str, offset: int) -> AccessEvent | DeploymentEvent:
        """Decode one text line; raise DecodeError on anything unusable."""
        try:
            line = text_line(raw)
            if line[:1] == "{":
                # Deployment records may be interleaved with text access lines.
                obj = load_object(raw)
                if is_deployment(obj):
                    return parse_deployment(obj, source, offset, self._parser)
                fail(f"not a {self.name} record: a JSON object")
            return self._access(line, source, offset)
        except DecodeError:
            raise
        except Exception as e:  # safety net: whatever the bytes, only DecodeError escapes
            raise internal_error(e) from e

    def _access(self, line: str, source: str, offset: int) -> AccessEvent:
        raise NotImplementedError
