"""The demo's closing lines: each injected anomaly next to the incident that found it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from detector.config import Settings
from detector.evaluate.matching import CollapsedIncident, Label
from detector.jobs.demo import _against_labels
from detector.jobs.demo_report import injected_vs_found
from detector.jobs.feed import sim_access_files
from detector.jobs.replay import build_analyzer, run_replay
from detector.simulate import simulate
from detector.sinks import MemorySink


def t(minute: int) -> datetime:
    return datetime(2026, 3, 20, 1, minute, tzinfo=UTC)


def test_missed_anomalies_and_uninjected_incidents_are_said() -> None:
    labels = [Label(id="a", service="pay", kind="error_surge", route="/r", start=t(10),
                    end=t(20), deployment="2.0"),
              Label(id="b", service="web", kind="scanning", client="9.9.9.9", start=t(30),
                    end=t(40))]
    incs = [CollapsedIncident(id="inc-a", kind="error_surge", service="pay", route="/r",
                              start=t(11), end=t(18), detected_at=t(13), version="2.0",
                              suspect=True),
            CollapsedIncident(id="inc-x", kind="traffic_spike", service="web", route="/x",
                              start=t(50), end=t(55))]
    lines = injected_vs_found(labels, incs)
    assert lines[0].endswith("(1 of 2 found):")
    assert "found inc-a, detected 01:13 (+3 min), blamed on 2.0" in lines[1]
    assert lines[2].rstrip().endswith("MISSED") and "client 9.9.9.9" in lines[2]
    assert lines[3] == "  not injected: 1 other incident(s) (traffic_spike 1)"
    # The columns line up: the verdicts start at one offset.
    assert lines[1].index("found") == lines[2].index("MISSED")


@pytest.mark.slow
def test_on_a_simulation_every_label_gets_a_line(tmp_path: Path) -> None:
    simulate(tmp_path, hours=2, seed=61002, rate=0.25)
    sink = MemorySink()
    run_replay([str(f) for f in sim_access_files(tmp_path)], settings=Settings(), fmt="auto",
               service="default", deployments=tmp_path / "deployments.jsonl", sinks=[sink],
               dead_letter=None, progress=False, analyzer=build_analyzer(None))
    lines = _against_labels(tmp_path, sink.items)
    labels = [orjson.loads(x) for x in (tmp_path / "labels.jsonl").read_bytes().splitlines()]
    rows = [ln for ln in lines[1:] if not ln.startswith("  not injected")]
    assert len(rows) == len(labels) > 3
    found = sum("found inc-" in r for r in rows)
    assert f"({found} of {len(labels)} found)" in lines[0] and found >= len(labels) // 2
    for lab in labels:
        assert any(lab["kind"] in r and lab["service"] in r for r in rows), lab
