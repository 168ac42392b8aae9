"""The week: weekend trough with smooth transitions and a later daily peak.

``weekend_weight`` is 0 on weekdays and 1 over the weekend, rising through
Friday evening and falling through Sunday night and Monday's small hours, so
a rate curve built on it has no step at midnight. A weekday-only run gets
weight 0 everywhere and its rates are exactly the weekday rates.
"""

from __future__ import annotations

import numpy as np

DAY_S = 86400.0
WEEK_S = 7 * DAY_S
_MONDAY_0 = 4 * DAY_S  # 1970-01-01 was a Thursday: Monday 00:00 UTC is day 4 of the epoch
# Weekend hours of the week (Monday 00:00 = 0): ramp in, full, ramp out.
_IN = (4 * 24 + 18.0, 5 * 24 + 6.0)  # Friday 18:00 -> Saturday 06:00
_OUT = (6 * 24 + 20.0, 7 * 24 + 6.0)  # Sunday 20:00 -> Monday 06:00
WEEKEND_PEAK_SHIFT_H = 2.0  # people get up later: the daily peak moves this much


def weekend_weight(ts: np.ndarray) -> np.ndarray:
    """0 on weekdays, 1 on the weekend, cosine ramps in between.

    >>> from datetime import datetime, UTC
    >>> at = lambda *a: datetime(*a, tzinfo=UTC).timestamp()
    >>> w = weekend_weight(np.array([at(2026, 3, 17, 12), at(2026, 3, 21, 12), at(2026, 3, 20, 18),
    ...                              at(2026, 3, 21, 0)]))
    >>> [round(float(x), 2) for x in w]
    [0.0, 1.0, 0.0, 0.5]
    """
    h = ((np.asarray(ts, dtype=np.float64) - _MONDAY_0) % WEEK_S) / 3600.0
    rise = np.clip((h - _IN[0]) / (_IN[1] - _IN[0]), 0.0, 1.0)
    fall = np.clip((h - _OUT[0]) / (_OUT[1] - _OUT[0]), 0.0, 1.0)
    share = np.where(h < _OUT[0], rise, 1.0 - fall)
    return np.asarray(0.5 - 0.5 * np.cos(np.pi * share))


def weekend_spans(t0: float, t1: float) -> list[tuple[float, float]]:
    """[start, end) of each weekend's full-weight part (Saturday 06:00 to Sunday 20:00)
    that overlaps [t0, t1), clipped to it.

    >>> from datetime import datetime, UTC
    >>> t0 = datetime(2026, 3, 20, tzinfo=UTC).timestamp()
    >>> spans = weekend_spans(t0, t0 + 72 * 3600)
    >>> [(round((a - t0) / 3600), round((b - t0) / 3600)) for a, b in spans]
    [(30, 68)]
    """
    out = []
    week = _MONDAY_0 + np.floor((t0 - _MONDAY_0) / WEEK_S) * WEEK_S
    while week < t1:
        lo, hi = week + _IN[1] * 3600.0, week + _OUT[0] * 3600.0
        if hi > t0 and lo < t1:
            out.append((max(lo, t0), min(hi, t1)))
        week += WEEK_S
    return out
