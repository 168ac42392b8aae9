"""``detector run --processes 2``: two consumer processes in one instance share the
partitions, each checkpointing its own, and together raise exactly the incidents of one
replay; a failing child stops the instance with its exit code."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from detector.kafka import EmbeddedBroker

from .conftest import FAST, SimData, canonical, open_keys, prepared_topics, read_jsonl, unique


def _run(bs: str, access: str, deps: str, group: str, out: Path, state: Path,
         *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **{f"DETECTOR_SERVICE__{k.upper()}": str(v) for k, v in FAST.items()}}
    args = [sys.executable, "-m", "detector", "run", "--bootstrap-servers", bs,
            "--topic", access, "--deployments-topic", deps, "--group-id", group,
            "--sink", f"jsonl:{out}", "--sink", f"sqlite:{out.with_suffix('.db')}",
            "--state-dir", str(state), "--metrics-port", "0",
            "--checkpoint-every", "1", "--drain-when-idle", "6",
            "--dead-letter-topic", f"{group}-dlq", *extra]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


@pytest.mark.slow
async def test_two_processes_share_the_partitions_and_lose_nothing(
    broker: EmbeddedBroker, sim: SimData, tmp_path: Path
) -> None:
    bs = broker.bootstrap_servers
    access, deps = await prepared_topics(bs, sim)
    out = tmp_path / "incidents.jsonl"
    proc = _run(bs, access, deps, unique("procs"), out, tmp_path / "state", "--processes", "2")
    try:
        _, err = await asyncio.to_thread(proc.communicate, timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = [orjson.loads(ln) for ln in err.splitlines() if ln.startswith(b"{")]
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    owners = {rec.get("process") for rec in log if rec["event"] == "assigned"}
    assert owners == {"0", "1"}  # both processes owned partitions
    exits = [rec for rec in log if rec["event"] == "process exited"]
    assert sorted(rec["process"] for rec in exits) == [0, 1]
    assert all(rec["code"] == 0 for rec in exits)
    # The first to drain waited for the other: nobody left the group (a rebalance)
    # while the other still worked.
    drained = [rec["ts"] for rec in log if rec["event"] == "drained"]
    assert len(drained) == 2
    assert max(drained) <= min(rec["ts"] for rec in exits)
    assert any(rec["event"] == "drained: waiting for the other processes" for rec in log)
    got = read_jsonl(out)  # two writers, one file: every line whole
    assert open_keys(got) == sim.expected
    assert set(canonical(got)) == set(sim.changes)
    with sqlite3.connect(out.with_suffix(".db")) as conn:  # one store, two writers
        bodies = [orjson.loads(b) for (b,) in conn.execute("SELECT body FROM incident_changes")]
    assert set(canonical(bodies)) == set(sim.changes)


def test_retraining_needs_one_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "detector", "run", "--processes", "2", "--models",
         str(tmp_path), "--retrain-every", "6h", "--connect-timeout", "1"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "retrain_every runs in one process" in done.stderr
    assert "Traceback" not in done.stderr
