"""``detector publish``: log files into a Kafka topic, keyed by service, as a shipper would.

One file is streamed in its own order; several are merged by event time (as
``detector replay`` merges them), which needs every line decoded and is
slower; ``--follow`` tails the files instead (``tail -F``), publishing what
they hold and then what is appended. Lines are keyed by their service
(:mod:`detector.jobs.publish_keys`) and batched per partition
(:class:`~detector.kafka.producer.KeyedBatcher`). A line that does not decode is
still published (the service dead-letters it with its reason: nothing is
dropped silently) and counted as bad; a line too long for a Kafka record is
counted and not sent. SIGINT/SIGTERM: what was read is flushed, the summary
printed.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from detector.errors import UsageError
from detector.jobs.interrupt import StopRequest
from detector.jobs.publish_keys import SAMPLE_LINES, ServiceKeyer
from detector.jobs.publish_tail import READ_CHUNK, FileFollower, LineSplitter
from detector.kafka.config import KafkaConnection
from detector.kafka.producer import KeyedBatcher, line_producer
from detector.sources.files import open_input

BATCH_BYTES = 512 * 1024
# A record with its batch overhead must fit one batch (and a default broker's 1 MB).
MAX_LINE = BATCH_BYTES - 4096
RATE_SLACK = 0.05  # seconds of lines a rate limit lets through ahead of time


@dataclass
class PublishSummary:
    """What a publish did: lines and bytes sent, bad lines, time taken."""

    topic: str
    lines: int = 0
    bytes: int = 0
    bad: int = 0
    skipped: int = 0  # too long for a record: not sent (part of ``bad``)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """One line for stderr.

        >>> PublishSummary("access", 2000, 512000, 1, 0, 0.5).line()
        "publish: 2,000 lines (512.0 kB) to 'access' in 0.5 s, 4,000 lines/s, 1 bad line"
        """
        bad = f"{self.bad:,} bad line" + ("" if self.bad == 1 else "s")
        if self.skipped:
            bad += f" ({self.skipped:,} too long for a record, not sent)"
        return (f"publish: {self.lines:,} lines ({self.bytes / 1000:,.1f} kB) to "
                f"'{self.topic}' in {self.seconds:.1f} s, {self.rate:,.0f} lines/s, {bad}")


class _Lines:
    """Non-empty lines of a plain or gzip file, read in large chunks; ``overlong`` counts
    the lines too long for a record (skipped whatever their length)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.splitter = LineSplitter(MAX_LINE)

    def __iter__(self) -> Iterator[bytes]:
        stream, _ = open_input(self.path)
        with stream:
            while data := stream.read(READ_CHUNK):
                yield from self.splitter.feed(data)
        yield from self.splitter.finish()


def _keyer(name: str, head: Sequence[bytes], service: str, fmt: str) -> ServiceKeyer:
    from detector.decoding import DecodeError

    try:
        return ServiceKeyer(name, [ln for ln in head if ln], default=service, fmt=fmt)
    except DecodeError as exc:
        raise UsageError(f"{name}: {exc.reason} (force one with --format)") from None


class _Opened:
    """One input with its first lines read and its keyer chosen: a file of unknown
    format is refused before anything is sent (exit 2), not half-way."""

    def __init__(self, path: str, service: str, fmt: str) -> None:
        self.source = _Lines(path)
        self._lines = iter(self.source)
        self.head = list(islice(self._lines, SAMPLE_LINES))
        self.keyer = _keyer(Path(path).name, self.head, service, fmt) if self.head else None

    def lines(self) -> Iterator[bytes]:
        yield from self.head
        yield from self._lines

    def keyed(self) -> Iterator[tuple[bytes | None, bytes]]:
        if self.keyer is None:
            return
        key = self.keyer.key
        for line in self.lines():
            yield key(line), line

    def timed(self) -> Iterator[tuple[float, int, bytes | None, bytes]]:
        if self.keyer is None:
            return
        timed = self.keyer.timed
        for no, line in enumerate(self.lines()):
            ts, key = timed(line)
            yield ts, no, key, line


def _keyed_merged(inputs: Sequence[_Opened]) -> Iterator[tuple[bytes | None, bytes]]:
    for _, _, key, line in heapq.merge(*(i.timed() for i in inputs), key=lambda r: r[0]):
        yield key, line


