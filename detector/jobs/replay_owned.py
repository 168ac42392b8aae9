"""One ``replay --workers`` worker's share of an input: its services' lines, found in the bytes.

Decoding is most of what a worker would spend on lines that are not its own, so
the service of a line is read from its raw bytes
(:meth:`~detector.jobs.publish_keys.ServiceKeyer.named`, the finder ``publish``
keys Kafka records with, trusted only on an input where it agrees with the
decoder on the first lines) and another worker's line is skipped undecoded. A
file of one service thus costs its other workers a read of each line and two
byte scans of each chunk of lines (:func:`one_service`). Lines the bytes leave in
doubt (no or two service fields, possible deployment events, an input of unknown
format, the first lines that choose the format) are decoded by every worker,
which keeps its own services' events and every deployment event.

A chunk that starts with a worker's own line is decoded whole, column-wise as one
process decodes it, and kept whole when all its events are that worker's services'
(else it goes line by line). A line whose bytes name another worker's service but
which decodes as this worker's (possible only where the bytes disagree with the
decoder after the first lines) is so kept when it comes in such a chunk, as one
process keeps it; read line by line it is skipped here, and dropped by the other.

Every worker answers "who reports this bad line" alike, from the line's bytes: a
line whose service the bytes name is its owner's (the only worker that decodes
it), any other is worker 0's. Each bad line is so counted and dead-lettered once.
"""

from __future__ import annotations

import os
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import chain, islice, repeat
from operator import itemgetter

from detector.decoding import MAX_LINE_BYTES, DecodeError
from detector.decoding.registry import DETECT_LINES
from detector.decoding.stage import CHUNK_LINES, Batch, LineDecoder, Overlong
from detector.events import AccessEvent, BadRecord, Item
from detector.jobs.publish_keys import SERVICE_FIELD, ServiceKeyer
from detector.sources.files import GZIP_MAGIC, FileSource, open_input


class Ownership:
    """Which worker owns a service: the plan's, or a hash of the name for one it missed.

    >>> own = Ownership(1, 2, {"shop": 1, "cart": 0})
    >>> junk = BadRecord("a.log", 1, "invalid JSON", b"junk")
    >>> own.mine("shop"), own.mine_named(b"cart"), own.reports(junk, None)
    (True, False, False)
    """

    def __init__(self, me: int, workers: int, plan: dict[str, int]) -> None:
        self.me = me
        self.workers = workers
        self._mine: dict[str, bool] = {svc: w == me for svc, w in plan.items()}
        self._named: dict[bytes, bool] = {}

    def mine(self, service: str) -> bool:
        """Whether this worker runs ``service``'s pipeline."""
        m = self._mine.get(service)
        if m is None:
            m = self._mine[service] = zlib.crc32(service.encode()) % self.workers == self.me
        return m

    def mine_named(self, service: bytes) -> bool:
        """:meth:`mine` for a service name as the bytes of a line give it."""
        m = self._named.get(service)
        if m is None:
            m = self._named[service] = self.mine(service.decode("utf-8", "replace"))
        return m

    def reports(self, rec: BadRecord, keyer: ServiceKeyer | None) -> bool:
        """Whether this worker reports ``rec`` (see the module docstring)."""
        named = keyer.named(rec.raw) if keyer is not None and rec.raw else None
        return self.mine_named(named) if named is not None else self.me == 0

    def select(self, items: Iterable[Item], keyer: ServiceKeyer | None) -> Iterator[Item]:
        """This worker's part of ``items``: its services' events, its bad records, and
        every deployment event (each worker's registry needs them)."""
        mine = self.mine
        for it in items:
            cls = it.__class__
            if cls is AccessEvent:
                if mine(it[1]):  # type: ignore[arg-type]
                    yield it
            elif cls is BadRecord:
                if self.reports(it, keyer):  # type: ignore[arg-type]
                    yield it
            else:
                yield it


