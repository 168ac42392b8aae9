"""Item 12: SIGTERM (and SIGINT) during ``detector replay`` flush every sink and print the
summary; exit 128 + signal with one line saying so (was: killed on the spot, exit 143 from
the shell, results lost from the buffered sinks).

The log opens an incident every event-time minute for two hours (a SQL injection campaign
against one more service each minute), then a long quiet tail. The signal is sent once the
jsonl sink has written its first block, so it always lands mid-way with incidents open.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

T0 = 1773738000
LINE = (
    '{"timestamp":%d,"service.name":"%s","http.request.method":"GET","url.path":"%s"%s,'
    '"http.response.status_code":200,"http.server.request.duration":0.01,'
    '"client.address":"%s","user_agent.original":"curl/8"}\n'
)
SQLI = ',"url.query":"q=1%27%20UNION%20SELECT%20password%20FROM%20users--"'


def attack_log(path: Path, tail_minutes: int = 6000) -> int:
    """A replay that raises incidents early and then runs for a long while; its line count."""
    out: list[str] = []
    for m in range(120 + tail_minutes):
        for s in range(40 if m >= 120 else 20):
            out.append(LINE % (T0 + m * 60 + s, "shop", f"/items/{s}", "", "10.0.0.1"))
        if m < 120:
            for k in range(5):
                out.append(LINE % (T0 + m * 60 + 45 + k, f"svc{m}", "/search", SQLI,
                                   f"203.0.{m}.9"))
    path.write_text("".join(out))
    return len(out)


def start(args: list[str], tmp_path: Path, stdin: int | None = None) -> subprocess.Popen[bytes]:
    # stdout into a file: a pipe nobody reads yet would block the replay (and our writes to
    # its stdin) before the signal is sent.
    with (tmp_path / "stdout.jsonl").open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "detector", *args], stdin=stdin,
                                stdout=out, stderr=subprocess.PIPE)


def wait_for_bytes(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "no incident written in time"
        time.sleep(0.02)


def changes(lines: list[bytes]) -> set[tuple[str, str, str]]:
    docs = [orjson.loads(x) for x in lines if x.strip()]
    return {(d["id"], d["status"], d["end"]) for d in docs}


def check_interrupted(proc: subprocess.Popen[bytes], sig: int, tmp_path: Path,
                      most: int) -> None:
    """Exit 128 + sig, one line saying so after the summary, every sink the same."""
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 128 + sig, text
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    name = signal.Signals(sig).name
    assert lines[-1].startswith(f"detector: interrupted by {name}"), text
    assert sum("interrupted" in x for x in lines) == 1
    # The summary is printed and covers the part of the input read.
    head = lines[0].split()
    assert head[0] == "replay:" and 0 < int(head[1].replace(",", "")) <= most, text
    opened = int(next(x for x in lines if x.startswith("incidents:")).split()[1])
    assert opened > 0
    # Every sink holds the same changes, every opened incident among them.
    from_stdout = changes((tmp_path / "stdout.jsonl").read_bytes().splitlines())
    from_jsonl = changes((tmp_path / "i.jsonl").read_bytes().splitlines())
    with sqlite3.connect(tmp_path / "i.db") as db:
        from_sqlite = {(r[0], r[1], r[2]) for r in
                       db.execute("SELECT id, status, end_at FROM incident_changes")}
    assert from_stdout == from_jsonl == from_sqlite
    assert sum(1 for c in from_jsonl if c[1] == "open") == opened


SINKS = ["--sink", "stdout", "--sink", "jsonl:{d}/i.jsonl", "--sink", "sqlite:{d}/i.db"]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_mid_replay_flushes_every_sink(tmp_path: Path, workers: int) -> None:
    log = tmp_path / "big.log"
    total = attack_log(log)
    sinks = [s.format(d=tmp_path) for s in SINKS]
    proc = start(["replay", str(log), *sinks, "--workers", str(workers)], tmp_path)
    try:
        wait_for_bytes(tmp_path / "i.jsonl", proc)
        os.kill(proc.pid, signal.SIGTERM)
        check_interrupted(proc, signal.SIGTERM, tmp_path, total - 1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigint_while_blocked_on_stdin(tmp_path: Path) -> None:
    """The signal arrives while the replay waits for more input on a pipe that stays open."""
    log = tmp_path / "head.log"
    total = attack_log(log, tail_minutes=10)
    sinks = [s.format(d=tmp_path) for s in SINKS]
    proc = start(["replay", "-", *sinks], tmp_path, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        proc.stdin.write(log.read_bytes())
        proc.stdin.flush()  # and left open: the replay blocks reading
        wait_for_bytes(tmp_path / "i.jsonl", proc)
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGINT)
        check_interrupted(proc, signal.SIGINT, tmp_path, total)
    finally:
        proc.stdin.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
