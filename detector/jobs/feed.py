"""Streaming log files into Kafka the way a shipper would: keyed by service, in time order.

Used by ``detector demo``, the service tests and the benchmark. Files are
merged by event time (as ``detector replay`` merges them), so each partition
receives its services' events in the order a replay sees them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from pathlib import Path

from detector.decoding import DecodeError, Decoder
from detector.decoding.stage import choose_decoder
from detector.events import BadRecord
from detector.kafka import KafkaConnection, produce_lines
from detector.sources.files import open_input

Keyed = tuple[bytes | None, bytes]


def _file_records(path: Path) -> Iterator[tuple[float, int, bytes | None, bytes]]:
    stream, _ = open_input(str(path))
    with stream:
        lines = [ln.rstrip(b"\r\n") for ln in stream]
    lines = [ln for ln in lines if ln.strip()]
    try:
        decoder: Decoder | None = choose_decoder("auto", lines, path.name.split(".")[0])
    except DecodeError:
        decoder = None
    for no, raw in enumerate(lines):
        ts, key = float("-inf"), None
        if decoder is not None:
            try:
                ev = decoder.decode(raw, path.name, no)
            except DecodeError:
                pass
            else:
                if not isinstance(ev, BadRecord):
                    ts, key = ev.ts, ev.service.encode()
        yield ts, no, key, raw


def merged_keyed(files: Sequence[Path]) -> list[Keyed]:
    """(key, line) of every non-empty line of ``files``, merged by event time."""
    merged = heapq.merge(*(_file_records(Path(f)) for f in files), key=lambda r: r[0])
    return [(key, raw) for _, _, key, raw in merged]


def sim_access_files(sim_dir: Path) -> list[Path]:
    """The access logs ``detector simulate`` wrote (top level: one per service)."""
    return sorted(p for p in Path(sim_dir).glob("access-*.log"))


async def produce_keyed(bootstrap: str | KafkaConnection, topic: str,
                        records: Sequence[Keyed]) -> int:
    """Produce (key, value) records in order; returns how many."""
    current: list[bytes | None] = [None]

    def lines() -> Iterator[bytes]:
        for key, raw in records:
            current[0] = key
            yield raw

    # produce_lines asks key_fn right after taking a line from the iterator.
    return await produce_lines(bootstrap, topic, lines(), key_fn=lambda _line: current[0])
