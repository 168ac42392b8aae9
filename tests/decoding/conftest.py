"""Helpers shared by the decoding tests."""

from __future__ import annotations

import orjson

from detector.decoding import make_decoder
from detector.events import AccessEvent, DeploymentEvent

T = 1773738360.0  # 2026-03-17T09:06:00Z
ISO = "2026-03-17T09:06:00Z"


def decode(fmt: str, record: bytes | str | dict[str, object], service: str = "svc") -> AccessEvent:
    """One access event from a fresh decoder (JSON dicts are serialised first)."""
    raw = orjson.dumps(record) if isinstance(record, dict) else record
    raw = raw.encode() if isinstance(raw, str) else raw
    event = make_decoder(fmt, service).decode(raw, "test.log", 7)
    assert isinstance(event, AccessEvent), event
    return event


def decode_any(fmt: str, raw: bytes) -> AccessEvent | DeploymentEvent:
    return make_decoder(fmt, "svc").decode(raw, "test.log", 7)
