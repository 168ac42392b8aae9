"""Replay's chunk path and stop requests: a stop is taken between lists of items, and
every item handed out before it is processed (none is left in a half-filled batch)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.config import Settings
from detector.events import Item
from detector.jobs import replay
from detector.jobs.interrupt import StopRequest
from detector.pipeline import Pipeline
from detector.pipeline.batch_ingest import process_batched
from detector.simulate import simulate
from detector.sources.files import FileSource


def test_a_stop_between_chunks_processes_every_item_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate(tmp_path, profile="bench", lines=6_000, hours=0.5, seed=21)
    files = sorted(tmp_path.glob("access-*.log"))
    stop = StopRequest()
    taken: list[Item] = []
    real = replay.merged_chunks

    def watched(sources: list[FileSource]) -> Iterator[list[Item]]:
        for n, chunk in enumerate(real(sources)):
            taken.extend(chunk)
            if n == 2:
                stop.signum = signal.SIGTERM  # asked while the third list is being handed out
            yield chunk

    monkeypatch.setattr(replay, "merged_chunks", watched)
    p = Pipeline(Settings(), [], wall_clock=None)
    replay.feed_pipeline(p, [FileSource(str(f)) for f in files], None, stop=stop)
    total = sum(1 for f in files for line in f.read_bytes().splitlines() if line.strip())
    assert 0 < len(taken) < total  # stopped early, after the third list
    want = Pipeline(Settings(), [], wall_clock=None)
    process_batched(want, taken)
    got_s, want_s = p.summary, want.summary
    assert (got_s.events, got_s.late, got_s.bad) == (want_s.events, want_s.late, want_s.bad)
    assert got_s.events > 0
    assert sorted(p.windows.open) == sorted(want.windows.open)
