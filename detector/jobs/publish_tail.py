"""Following a growing log file the way ``tail -F`` does: rotation and truncation included.

A shipper that loses its place on rotation either drops the end of the old
file or re-sends the new one from the wrong offset. At the end of the data,
the path is looked at again: another file there (a new inode: rotated) means
the old one is finished, so it is read to its end and the new one is read from
its start; a file shorter than the offset read (truncated in place, as
``logrotate copytruncate`` does) is read again from its start. A line is only
handed out once its newline arrived, so a line being written is never cut in
two records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

READ_CHUNK = 1 << 20


class LineSplitter:
    """Cuts chunks of bytes into lines, carrying a partial line to the next chunk.

    Lines are stripped of their ``\\r\\n``; empty ones are dropped; one longer than
    ``max_line`` is dropped whatever its length (memory stays bounded) and counted
    in ``overlong``.

    >>> s = LineSplitter(max_line=4)
    >>> s.feed(b"ab\\r\\ntoo long\\nc"), s.feed(b"d\\n"), s.overlong
    ([b'ab'], [b'cd'], 1)
    """

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.overlong = 0
        self.partial = b""
        self._skipping = False  # inside an over-long line: drop until its newline

    def reset(self) -> None:
        """Forget the partial line (the file it came from was truncated)."""
        self.partial, self._skipping = b"", False

    def feed(self, data: bytes) -> list[bytes]:
        """The lines ``data`` completes."""
        parts = data.split(b"\n")
        parts[0] = self.partial + parts[0]
        self.partial = parts.pop()
        if self._skipping and parts:
            self._skipping = False
            parts[0] = b""  # the end of the over-long line
        limit = self.max_line
        out = [ln for ln in parts if ln and ln != b"\r"]
        if any(len(ln) > limit for ln in out):
            kept = [ln for ln in out if len(ln) <= limit]
            self.overlong += len(out) - len(kept)
            out = kept
        if out and any(ln[-1:] == b"\r" for ln in out):
            out = [ln.rstrip(b"\r") for ln in out]
        if len(self.partial) > limit:
            if not self._skipping:
                self.overlong += 1
            self.partial, self._skipping = b"", True
        return out

    def finish(self) -> list[bytes]:
        """The last line when the data ends without a newline."""
        last, skipping = self.partial, self._skipping
        self.reset()
        last = last.rstrip(b"\r")
        return [last] if last and not skipping else []


class FileFollower:
    """Complete lines appended to ``path`` since the last :meth:`poll`, from its start.

    ``max_line`` bounds memory: a line longer than that is skipped (counted in
    ``splitter.overlong``), whatever its length.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "app.log"
    >>> _ = p.write_bytes(b"one\\ntw")
    >>> f = FileFollower(p)
    >>> f.poll()
    [b'one']
    >>> with p.open("ab") as out: _ = out.write(b"o\\n")
    >>> f.poll(), f.poll()
    ([b'two'], [])
    >>> f.close()
    """

    def __init__(self, path: Path, *, max_line: int = 1 << 20) -> None:
        self.path = path
        self.splitter = LineSplitter(max_line)
        self.rotations = 0
        self.truncations = 0
        self._file: IO[bytes] | None = None
        self._inode: tuple[int, int] | None = None
        self._pos = 0

    def _open(self) -> bool:
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return False  # not there (yet, or between a rotation's rename and create)
        st = os.fstat(f.fileno())
        self._file, self._inode, self._pos = f, (st.st_dev, st.st_ino), 0
        self.splitter.reset()
        return True

    def _read_available(self, out: list[bytes]) -> None:
        assert self._file is not None
        while data := self._file.read(READ_CHUNK):
            self._pos += len(data)
            out += self.splitter.feed(data)

    def _where_now(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def poll(self) -> list[bytes]:
        """Complete lines written since the last poll (none: nothing new yet)."""
        out: list[bytes] = []
        if self._file is None and not self._open():
            return out
        self._read_available(out)
        now = self._where_now()
        if now is not None and now != self._inode:
            self.rotations += 1  # the old file was read to its end just above
            self.close()
            if self._open():
                self._read_available(out)
        elif now is not None and self.path.stat().st_size < self._pos:
            self.truncations += 1
            assert self._file is not None
            self._file.seek(0)
            self._pos = 0
            self.splitter.reset()
            self._read_available(out)
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
