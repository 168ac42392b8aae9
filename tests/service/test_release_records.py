"""Replay = live for release records: the service's record of a deployment is the record
``detector verdict`` writes from the same logs, byte for byte (same sha256)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from detector.cli.app import app
from detector.kafka import EmbeddedBroker
from detector.verdict.record import iter_records, read_record

from .conftest import SimData, prepared_topics, run_until_drained, runtime, service_settings, unique


@pytest.mark.slow
async def test_service_records_equal_verdict_command(broker: EmbeddedBroker, sim: SimData,
                                                     tmp_path: Path) -> None:
    bs = broker.bootstrap_servers
    access, deps = await prepared_topics(bs, sim)
    live_dir = tmp_path / "live"
    rt = runtime(service_settings(bs, access, deps, unique("g"), records_dir=live_dir),
                 tmp_path / "incidents.jsonl", tmp_path / "log.jsonl")
    await run_until_drained(rt)
    live = {p.relative_to(live_dir): p.read_bytes() for p in iter_records(live_dir)}
    assert len(live) >= 2, f"the scenario's deployments were judged by the service: {sorted(live)}"
    runner = CliRunner()
    for rel, data in sorted(live.items()):
        rec = read_record(live_dir / rel)
        replay_dir = tmp_path / "replay"
        for _ in range(2):  # two replays, one record
            result = runner.invoke(app, [
                "verdict", "--service", rec["service"], "--version", rec["version"],
                *[a for f in sim.files for a in ("--logs", str(f))],
                "--deployments", str(sim.dir / "deployments.jsonl"),
                "--record", str(replay_dir)])
            assert result.exit_code in (0, 1, 3, 4), result.output
            assert (replay_dir / rel).read_bytes() == data, f"{rel}: replay differs from live"