class OwnedSource(FileSource):
    """A :class:`FileSource` yielding only what one worker owns of its input, each item as
    the whole input's decoding gives it (same positions, same format detection).

    A file is read in chunks of lines, as one process reads it: a chunk whose every line
    names the same service (:func:`one_service`, checked on the chunk's bytes at once) is
    skipped whole or decoded whole by the decoder's column-wise path; a chunk that mixes
    services goes line by line, its own lines' consecutive runs decoded column-wise.
    """

    def __init__(self, path: str, own: Ownership, *, fmt: str = "auto",
                 service: str = "default") -> None:
        super().__init__(path, fmt=fmt, service=service)
        self.own = own
        self.skipped = 0  # lines left undecoded: another worker's
        self._mixed = False  # the last chunk read line by line held more than one service

    def _head(self, lines: Iterator[bytes]) -> tuple[list[bytes], ServiceKeyer | None]:
        """The lines the format is chosen from (as LineDecoder reads them) and the keyer
        chosen from them (None: unknown format, every line a bad record of worker 0's)."""
        head: list[bytes] = []
        seen = 0
        for raw in lines:
            head.append(raw)
            if raw.__class__ is Overlong or raw.strip():
                seen += 1
                if seen >= DETECT_LINES:
                    break
        sample = [r for r in head if r.__class__ is bytes and r.strip()]
        try:
            if sample:
                return head, ServiceKeyer(self.name, sample, default=self.service, fmt=self.fmt)
        except DecodeError:
            pass
        return head, None

    def __iter__(self) -> Iterator[Item]:
        if not self.streaming:
            return chain.from_iterable(self.chunks())
        return self._each_item()

    def _each_item(self) -> Iterator[Item]:
        """Item by item, each as soon as its line is read: a pipe never waits for a chunk."""
        lines = self._lines()
        head, keyer = self._head(lines)
        dec = self._decoder
        if keyer is None:
            yield from self.own.select(dec.decode(_chain(head, lines)), keyer)
            return
        yield from self.own.select(dec.decode(iter(head)), keyer)
        yield from self.own.select(self._rest(lines, len(head), keyer, dec), keyer)

    def chunks(self) -> Iterator[list[Item]]:
        """This worker's items as lists (never an empty one); reads ahead (files only)."""
        if self.streaming:
            each = self._each_item()
            while part := list(islice(each, CHUNK_LINES)):
                yield part
            return
        lines = self._lines()
        head, keyer = self._head(lines)
        dec = self._decoder
        select = self.own.select
        if keyer is None:
            for items in dec.decode_chunks(_chain(head, lines)):
                if got := list(select(items, None)):
                    yield got
            return
        if got := list(select(dec.decode(iter(head)), keyer)):
            yield got
        lineno = len(head)
        batch: Batch | None = getattr(keyer.decoder, "decode_batch", None)
        while chunk := list(islice(lines, CHUNK_LINES)):
            got = self._share(chunk, lineno, keyer, batch)
            lineno += len(chunk)
            if got:
                yield got

    def _share(self, chunk: list[bytes], lineno: int, keyer: ServiceKeyer,
               batch: Batch | None) -> list[Item]:
        """This worker's items of ``chunk`` (lines ``lineno + 1``...).

        A chunk whose first line is this worker's (or in doubt) is decoded whole and kept
        when all it holds is events of this worker's services; one whose first line is
        another worker's is skipped when :func:`one_service` says all of it is. Any other
        chunk goes line by line, and so do the chunks after it until one is whole again
        (a file mixing services would otherwise be decoded twice).
        """
        own = self.own
        if not self._mixed:
            first = keyer.named(chunk[0]) if chunk[0].__class__ is bytes else b""
            if first is None or (first and own.mine_named(first)):
                if Overlong not in set(map(type, chunk)):
                    got = self._decode_run(chunk, lineno + 1, keyer, batch)
                    if set(map(type, got)) <= _EVENTS and all(
                            map(own.mine, set(map(_SERVICE_OF, got)))):
                        return got
            elif first and one_service(chunk, keyer) == first:
                self.skipped += len(chunk)
                return []
        named = keyer.named
        mine = own.mine_named
        items: list[Item] = []
        names: set[bytes | None] = set()
        run: list[bytes] = []  # consecutive lines to decode, from line ``start``
        start = lineno + 1
        for raw in chunk:
            lineno += 1
            if raw.__class__ is Overlong:
                skip = True
                names.add(None)
            else:
                svc = named(raw)
                names.add(svc)
                skip = svc is not None and not mine(svc)
                if not skip:
                    if not run:
                        start = lineno
                    run.append(raw)
                    continue
            if run:
                items += self._decode_run(run, start, keyer, batch)
                run = []
            if raw.__class__ is Overlong:
                items.append(self._decoder._overlong(raw, lineno))
            else:
                self.skipped += 1
        if run:
            items += self._decode_run(run, start, keyer, batch)
        self._mixed = len(names) > 1 or None in names
        return list(own.select(items, keyer))

    def _decode_run(self, raws: list[bytes], first: int, keyer: ServiceKeyer,
                    batch: Batch | None) -> list[Item]:
        """Items of consecutive lines (none over-long), column-wise when the decoder can."""
        got: list[Item] | None = batch(raws, self.name, first) if batch is not None else None
        if got is None:
            got = list(self._decoder._each(keyer.decoder.decode, iter(raws), first - 1))
        return got

    def _rest(self, lines: Iterator[bytes], lineno: int, keyer: ServiceKeyer,
              dec: LineDecoder) -> Iterator[Item]:
        """The lines after the head: another worker's skipped, the others decoded."""
        decode = keyer.decoder.decode
        named = keyer.named
        mine = self.own.mine_named
        name = self.name
        for raw in lines:
            lineno += 1
            if raw.__class__ is Overlong:
                yield dec._overlong(raw, lineno)
                continue
            svc = named(raw)
            if svc is not None and not mine(svc):
                self.skipped += 1
                continue
            try:
                yield decode(raw, name, lineno)
            except DecodeError as exc:
                if raw.strip():
                    yield BadRecord(name, lineno, exc.reason, raw)


