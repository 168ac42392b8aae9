"""Sinks of a replay are independent (issue 8, item 9): a failing sink does not
starve the sinks after it, the summary always prints, what a sink missed is
reported per sink with exit 2, and an unreachable webhook fails fast, said once."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from detector.config import Settings
from detector.incidents.model import Incident
from detector.jobs.replay import run_replay
from detector.sinks.base import MemorySink
from detector.sinks.delivery import SinkDeliveryError
from detector.sinks.fanout import SinkFanOut
from detector.sinks.http_base import Retry
from detector.sinks.sqlite import SqliteSink
from detector.sinks.webhook import WebhookSink

from .incidents import incident


@pytest.fixture
def failing_url() -> Iterator[str]:
    """A loopback endpoint answering every POST with 500."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/500"
    server.shutdown()
    server.server_close()


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM incident_changes").fetchone()[0])


class Broken(MemorySink):
    """Fails at everything."""

    def write(self, incident: Incident) -> None:
        raise OSError("disk full")

    def flush(self) -> None:
        raise OSError("disk full")

    def close(self) -> None:
        raise OSError("disk full")


def test_failing_webhook_does_not_starve_the_store(failing_url: str, tmp_path: Path) -> None:
    retry = Retry(base_s=0.01, max_s=0.05, request_timeout_s=2.0, flush_timeout_s=20.0)
    hook = WebhookSink(failing_url, retry=retry, allow_private=True)
    fan = SinkFanOut([hook, SqliteSink(str(tmp_path / "after.db"))])
    for i in range(100):
        fan.write(incident(f"inc-{i:012d}"))
    fan.flush()
    fan.close()
    assert stored(tmp_path / "after.db") == 100
    assert [o.undelivered for o in fan.outcomes] == [100, 0]
    (line,) = fan.report()
    assert "100 of 100" in line and "HTTP 500" in line and "/500" not in line  # path is secret


def test_a_sink_failing_at_everything_leaves_the_others_whole() -> None:
    memory = MemorySink()
    fan = SinkFanOut([Broken(), memory], ["broken", "memory"])
    for i in range(5):
        fan.write(incident(f"inc-{i:012d}"))
    fan.flush()
    fan.close()
    assert len(memory.items) == 5
    assert fan.report() == ["sink broken: 5 of 5 incident changes not delivered (disk full)"]


def _scan_log(path: Path, clients: int = 12) -> Path:
    """Scanners a minute apart: one ``scanning`` incident (open, resolved...) each."""
    rows = [{"timestamp": f"2026-03-17T09:{c:02d}:{i:02d}Z", "service.name": "pay",
             "http.request.method": "GET", "url.path": f"/scan{c}/p{i}/.env",
             "http.response.status_code": 404, "http.server.request.duration": 0.01,
             "client.address": f"203.0.113.{c}"} for c in range(clients) for i in range(40)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_run_replay_delivers_to_every_sink_then_says_what_was_missed(tmp_path: Path) -> None:
    memory = MemorySink()
    with pytest.raises(SinkDeliveryError, match="sink Broken: .* not delivered"):
        run_replay([str(_scan_log(tmp_path / "scan.log"))], settings=Settings(), fmt="auto",
                   service="default", deployments=None, sinks=[Broken(), memory],
                   dead_letter=None, progress=False)
    assert memory.items  # the sink after the broken one got every change


def _replay(*args: str, allow: bool = True) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "DETECTOR_SINKS__ALLOW_PRIVATE": "1" if allow else "0"}
    return subprocess.run([sys.executable, "-m", "detector", "replay", *args], env=env,
                          capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_cli_failing_webhook_then_sqlite(failing_url: str, tmp_path: Path) -> None:
    log = _scan_log(tmp_path / "scan.log")
    res = _replay(str(log), "--sink", f"webhook:{failing_url}", "--sink",
                  f"sqlite:{tmp_path / 'after.db'}")
    assert res.returncode == 2, res.stderr
    n = stored(tmp_path / "after.db")
    assert n > 0
    assert "incidents: 12 (scanning 12)" in res.stderr  # the summary printed
    assert f"of {n} incident changes not delivered (HTTP 500)" in res.stderr
    assert "not delivered to 1 of 2 sinks" in res.stderr.splitlines()[-1]
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_cli_unreachable_webhook_fails_fast_and_says_so_once(tmp_path: Path) -> None:
    log = _scan_log(tmp_path / "scan.log")
    res = _replay(str(log), "--sink", f"webhook:{dead_url()}", "--sink",
                  f"jsonl:{tmp_path / 'out.jsonl'}")
    assert res.returncode == 2, res.stderr
    changes = len((tmp_path / "out.jsonl").read_text().splitlines())
    assert changes > 0
    refused = [line for line in res.stderr.splitlines() if "refused" in line.lower()]
    # One warning when it first fails, one report line at the end: not one per change.
    assert len(refused) == 2, res.stderr
    assert f"{changes} of {changes} incident changes not delivered" in refused[1]
