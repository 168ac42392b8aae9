"""Event-time formatting shared by incidents and summaries."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    """ISO 8601 UTC with a Z, second precision.

    >>> iso(0)
    '1970-01-01T00:00:00Z'
    """
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def parse_iso(text: str) -> float:
    """Epoch seconds of a time written by :func:`iso`.

    >>> parse_iso(iso(1_700_000_000.0))
    1700000000.0
    """
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
