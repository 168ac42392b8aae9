"""Hostile webhook targets and a failing sink, against ``detector replay``.

A loopback server in the probe's process plays the hostile target: redirects
(the POST must not become a GET elsewhere, nor count as delivered), an endless
200 body (must be read up to a cap), a server trickling one byte at a time (the
request deadline must end it), a 500 before a sqlite sink (which must still get
every change). Private and metadata targets must be refused up front.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from probes import Probe, check, run_detector

ALLOW = {"DETECTOR_SINKS__ALLOW_PRIVATE": "1"}  # the hostile server is on loopback


def _scan_log(work: Path, clients: int = 6) -> Path:
    rows = [{"timestamp": f"2026-03-17T09:{c:02d}:{i:02d}Z", "service.name": "pay",
             "http.request.method": "GET", "url.path": f"/scan{c}/p{i}/.env",
             "http.response.status_code": 404, "http.server.request.duration": 0.01,
             "client.address": f"203.0.113.{c}"} for c in range(clients) for i in range(40)]
    path = work / "scan.log"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@contextmanager
def _hostile() -> Iterator[tuple[str, list[str]]]:
    """(base URL, methods and paths seen) of a loopback server with hostile paths."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            seen.append(f"{self.command} {self.path}")
            try:
                self._hostile_answer()
            except OSError:
                return

        do_GET = do_POST = _answer  # noqa: N815

        def _hostile_answer(self) -> None:
            if self.path.startswith("/redirect"):
                self.send_response(int(self.path.removeprefix("/redirect")))
                self.send_header("Location", f"http://localhost:{port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/endless":
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"x" * 65536
                for _ in range(200_000):  # 13 GB if read to the end
                    self.wfile.write(chunk)
            elif self.path == "/trickle":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(3000):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.send_response(500 if self.path == "/500" else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.shutdown()
        server.server_close()


def _redirect(code: int) -> Callable[[Path], str]:
    def run(work: Path) -> str:
        log = _scan_log(work)
        with _hostile() as (url, seen):
            res = run_detector(["replay", str(log), "--sink", f"webhook:{url}/redirect{code}"],
                               env=ALLOW, timeout=180)
        err = res.stderr.decode(errors="replace")
        check(res.returncode == 2, f"exit {res.returncode}, expected 2: {err[-300:]}")
        check("redirect not followed" in err, f"no redirect reason: {err[-300:]}")
        check(all(s == f"POST /redirect{code}" for s in seen), f"followed: {sorted(set(seen))}")
        return f"not followed: exit 2, {len(seen)} POSTs, none elsewhere"
    return run


def _endless(work: Path) -> str:
    log = _scan_log(work, clients=1)
    with _hostile() as (url, _):
        res = run_detector(["replay", str(log), "--sink", f"webhook:{url}/endless"], env=ALLOW,
                           timeout=180)
    check(res.returncode == 0, f"exit {res.returncode}: {res.stderr.decode()[-300:]}")
    return "answer read up to 64 KiB: exit 0, delivered"


def _trickle(work: Path) -> str:
    log = _scan_log(work, clients=1)
    started = time.monotonic()
    with _hostile() as (url, _):
        res = run_detector(["replay", str(log), "--sink", f"webhook:{url}/trickle"], env=ALLOW,
                           timeout=240)
    err = res.stderr.decode(errors="replace")
    check(res.returncode == 2, f"exit {res.returncode}, expected 2: {err[-300:]}")
    check("no answer in time" in err, f"no deadline reason: {err[-300:]}")
    return f"request deadline: exit 2 after {time.monotonic() - started:.0f} s, not delivered"


def _private(work: Path) -> str:
    log = _scan_log(work, clients=1)
    for target in ("http://169.254.169.254/latest/meta-data/",
                   "http://metadata.google.internal/computeMetadata/v1/"):
        res = run_detector(["replay", str(log), "--sink", f"webhook:{target}"],
                           env={"DETECTOR_SINKS__ALLOW_PRIVATE": "0"})
        err = res.stderr.decode(errors="replace").strip()
        check(res.returncode == 2 and "refusing" in err and "\n" not in err,
              f"{target}: exit {res.returncode}: {err[-300:]}")
    return "refused: exit 2, one line (metadata address and name; more in the tests)"


def _independent(work: Path) -> str:
    log = _scan_log(work)
    db = work / "after.db"
    with _hostile() as (url, _):
        res = run_detector(["replay", str(log), "--sink", f"webhook:{url}/500",
                            "--sink", f"sqlite:{db}"], env=ALLOW, timeout=180)
    err = res.stderr.decode(errors="replace")
    check(res.returncode == 2, f"exit {res.returncode}, expected 2: {err[-300:]}")
    with sqlite3.connect(db) as conn:
        n = conn.execute("SELECT count(*) FROM incident_changes").fetchone()[0]
    check(n > 0 and f"{n} of {n} incident changes not delivered" in err,
          f"sqlite got {n}; {err[-300:]}")
    check("incidents: 6" in err, "no summary")
    return f"sqlite got all {n} changes; webhook {n} undelivered reported, exit 2"


PROBES = [
    Probe("webhook-redirect-301", _redirect(301)),
    Probe("webhook-redirect-307", _redirect(307)),
    Probe("webhook-endless-200-body", _endless),
    Probe("webhook-trickling-server", _trickle),
    Probe("webhook-private-metadata-target", _private),
    Probe("replay-failing-sink-then-sqlite", _independent),
]
