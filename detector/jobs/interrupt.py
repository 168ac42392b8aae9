"""SIGINT and SIGTERM during a replay: stop reading, flush every sink, print the summary.

Python's default SIGTERM action kills the process on the spot: whatever the
sinks still buffered (the sqlite sink stores on flush, files flush per block)
was lost and no summary was printed. During a replay both signals only *ask*
for a stop: :func:`until_stopped` ends the input before the next record, the
pipeline returns normally, the sinks are flushed and closed, and
:class:`Interrupted` carries the summary up to the command, which prints it and
exits 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

The stop is taken between records, never in the middle of one: an incident is
either written to every sink or to none. When the signal arrives while the
input is being read (a blocking read on a pipe that may never return), the
handler ends the input right there instead of waiting for the next record. A
second SIGINT (Ctrl-C twice) stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from detector.pipeline import RunSummary

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """The first stop signal received (None while none was)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else "none"

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or 0)


class Interrupted(Exception):
    """A run stopped by a signal, with the summary of what it did until then."""

    def __init__(self, stop: StopRequest, summary: RunSummary, problems: list[str]) -> None:
        super().__init__(f"interrupted by {stop.name}")
        self.stop = stop
        self.summary = summary
        self.problems = problems


class _StopReading(Exception):
    """Raised by the handler inside a blocked read; caught by :func:`until_stopped`."""


def until_stopped(items: Iterable[T], stop: StopRequest) -> Iterator[T]:
    """``items`` until a stop is requested (checked before reading the next one, so a stop
    requested while a record was being processed never waits on a blocking read)."""
    try:
        for it in items:
            yield it
            if stop.signum is not None:
                return
    except _StopReading:
        return


_READING = until_stopped.__code__


def _reading(frame: FrameType | None) -> bool:
    """Is the main thread inside the input iterator (reading or decoding a record)?"""
    while frame is not None:
        if frame.f_code is _READING:
            return True
        frame = frame.f_back
    return False


@contextmanager
def stop_on_signals(stop: StopRequest, *, interrupt_reads: bool = True,
                    forward: Callable[[int], None] | None = None) -> Iterator[StopRequest]:
    """SIGINT and SIGTERM set ``stop`` (and call ``forward``) while the block runs.

    ``interrupt_reads`` off: never raise from the handler (worker processes read
    files, which do not block, and must reach the end of their loop).
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        again = stop.signum is not None
        if not again:
            stop.signum = signum
        if forward is not None:
            forward(signum)
        if not interrupt_reads:
            return
        if _reading(frame):
            raise _StopReading
        if again and signum == signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C twice: do not wait any longer

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