class Publisher:
    """Sends keyed lines through a :class:`KeyedBatcher`, paced by ``rate`` (lines/s)."""

    def __init__(self, batcher: KeyedBatcher, summary: PublishSummary, default: bytes,
                 rate: float | None, stop: StopRequest) -> None:
        self.batcher = batcher
        self.summary = summary
        self.default = default
        self.rate = rate
        self.stop = stop
        self.began = time.monotonic()

    async def send_all(self, source: Iterable[tuple[bytes | None, bytes]]) -> None:
        """Send every (key, line) until the source ends or a stop is asked (the hot loop:
        no await unless a batch is full or the rate says wait)."""
        s, stop, default, rate = self.summary, self.stop, self.default, self.rate
        try_add, add = self.batcher.try_add, self.batcher.add
        lines = nbytes = bad = 0
        try:
            for key, line in source:
                if key is None:
                    bad += 1
                    key = default
                if not try_add(key, line):
                    await add(key, line)
                lines += 1
                nbytes += len(line)
                if rate is not None and lines % 16 == 0:
                    await self._pace(s.lines + lines)
                if stop.signum is not None:
                    break
        finally:
            s.lines += lines
            s.bytes += nbytes + lines  # the newlines the file had
            s.bad += bad

    async def _pace(self, sent: int) -> None:
        assert self.rate is not None
        due = sent / self.rate - (time.monotonic() - self.began)
        if due > RATE_SLACK:
            await self.batcher.flush()  # what is paced out goes out now, not a batch later
            await asyncio.sleep(due)


async def _follow(paths: Sequence[str], pub: Publisher, service: str, fmt: str,
                  stop: StopRequest, poll: float) -> None:
    followers = [FileFollower(Path(p), max_line=MAX_LINE) for p in paths]
    keyers: list[ServiceKeyer | None] = [None] * len(paths)
    try:
        while not stop:
            got = 0
            for i, f in enumerate(followers):
                lines = f.poll()
                if not lines:
                    continue
                keyer = keyers[i]
                if keyer is None:
                    keyer = keyers[i] = _keyer(f.path.name, lines, service, fmt)
                got += len(lines)
                key = keyer.key
                await pub.send_all((key(line), line) for line in lines)
                if stop:
                    break
            if not got:
                await pub.batcher.flush()  # quiet input: nothing waits in a half-full batch
                await asyncio.sleep(poll)
    finally:
        for f in followers:
            pub.summary.bad += f.splitter.overlong
            pub.summary.skipped += f.splitter.overlong
            f.close()


def _check_followable(paths: Sequence[str]) -> None:
    from detector.sources.files import GZIP_MAGIC

    for p in paths:
        if p == "-":
            raise UsageError("--follow tails files, not stdin")
        try:
            with open(p, "rb") as f:
                if f.read(2) == GZIP_MAGIC:
                    raise UsageError(f"--follow tails plain files; {p} is gzip (publish it "
                                     "without --follow)")
        except FileNotFoundError:
            pass  # tail -F waits for it to appear


async def publish(paths: Sequence[str], topic: str, connection: KafkaConnection, *,
                  rate: float | None = None, follow: bool = False, fmt: str = "auto",
                  service: str = "default", stop: StopRequest | None = None,
                  poll: float = 0.2) -> PublishSummary:
    """Publish ``paths`` into ``topic``; returns the summary (also when stopped)."""
    stop = stop if stop is not None else StopRequest()
    if follow:
        _check_followable(paths)
    opened = [] if follow else [_Opened(p, service, fmt) for p in paths]  # formats first
    summary = PublishSummary(topic)
    producer = line_producer(connection, max_batch_bytes=BATCH_BYTES)
    began = time.monotonic()
    try:  # stopped even when start fails (an unreachable or refusing cluster)
        await producer.start()
        partitions = await producer.partitions_for(topic)
        if not partitions:
            raise UsageError(f"topic {topic!r} has no partitions")
        pub = Publisher(KeyedBatcher(producer, topic, len(partitions)), summary,
                        service.encode(), rate, stop)
        if follow:
            await _follow(paths, pub, service, fmt, stop, poll)
        else:
            try:
                await pub.send_all(opened[0].keyed() if len(opened) == 1
                                   else _keyed_merged(opened))
            finally:
                for i in opened:
                    summary.bad += i.source.splitter.overlong
                    summary.skipped += i.source.splitter.overlong
        await pub.batcher.flush()
    finally:
        summary.seconds = time.monotonic() - began
        await producer.stop()
    return summary
