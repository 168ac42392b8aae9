"""File sources: plain, gzip or stdin read as lines of bytes, decoded by the decoding stage
(:class:`~detector.decoding.stage.LineDecoder`, format detected per file); several files
merged by time."""

from __future__ import annotations

import gzip
import heapq
import io
import sys
import zlib
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

import numpy as np

from detector.decoding import MAX_LINE_BYTES
from detector.decoding.stage import CHUNK_LINES, Item, LineDecoder, Overlong
from detector.events import BadRecord
from detector.sources.merge import F64, merge_chunks
from detector.sources.timeguard import plausible_chunks, plausible_times

GZIP_MAGIC = b"\x1f\x8b"
# An over-long line is never held whole: its first RAW_PREFIX bytes go to the
# dead-letter record (with its true length), the rest is read in SKIP_CHUNK
# pieces and only counted, so memory stays bounded whatever the input.
RAW_PREFIX = 4096
SKIP_CHUNK = 1 << 16
# Deflate tops out near 1030:1 (runs of one byte); access logs compress 5-50:1.
# Past GZIP_RATIO_FLOOR of output, more than GZIP_MAX_RATIO times the compressed
# bytes read is a decompression bomb, not a log: the rest of that input is skipped.
GZIP_MAX_RATIO = 250
GZIP_RATIO_FLOOR = 64 << 20


class SourceError(OSError):
    """An input cannot be read at all (missing, permission, not a file). Not retriable."""


class DecompressionBomb(ValueError):
    """A gzip input expands far beyond what any log compresses to."""


class _Counted:
    """The compressed side of a gzip input, counting the bytes read from it."""

    mode = "rb"

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.n = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.n += len(data)
        return data


class _Gunzip(io.RawIOBase):
    """Decompressed bytes of a gzip stream, refusing a ratio no log reaches."""

    def __init__(self, raw: IO[bytes], owned: bool) -> None:
        self._src = _Counted(raw)
        self._gz = gzip.GzipFile(fileobj=self._src, mode="rb")  # type: ignore[call-overload]
        self._owned = owned  # close the file under it too (never stdin)
        self.out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n: int = self._gz.readinto(b)
        self.out += n
        if self.out > GZIP_RATIO_FLOOR and self.out > GZIP_MAX_RATIO * self._src.n:
            raise DecompressionBomb(
                f"decompresses to over {GZIP_MAX_RATIO} times its compressed size "
                f"({self.out:,} bytes from {self._src.n:,}): a decompression bomb, "
                "the rest of it is skipped"
            )
        return n

    def close(self) -> None:
        if not self.closed:
            self._gz.close()
            if self._owned:
                self._src.raw.close()
        super().close()


_READ_ERRORS = (DecompressionBomb, OSError, EOFError, zlib.error)


def open_input(path: str) -> tuple[IO[bytes], str]:
    """Open ``path`` ('-' = stdin) as binary, transparently gunzipping; returns (stream, name).

    Read it with ``readline(limit)``: a line is only as long as the input makes it.
    """
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
        name = "<stdin>"
    else:
        p = Path(path)
        if p.is_dir():
            raise SourceError(f"cannot read {path}: is a directory")
        try:
            raw = p.open("rb")
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
        name = p.name
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
    try:
        head = buffered.peek(2)[:2]
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head == GZIP_MAGIC:
        guard = _Gunzip(buffered, owned=path != "-")
        return io.BufferedReader(guard, SKIP_CHUNK), name
    return buffered, name


