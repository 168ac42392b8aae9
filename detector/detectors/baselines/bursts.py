"""Recurring bursts of one series: a batch job every hour, a cron client every 15 minutes.

A burst is a run of at most :data:`SHORT_RUN` windows far above the expected
count. The memory keeps the onsets of the last few bursts, and a new burst is
*recurring* when it continues an arithmetic progression of three earlier
onsets (any period from 5 windows to a day, found from the data, no
configuration): the fourth occurrence of an hourly job is explained, as are
later ones even when an occurrence was missed. Three, not two: bursts at
random gaps of 20-60 minutes line up with some pair of earlier ones every
other time, and they must keep their height envelope.

A recurring burst must also stay as short as the longest one seen (plus a
window) and within :data:`HEIGHT_MARGIN` times the highest, so a real spike
that starts at the job's minute still fires once it outlasts or outgrows it.

The memory is a plain list of floats (snapshots store it as it is), allocated
at a series' first burst only: ~500 bytes for those series, nothing for others.

>>> mem, explained = new_memory(), []
>>> for hour in range(4):
...     for minute in range(60):
...         t = hour * 3600.0 + minute * 60.0
...         burst = minute in (17, 18)
...         if burst:
...             explained.append(recurring(mem, t, 60.0, 20.0))
...         observe(mem, t, burst, 20.0)
>>> explained  # the burst at 03:17 continues the ones at 00:17, 01:17 and 02:17
[False, False, False, False, False, False, True, True]
>>> recurring(mem, 4 * 3600.0 + 40 * 60.0, 60.0, 20.0)  # 04:40 is off the beat
False
"""

from __future__ import annotations

# The fields; onsets follow them. CALM is the route's height envelope without its
# bursts (kept by the detector): once bursts are explained by their beat, their
# height no longer hides a spike at another time.
RUN, ONSET, RUN_PEAK, LONGEST, HIGHEST, CALM = range(6)
FIELDS = 6
MAX_ONSETS = 8
SHORT_RUN = 5  # windows: longer runs are not bursts but changes (spikes, new normals)
MIN_PERIOD_WINDOWS = 5
MAX_PERIOD = 86400.0
MAX_SKIPPED = 3  # a burst may continue a progression after this many missed beats
HEIGHT_MARGIN = 3.0  # 10x to 30x bursts of one job are the same job


def new_memory(calm: float = 0.0) -> list[float]:
    """An empty memory: no run in progress, no onset."""
    mem = [0.0] * FIELDS
    mem[CALM] = calm
    return mem


def observe(mem: list[float], start: float, burst: bool, ratio: float) -> None:
    """Account for the window starting at ``start`` (``ratio`` = count / expected)."""
    if burst:
        if mem[RUN] == 0:
            mem[ONSET] = start
        mem[RUN] += 1
        mem[RUN_PEAK] = max(mem[RUN_PEAK], ratio)
    else:
        end_run(mem)


def end_run(mem: list[float]) -> None:
    """The current run (if any) is over: a short one is remembered as a burst."""
    run = mem[RUN]
    if 0 < run <= SHORT_RUN:
        onsets = mem[FIELDS:] + [mem[ONSET]]
        mem[FIELDS:] = onsets[-MAX_ONSETS:]
        mem[LONGEST] = max(mem[LONGEST], run)
        mem[HIGHEST] = max(mem[HIGHEST], mem[RUN_PEAK])
    mem[RUN] = 0.0
    mem[RUN_PEAK] = 0.0


def recurring(mem: list[float], start: float, width: float, ratio: float) -> bool:
    """Whether a burst window at ``start`` continues the beat of earlier bursts (pure)."""
    run = mem[RUN]
    if run + 1 > min(SHORT_RUN, mem[LONGEST] + 1) or ratio > HEIGHT_MARGIN * mem[HIGHEST]:
        return False
    onset = mem[ONSET] if run > 0 else start
    onsets = mem[FIELDS:]
    # Onsets are window starts: one window of jitter either side is the same beat.
    tol = 1.5 * width
    for i, a in enumerate(onsets):
        for b in onsets[i + 1 :]:
            period = b - a
            if (
                MIN_PERIOD_WINDOWS * width <= period <= MAX_PERIOD
                and _on_beat(onset, b, period, tol)
                and any(_on_beat(a, c, period, tol) for c in onsets[:i])
            ):
                return True
    return False


def _on_beat(t: float, last: float, period: float, tol: float) -> bool:
    """Whether ``t`` falls 1 to MAX_SKIPPED + 1 periods after ``last``."""
    beats = round((t - last) / period)
    return 1 <= beats <= MAX_SKIPPED + 1 and abs(t - last - beats * period) <= tol
