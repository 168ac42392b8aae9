"""Each service's incidents depend on that service's traffic alone.

This is what lets the consumer service run one pipeline per partition and
still give exactly the incidents of a replay over everything (live = replay).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import Settings
from detector.jobs.replay import build_analyzer, run_replay
from detector.simulate import simulate
from detector.sinks import MemorySink


def _opened(files: list[Path], deployments: Path) -> set[tuple[str, str, str]]:
    sink = MemorySink()
    run_replay([str(f) for f in files], settings=Settings(), fmt="auto", service="default",
               deployments=deployments, sinks=[sink], dead_letter=None, progress=False,
               analyzer=build_analyzer(None))
    return {(i.id, i.kind, i.service) for i in sink.items if i.status == "open"}


@pytest.mark.slow
def test_replay_per_service_equals_replay_of_everything(tmp_path: Path) -> None:
    simulate(tmp_path, hours=2, seed=11, rate=0.3)
    files = sorted(tmp_path.glob("access-*.log"))
    deps = tmp_path / "deployments.jsonl"
    together = _opened(files, deps)
    apart: set[tuple[str, str, str]] = set()
    for f in files:
        apart |= _opened([f], deps)
    assert together and together == apart
