"""Decoder protocol: bytes in, a canonical event out, or DecodeError with a reason.

Decoding is pure: no I/O, no globals, no metrics.
"""

from __future__ import annotations

from typing import Protocol

from detector.events import AccessEvent, DeploymentEvent

MAX_LINE_BYTES = 1 << 20  # a record over 1 MiB is dead-lettered, never parsed
SCHEMA_PREFIX_LEN = 5  # Confluent wire format: magic byte 0, then a 4-byte schema id
# A logged request body is kept whole, like every other field: no record is longer than
# MAX_LINE_BYTES, and the analyser scans a long field in full and flags one beyond its scan
# window as a size anomaly. A shorter cap (it was 4,096) let a few KB of filler push a
# payload out of sight of request analysis (issue 8). Only a JSON body re-serialised
# longer than its record (number formatting) can meet this cap.
BODY_CAP = MAX_LINE_BYTES  # characters
# Request headers (AccessEvent.headers): at most MAX_HEADERS per event, in record order,
# and a value kept whole up to HEADER_CAP characters, like a body: only a list of values
# joined or a number re-serialised could meet it, and a value cut there keeps its prefix.
MAX_HEADERS = 32
HEADER_CAP = BODY_CAP  # characters


class DecodeError(ValueError):
    """The record cannot become an event; ``reason`` is a short, one-line cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Decoder(Protocol):
    """One compiled decoder per source and format."""

    name: str

    def decode(self, raw: bytes, source: str, offset: int) -> AccessEvent | DeploymentEvent:
        """Decode one record; raise DecodeError on anything unusable."""
        ...
