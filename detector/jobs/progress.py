"""Progress of a replay on a terminal: its own line on stderr, percent and ETA when the
input size is known, never mixed into incident lines.

The line is a :class:`~detector.terminal.StatusLine`: the stdout sink erases it before
printing an incident on the same terminal, and it is redrawn on the next tick, so
incident lines carry no progress text and no carriage return.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

from detector.terminal import StatusLine, set_status_line

CHECK_EVERY = 2048  # items between looks at the clock (cheap enough per item)
INTERVAL = 0.25  # seconds between redraws
# No ETA before 1 % is done and a second has passed: the very start (read-ahead, warm-up)
# says little about the rest.
MIN_ETA_FRACTION = 0.01
MIN_ETA_SECONDS = 1.0
T = TypeVar("T")


def _fd_of(stream: object, depth: int = 0) -> int | None:
    """The OS file under a (buffered, gunzipping) reader, found through its public
    ``fileno()`` or the readers it wraps; None for an in-memory stream."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        if isinstance(fd, int):
            return fd
    except (AttributeError, OSError, ValueError):
        pass
    if depth >= 4:
        return None
    inner: list[object] = []
    raw = getattr(stream, "raw", None)  # io.BufferedReader (C type: no __dict__)
    if raw is not None:
        inner.append(raw)
    inner.extend(v for v in getattr(stream, "__dict__", {}).values() if hasattr(v, "read"))
    for obj in inner:
        if obj is not stream:
            fd = _fd_of(obj, depth + 1)
            if fd is not None:
                return fd
    return None


class _Input:
    """Size and read position of one input, in bytes of the file as stored (compressed
    for .gz); the size is None for a pipe or a terminal."""

    def __init__(self, stream: object) -> None:
        self.fd = _fd_of(stream)
        self.size: int | None = None
        if self.fd is not None:
            try:
                st = os.fstat(self.fd)
                if stat.S_ISREG(st.st_mode):
                    self.size = st.st_size
            except OSError:
                self.fd = None

    def position(self) -> int:
        if self.fd is None or self.size is None:
            return 0
        try:
            return min(os.lseek(self.fd, 0, os.SEEK_CUR), self.size)
        except OSError:  # closed under us (the input ended): all of it was read
            return self.size


def _clock_text(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _bytes_text(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class ReplayProgress:
    """Wraps the items of a replay and keeps a progress line on ``stream`` (stderr).

    With every input's size known (regular files, also ``- < file``): percent of the
    bytes read, records, rate and ETA; otherwise records and rate.
    """

    def __init__(self, streams: Iterable[object], stream: IO[str], *,
                 clock: Callable[[], float] = time.monotonic,
                 interval: float = INTERVAL) -> None:
        self._inputs = [_Input(s) for s in streams]
        sizes = [i.size for i in self._inputs]
        self.total: int | None = (sum(s for s in sizes if s is not None)
                                  if sizes and None not in sizes else None)
        self._line = StatusLine(stream)
        self._clock = clock
        self._interval = interval
        self._start = clock()

    def text(self, records: int, now: float) -> str:
        """The progress line after ``records`` records at time ``now``."""
        elapsed = max(now - self._start, 1e-9)
        parts = [f"replay: {records:,} records, {records / elapsed:,.0f}/s"]
        if self.total:
            done = min(sum(i.position() for i in self._inputs), self.total)
            frac = done / self.total
            eta = (_clock_text(elapsed * (1 - frac) / frac)
                   if frac >= MIN_ETA_FRACTION and elapsed >= MIN_ETA_SECONDS else "-:--:--")
            parts = [f"replay: {frac:4.0%} of {_bytes_text(self.total)}",
                     f"{records:,} records", f"{records / elapsed:,.0f}/s", f"ETA {eta}"]
        return ", ".join(parts)

    def __call__(self, items: Iterable[T]) -> Iterator[T]:
        self._start = self._clock()
        last = self._start
        set_status_line(self._line)
        try:
            self._line.show(self.text(0, last))
            n = 0
            for n, item in enumerate(items, 1):
                if n % CHECK_EVERY == 0:
                    now = self._clock()
                    if now - last >= self._interval:
                        last = now
                        self._line.show(self.text(n, now))
                yield item
        finally:
            # Transient: the summary replaces it.
            self._line.clear()
            set_status_line(None)