_SERVICE_OF = itemgetter(1)
_FIELD = b'"service'  # in a line of a JSON input that names no service: ask it


def one_service(chunk: list[bytes], keyer: ServiceKeyer) -> bytes | None:
    """The service :meth:`ServiceKeyer.named` gives every line of ``chunk``, when it gives
    them all the same one; None: ask line by line.

    Read from the chunk's bytes at once: no line is a possible deployment event, each
    holds exactly one ``"service"`` or ``"service.name"`` key (where every match of the
    byte pattern begins) and it begins the very bytes of the first line's service field
    (so the pattern reads the same name there, and finds no second one).

    >>> head = [b'{"timestamp": "2026-03-20T00:00:00Z", "service.name": "shop", '
    ...         b'"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200}']
    >>> k = ServiceKeyer("a.log", head, default="web")
    >>> one_service(head * 3, k), one_service(head + [b'{"service.name": "cart"}'], k)
    (b'shop', None)
    """
    if set(map(type, chunk)) != _BYTES:
        return None  # an over-long line
    joined = b"".join(chunk)
    if b"deployment" in joined:
        return None
    if not keyer.carries_service:
        if keyer.json and _FIELD in joined:
            return None
        return keyer.default
    if not keyer.fast:
        return None
    m = SERVICE_FIELD.search(chunk[0])
    if m is None:
        return None
    n = len(chunk)
    at, segment, per_line = _template(chunk[0], m)
    if segment and all(map(bytes.startswith, chunk, repeat(segment), repeat(at))):
        # Every line has the first one's "service occurrences at its offsets, and no other.
        return m.group(1) if joined.count(_FIELD) == n * per_line else None
    # Every match of the pattern begins with one of its two keys: as many keys as lines
    # and the first line's field in every line make it one a line, that field each time.
    field = m.group(0)
    if not all(map(bytes.__contains__, chunk, repeat(field))):
        return None
    if joined.count(b'"service.name"') + joined.count(b'"service"') != n:
        return None
    return m.group(1)


_BYTES = {bytes}
_KEY_SPAN = len(b'"service.name"')  # the bytes that tell a key of the pattern from another


def _template(line: bytes, m: re.Match[bytes]) -> tuple[int, bytes, int]:
    """The bytes of ``line`` that decide what the pattern finds in it, when they are few:
    (offset, bytes, occurrences of ``"service`` in them), or (0, b"", 0).

    They run from its first ``"service`` to past the field ``m`` and to the last
    ``"service`` 's key; ``m``'s field must be its only key of the pattern (where the
    pattern fails at another key may depend on any bytes after it). A line holding those
    bytes at that offset and no other ``"service`` is read by the pattern as ``line`` is.
    """
    starts = []
    p = line.find(_FIELD)
    while p >= 0:
        starts.append(p)
        p = line.find(_FIELD, p + 1)
    keys = sum(1 for p in starts if line[p + 8:p + 9] == b'"' or line[p + 8:p + 14] == b'.name"')
    if keys != 1:
        return 0, b"", 0
    end = max(m.end(), starts[-1] + _KEY_SPAN)
    if end > len(line.rstrip(b"\r\n")):
        return 0, b"", 0
    return starts[0], line[starts[0]:end], len(starts)


_EVENTS = {AccessEvent}


def _chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from head
    yield from rest


def service_volumes(path: str, *, fmt: str = "auto", service: str = "default",
                    sample: int = 5_000) -> Counter[str]:
    """Lines of each service in the input at ``path``, estimated from its first ``sample``
    lines (read by their bytes, as the workers read them) scaled to the file's size.

    A gzip input is scaled by its compressed size: comparable between gzip inputs, not
    with plain ones. An input of unknown format counts for nothing (worker 0 has it).
    """
    stream, name = open_input(path)
    head: list[bytes] = []
    try:  # lines capped as FileSource caps them; a read error is the workers' to report
        while len(head) < sample and (raw := stream.readline(MAX_LINE_BYTES + 1)):
            head.append(raw)
    except (OSError, EOFError, ValueError, zlib.error):
        pass
    finally:
        stream.close()
    lines = [r for r in head if r.strip()]
    try:
        keyer = ServiceKeyer(name, lines[:DETECT_LINES], default=service, fmt=fmt)
    except DecodeError:
        return Counter()
    counts: Counter[str] = Counter()
    for at in range(0, len(lines), CHUNK_LINES):  # a chunk of one service counted at once
        chunk = lines[at:at + CHUNK_LINES]
        one = one_service(chunk, keyer)
        if one is not None:
            counts[one.decode("utf-8", "replace")] += len(chunk)
            continue
        for raw in chunk:
            svc = keyer.named(raw) or keyer.key(raw)
            if svc is not None:
                counts[svc.decode("utf-8", "replace")] += 1
    read = sum(map(len, head))
    with open(path, "rb") as f:
        gz = f.read(2) == GZIP_MAGIC
    size = os.path.getsize(path)
    if read and size > read and not gz:
        scale = size / read
        return Counter({svc: round(n * scale) for svc, n in counts.items()})
    return counts
