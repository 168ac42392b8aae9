"""File sources: plain, gzip or stdin; format detected per file; several files merged by time."""

from __future__ import annotations

import gzip
import heapq
import io
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from detector.decoding import MAX_LINE_BYTES, DecodeError, detect_format, make_decoder
from detector.events import AccessEvent, BadRecord, DeploymentEvent

Item = AccessEvent | DeploymentEvent | BadRecord
DETECT_LINES = 20
GZIP_MAGIC = b"\x1f\x8b"


class SourceError(OSError):
    """An input cannot be read at all (missing, permission, not a file). Not retriable."""


def open_input(path: str) -> tuple[IO[bytes], str]:
    """Open ``path`` ('-' = stdin) as binary, transparently gunzipping; returns (stream, name)."""
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
        return gzip.GzipFile(fileobj=buffered, mode="rb"), name  # type: ignore[return-value]
    return buffered, name


class FileSource:
    """Decoded items of one input, in file order, each with its file:line position.

    The format is detected from the first non-empty lines (or forced with
    ``fmt``); a file of unknown format yields every line as a bad record, so
    nothing the user gave is dropped silently.

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
        self.detected: str | None = None
        self.error: str | None = None  # one-line problem with this input, for the summary

    def _lines(self) -> Iterator[bytes]:
        try:
            yield from self.stream
        except (OSError, EOFError, zlib.error) as exc:
            self.error = f"{self.name}: input ends abruptly ({type(exc).__name__}: {exc})"

    def __iter__(self) -> Iterator[Item]:
        name = self.name
        cap = self.max_line
        lines = self._lines()
        head: list[tuple[int, bytes]] = []
        lineno = 0
        for raw in lines:
            lineno += 1
            if raw.strip():
                head.append((lineno, raw))
                if len(head) >= DETECT_LINES:
                    break
        fmt = self.fmt
        if fmt == "auto":
            try:
                fmt = detect_format([r for _, r in head if len(r) <= cap])
            except DecodeError as exc:
                if head:
                    self.error = f"{name}: {exc.reason}"
                fmt = ""
        self.detected = fmt or None
        if not fmt:
            reason = "unknown format"
            for no, raw in head:
                yield BadRecord(name, no, reason, raw)
            for raw in lines:
                lineno += 1
                if raw.strip():
                    yield BadRecord(name, lineno, reason, raw)
            return
        decode = make_decoder(fmt, self.service).decode
        for no, raw in head:
            yield self._one(decode, raw, name, no, cap)
        for raw in lines:
            lineno += 1
            if len(raw) > cap:
                yield BadRecord(name, lineno, f"line exceeds {cap} bytes ({len(raw)} bytes)", raw)
                continue
            try:
                yield decode(raw, name, lineno)
            except DecodeError as exc:
                if raw.strip():
                    yield BadRecord(name, lineno, exc.reason, raw)

    @staticmethod
    def _one(decode: object, raw: bytes, name: str, no: int, cap: int) -> Item:
        if len(raw) > cap:
            return BadRecord(name, no, f"line exceeds {cap} bytes ({len(raw)} bytes)", raw)
        try:
            return decode(raw, name, no)  # type: ignore[operator, no-any-return]
        except DecodeError as exc:
            return BadRecord(name, no, exc.reason, raw)

    def close(self) -> None:
        if self.stream is not sys.stdin.buffer:
            self.stream.close()


def _key(item: Item) -> float:
    # Bad records carry no time; they pass through as soon as they come up.
    return item[0] if item.__class__ is not BadRecord else float("-inf")  # type: ignore[return-value]


def merged(sources: list[FileSource]) -> Iterator[Item]:
    """Items of several inputs merged in event-time order (rotated files, several hosts)."""
    if len(sources) == 1:
        return iter(sources[0])
    return heapq.merge(*sources, key=_key)
