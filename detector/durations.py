"""Durations as people write them on a command line: ``90s``, ``30m``, ``6h``, ``1d``, ``2w``.

One table of units for every option that takes a duration (``incidents
--since 2h``, ``run --retrain-every 6h``), so they all read the same way.
"""

from __future__ import annotations

import math
import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
TERM = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")  # one number with its unit


def term_seconds(m: re.Match[str]) -> float:
    """Seconds of one :data:`TERM` match."""
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_duration(text: str) -> float:
    """Positive seconds in ``text``: ``90`` (seconds), ``90s``, ``30m``, ``6h``, ``1d``,
    ``2w``, or terms one after the other (``1h30m``); ValueError with a one-line reason.

    >>> parse_duration("1h30m"), parse_duration("45"), parse_duration("1d"), parse_duration("1w")
    (5400.0, 45.0, 86400.0, 604800.0)
    """
    t = text.strip().lower()
    try:
        value = float(t)
    except ValueError:
        pos, value = 0, 0.0
        for m in TERM.finditer(t):
            if t[pos:m.start()].strip():
                break
            value += term_seconds(m)
            pos = m.end()
        if pos == 0 or t[pos:].strip():
            raise ValueError(f"not a duration: {text!r} (try 30m, 6h, 1d)") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a positive duration: {text!r}")
    return value
