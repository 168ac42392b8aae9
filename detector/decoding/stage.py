"""The decoding stage's entry points: raw records in, items out, on both input paths.

A file's lines (:class:`LineDecoder`, fed by :mod:`detector.sources.files`) and a
Kafka partition's records (:class:`~detector.decoding.records.RecordDecoder`) go
through the same steps: the format forced or detected from the first records
(:func:`choose_decoder`), each record decoded into an event, and a record that
cannot be one becomes a :class:`~detector.events.BadRecord` with its position and
reason, never dropped. Sources only read bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice

from detector.decoding.base import MAX_LINE_BYTES, DecodeError, Decoder
from detector.decoding.registry import DETECT_LINES, detect_format, make_decoder
from detector.events import AccessEvent, BadRecord, DeploymentEvent

Item = AccessEvent | DeploymentEvent | BadRecord
# A decoder's column-wise path (OtelDecoder.decode_batch): items of lines first, first + 1...
# of a source, or None when the chunk must be decoded line by line.
Batch = Callable[[list[bytes], str, int], list[Item] | None]
# Lines decoded at once. Smaller chunks stay in the CPU caches: reading, decoding and
# merging the 300k-line bench corpus took 1.1-1.2 s of CPU at 128-256 lines against
# 1.6-1.7 s at 1024 and 2.0-2.3 s at 4096 (the batch ingest gathers them again).
CHUNK_LINES = 256
UNKNOWN = "unknown format"  # the reason of every line of an input of unknown format


class Overlong(bytes):
    """The first bytes of a record over the size cap, with its true ``length``.

    A bytes subclass so that line readers stay ``Iterator[bytes]``; told apart by
    class. Only its prefix is ever held: the reader counted the rest.
    """

    length: int


def choose_decoder(fmt: str, samples: Sequence[bytes], service: str) -> Decoder:
    """The decoder for one stream: ``fmt`` forced, or ``auto`` detected from ``samples``.

    >>> choose_decoder("auto", [b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5'],
    ...                "web").name
    'clf'
    """
    if fmt == "auto":
        fmt = detect_format(list(samples[:DETECT_LINES]))
    return make_decoder(fmt, service)


class LineDecoder:
    """Decodes one input's lines, numbered from 1: the format from its first non-empty lines.

    An input of unknown format yields every non-empty line as a bad record (the
    reason goes to ``on_problem`` once); an :class:`Overlong` line becomes a bad
    record of its prefix and true length.

    >>> dec = LineDecoder("a.log", service="web")
    >>> lines = [b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /x HTTP/1.1" 200 5\\n', b"junk\\n"]
    >>> [type(i).__name__ for i in dec.decode(iter(lines))], dec.detected
    (['AccessEvent', 'BadRecord'], 'clf')
    """

    def __init__(self, name: str, *, fmt: str = "auto", service: str = "default",
                 max_line: int = MAX_LINE_BYTES,
                 on_problem: Callable[[str], None] | None = None,
                 chunked: bool = True) -> None:
        self.name = name
        self.fmt = fmt
        self.service = service
        self.max_line = max_line
        self.detected: str | None = None
        self._on_problem = on_problem
        # Chunks of lines decoded at once: only where reading ahead never waits (a file,
        # not a pipe that a live tail keeps open).
        self.chunked = chunked

    def _overlong(self, line: Overlong, no: int) -> BadRecord:
        # The summary groups reasons by what precedes ":"; the true length follows it.
        reason = f"line exceeds {self.max_line} bytes: {line.length:,} bytes"
        return BadRecord(self.name, no, reason, bytes(line), line.length)

    def _bad(self, raw: bytes, no: int, reason: str) -> BadRecord:
        if isinstance(raw, Overlong):
            return self._overlong(raw, no)
        return BadRecord(self.name, no, reason, raw)

    def _open(self, lines: Iterator[bytes]) -> tuple[list[Item], Decoder | None, int]:
        """Read the first non-empty lines and choose the decoder from them: their items,
        the decoder (None: unknown format, the items are bad records) and the number of
        lines read."""
        name = self.name
        head: list[tuple[int, bytes]] = []
        lineno = 0
        for raw in lines:
            lineno += 1
            if raw.__class__ is Overlong or raw.strip():
                head.append((lineno, raw))
                if len(head) >= DETECT_LINES:
                    break
        decoder: Decoder | None = None
        try:
            decoder = choose_decoder(self.fmt, [r for _, r in head if r.__class__ is bytes],
                                     self.service)
        except DecodeError as exc:
            if head and self._on_problem is not None:
                self._on_problem(f"{name}: {exc.reason}")
        if decoder is None:
            return [self._bad(raw, no, UNKNOWN) for no, raw in head], None, lineno
        self.detected = decoder.name
        items: list[Item] = []
        for no, raw in head:
            if isinstance(raw, Overlong):
                items.append(self._overlong(raw, no))
                continue
            try:
                items.append(decoder.decode(raw, name, no))
            except DecodeError as exc:
                items.append(BadRecord(name, no, exc.reason, raw))
        return items, decoder, lineno

    def decode(self, lines: Iterator[bytes]) -> Iterator[Item]:
        """Items of ``lines`` in order, each as soon as its line is read (a pipe's lines,
        as they arrive; a chunked decoder hands out :meth:`decode_chunks` item by item)."""
        if self.chunked:
            for chunk in self.decode_chunks(lines):
                yield from chunk
            return
        first, decoder, lineno = self._open(lines)
        yield from first
        if decoder is None:
            for raw in lines:
                lineno += 1
                if raw.__class__ is Overlong or raw.strip():
                    yield self._bad(raw, lineno, UNKNOWN)
            return
        yield from self._each(decoder.decode, lines, lineno)

    def decode_chunks(self, lines: Iterator[bytes]) -> Iterator[list[Item]]:
        """Items of ``lines`` in order, as lists of up to CHUNK_LINES lines' items (never
        an empty one); reads ahead, so only for inputs that never wait (files)."""
        first, decoder, lineno = self._open(lines)
        if first:
            yield first
        name = self.name
        if decoder is None:
            while chunk := list(islice(lines, CHUNK_LINES)):
                out: list[Item] = [self._bad(raw, no, UNKNOWN)
                                   for no, raw in enumerate(chunk, lineno + 1)
                                   if raw.__class__ is Overlong or raw.strip()]
                lineno += len(chunk)
                if out:
                    yield out
            return
        decode = decoder.decode
        batch: Batch | None = getattr(decoder, "decode_batch", None)
        # A chunk the decoder cannot take whole (or holding an over-long line) goes line
        # by line, one chunk at a time.
        while chunk := list(islice(lines, CHUNK_LINES)):
            got = batch(chunk, name, lineno + 1) \
                if batch is not None and Overlong not in set(map(type, chunk)) else None
            if got is None:
                got = list(self._each(decode, iter(chunk), lineno))
            lineno += len(chunk)
            if got:
                yield got

    def _each(self, decode: Callable[[bytes, str, int], Item], lines: Iterator[bytes],
              lineno: int) -> Iterator[Item]:
        """Items of ``lines`` decoded one by one (numbered from ``lineno + 1``)."""
        name = self.name
        for raw in lines:
            lineno += 1
            if raw.__class__ is Overlong:
                yield self._overlong(raw, lineno)
                continue
            try:
                yield decode(raw, name, lineno)
            except DecodeError as exc:
                if raw.strip():
                    yield BadRecord(name, lineno, exc.reason, raw)
