"""``detector simulate --start`` and ``--shapes``: the command line reaches the simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson


def simulate_cli(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detector", "simulate", str(out),
                           "--hours", "2", "--rate", "0.02", *args],
                          capture_output=True, text=True, timeout=120)


def test_start_sets_the_first_event_time(tmp_path: Path) -> None:
    res = simulate_cli(tmp_path / "sim", "--start", "2026-03-21T10:00", "--shapes")
    assert res.returncode == 0, res.stderr
    m = orjson.loads((tmp_path / "sim" / "manifest.json").read_bytes())
    assert m["start"] == "2026-03-21T10:00:00Z" and m["end"] == "2026-03-21T12:00:00Z"
    assert m["real_world"] is True and "partners" in m["formats"]
    assert any(b["kind"] == "weekend_trough" for b in m["benign"])  # a Saturday


def test_bad_start_is_a_usage_error(tmp_path: Path) -> None:
    res = simulate_cli(tmp_path / "sim", "--start", "next friday")
    assert res.returncode == 2
    assert "--start 'next friday' is not an ISO-8601 time" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "sim").exists()
