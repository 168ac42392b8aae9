"""One ``replay --workers`` worker's share of an input: its services' lines, found in the bytes.

Decoding is most of what a worker would spend on lines that are not its own, so
the service of a line is read from its raw bytes
(:meth:`~detector.jobs.publish_keys.ServiceKeyer.named`, the finder ``publish``
keys Kafka records with, trusted only on an input where it agrees with the
decoder on the first lines) and another worker's line is skipped undecoded. A
file of one service thus costs its other workers a read and a byte search per
line. Lines the bytes leave in doubt (no or two service fields, possible
deployment events, an input of unknown format, the first lines that choose the
format) are decoded by every worker, which keeps its own services' events and
every deployment event.

Every worker answers "who reports this bad line" alike, from the line's bytes: a
line whose service the bytes name is its owner's (the only worker that decodes
it), any other is worker 0's. Each bad line is so counted and dead-lettered once.
"""

from __future__ import annotations

import os
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator

from detector.decoding import MAX_LINE_BYTES, DecodeError
from detector.decoding.registry import DETECT_LINES
from detector.decoding.stage import LineDecoder, Overlong
from detector.events import AccessEvent, BadRecord, Item
from detector.jobs.publish_keys import ServiceKeyer
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
    the whole input's decoding gives it (same positions, same format detection)."""

    def __init__(self, path: str, own: Ownership, *, fmt: str = "auto",
                 service: str = "default") -> None:
        super().__init__(path, fmt=fmt, service=service)
        self.own = own
        self.skipped = 0  # lines left undecoded: another worker's

    def __iter__(self) -> Iterator[Item]:
        lines = self._lines()
        head: list[bytes] = []  # the lines the format is chosen from, as LineDecoder reads them
        seen = 0
        for raw in lines:
            head.append(raw)
            if raw.__class__ is Overlong or raw.strip():
                seen += 1
                if seen >= DETECT_LINES:
                    break
        sample = [r for r in head if r.__class__ is bytes and r.strip()]
        keyer: ServiceKeyer | None = None
        try:
            if sample:
                keyer = ServiceKeyer(self.name, sample, default=self.service, fmt=self.fmt)
        except DecodeError:  # unknown format: every line is a bad record, worker 0's
            keyer = None
        dec = self._decoder
        if keyer is None:
            yield from self.own.select(dec.decode(_chain(head, lines)), keyer)
            return
        yield from self.own.select(dec.decode(iter(head)), keyer)
        yield from self.own.select(self._rest(lines, len(head), keyer, dec), keyer)

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


def _chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from head
    yield from rest


def service_volumes(path: str, *, fmt: str = "auto", service: str = "default",
                    sample: int = 20_000) -> Counter[str]:
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
    for raw in lines:
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