class FileSource:
    """Decoded items of one input, in file order, each with its file:line position.

    The source reads lines of bytes; the decoding stage's
    :class:`~detector.decoding.stage.LineDecoder` turns them into items. The
    format is detected from the first non-empty lines (or forced with ``fmt``); a
    file of unknown format yields every line as a bad record, so nothing the user
    gave is dropped silently. A line over ``max_line`` bytes
    is never held whole: it becomes a bad record of its first RAW_PREFIX bytes
    and its true ``length``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.log"
    >>> _ = p.write_text('1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /x HTTP/1.1" 200 5\\n')
    >>> [type(i).__name__ for i in FileSource(str(p), service="web")]
    ['AccessEvent']
    """

    def __init__(
        self,
        path: str,
        *,
        fmt: str = "auto",
        service: str = "default",
        max_line: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = path
        self.stream, self.name = open_input(path)
        self.fmt = fmt
        self.service = service
        self.max_line = max_line
        self.error: str | None = None  # one-line problem with this input, for the summary
        # A pipe (stdin, a FIFO) may stay open with no more to read yet: nothing is read
        # ahead of what is decoded there, so every line counts as it arrives.
        self.streaming = path == "-" or not Path(path).is_file()
        self._decoder = LineDecoder(self.name, fmt=fmt, service=service, max_line=max_line,
                                    on_problem=self._problem, chunked=not self.streaming)
        self._ended = False  # reading stopped on an error

    def _lines(self) -> Iterator[bytes]:
        """Lines of at most ``max_line`` bytes; a longer one comes out as :class:`Overlong`."""
        readline = self.stream.readline
        limit = self.max_line + 1  # the cap plus the newline
        self._ended = False
        while not self._ended:
            try:
                raw = readline(limit)
            except _READ_ERRORS as exc:
                self._fail(exc)
                return
            if not raw:
                return
            if len(raw) == limit and raw[-1] != 10:
                yield self._skip_rest(raw)
            else:
                yield raw

    def _fail(self, exc: BaseException) -> None:
        self._ended = True
        if isinstance(exc, DecompressionBomb):
            self.error = f"{self.name}: {exc}"
        else:
            self.error = f"{self.name}: input ends abruptly ({type(exc).__name__}: {exc})"

    def _skip_rest(self, first: bytes) -> Overlong:
        """Read past the rest of an over-long line, only counting it (bounded memory)."""
        readline = self.stream.readline
        length = len(first)
        ending = 0
        prev = first
        try:
            while chunk := readline(SKIP_CHUNK):
                length += len(chunk)
                if chunk[-1] == 10:  # "\r\n" may straddle two reads
                    ending = 2 if (prev[-1:] + chunk[-2:])[-2:] == b"\r\n" else 1
                    break
                prev = chunk
        except _READ_ERRORS as exc:  # the line so far is still reported
            self._fail(exc)
        line = Overlong(first[:RAW_PREFIX])
        line.length = length - ending
        return line

    def _problem(self, message: str) -> None:
        if self.error is None:  # a read error says more
            self.error = message

    @property
    def detected(self) -> str | None:
        """The format of this input once its first lines are read (None: unknown)."""
        return self._decoder.detected

    def __iter__(self) -> Iterator[Item]:
        return self._decoder.decode(self._lines())

    def chunks(self) -> Iterator[list[Item]]:
        """The items of this input as lists (replay's hot path: one step per list, not per
        item); reads ahead, so a streaming input's items are better taken one by one."""
        if type(self).__iter__ is not FileSource.__iter__:  # a subclass picks its items
            items = iter(self)
            while chunk := list(islice(items, CHUNK_LINES)):
                yield chunk
            return
        yield from self._decoder.decode_chunks(self._lines())

    def close(self) -> None:
        if self.stream is not sys.stdin.buffer:
            self.stream.close()


def _key(item: Item) -> float:
    # Bad records carry no time; they pass through as soon as they come up.
    return item[0] if item.__class__ is not BadRecord else float("-inf")  # type: ignore[return-value]


def _keys(items: list[Item]) -> F64:
    """:func:`_key` of each of ``items``."""
    bad = BadRecord
    ninf = float("-inf")
    return np.array([it[0] if it.__class__ is not bad else ninf for it in items],
                    dtype=np.float64)


def merged(sources: list[FileSource]) -> Iterator[Item]:
    """Items of several inputs merged in event-time order (rotated files, several hosts).

    Absurd event times are judged per input, against its own times, before the
    merge (one outlier would otherwise hold back the rest of its input there).
    Streaming inputs are read item by item; files in chunks (:func:`merged_chunks`).
    """
    if not any(s.streaming for s in sources):
        return chain.from_iterable(merged_chunks(sources))
    guarded = [plausible_times(s) for s in sources]
    if len(guarded) == 1:
        return guarded[0]
    return heapq.merge(*guarded, key=_key)


def merged_chunks(sources: list[FileSource]) -> Iterator[list[Item]]:
    """:func:`merged` as lists of items (in the same order), for inputs that never wait."""
    guarded = [plausible_chunks(s.chunks()) for s in sources]
    if len(guarded) == 1:
        return guarded[0]
    return merge_chunks(guarded, _keys)
