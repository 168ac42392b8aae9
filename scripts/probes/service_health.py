"""Probes of ``detector run``'s health surface: the metrics endpoint against hostile
clients, and JSON-only logs while the broker cannot be reached (item 13)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from probes import Probe, ProbeFailed, check, detector_cmd, free_port, run_detector


def _json_log(stderr: str, *, final_error: bool) -> list[dict[str, object]]:
    lines = stderr.splitlines()
    if final_error:
        check(bool(lines) and lines[-1].startswith("detector: error: "),
              f"no one-line error at the end: {lines[-1:]!r}")
        lines = lines[:-1]
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            raise ProbeFailed(f"a log line is not JSON: {line[:120]!r}") from None
    return out


def _http(port: int, raw: bytes, timeout: float = 15.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with contextlib.suppress(OSError):  # the server may answer and close first
            s.sendall(raw)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except OSError:
            pass
        return data


def _status(resp: bytes) -> int:
    parts = resp.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _serve(work: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    err = work / "stderr.log"
    args = [*detector_cmd(), "run", "--bootstrap-servers", f"127.0.0.1:{free_port()}",
            "--metrics-port", str(port), "--connect-timeout", "60", "--sink", "stdout"]
    with open(err, "wb") as f:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=f,
                                env={**os.environ, "DETECTOR_SERVICE__REQUEST_TIMEOUT_MS": "2000"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:  # a whole request: its connection is over when the answer is read
            if _status(_http(port, b"GET /healthz HTTP/1.1\r\n\r\n", timeout=2)) == 200:
                return proc, port, err
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise ProbeFailed("the metrics endpoint did not come up within 30 s")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise ProbeFailed("detector run did not stop within 30 s of SIGTERM") from None


def huge_request_line(work: Path) -> str:
    proc, port, err = _serve(work)
    try:
        code = _status(_http(port, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"))
        check(code == 414, f"70 KiB request line: HTTP {code}, expected 414")
        huge_headers = b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n"
        code2 = _status(_http(port, huge_headers))
        check(code2 == 431, f"5000 headers: HTTP {code2}, expected 431")
        ok = _status(_http(port, b"GET /metrics HTTP/1.1\r\n\r\n"))
        check(ok == 200, f"/metrics afterwards: HTTP {ok}")
    finally:
        rc = _stop(proc)
    text = err.read_text()
    check("Traceback" not in text, "a traceback in the log")
    _json_log(text, final_error=rc != 0)
    return "refused: 414 and 431, /metrics still 200, log JSON lines only"


def slow_clients(work: Path) -> str:
    proc, port, err = _serve(work)
    socks: list[socket.socket] = []
    try:
        time.sleep(0.5)  # the readiness request's connection is fully gone
        # 40 clients that send half a request line and then nothing (slowloris).
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /metr")
            socks.append(s)
        time.sleep(1.0)
        t0 = time.monotonic()
        answers = []
        for s in socks:  # each is answered (503 beyond the cap, else 408 at the deadline)
            s.settimeout(30)
            data = b""
            with contextlib.suppress(OSError):
                while chunk := s.recv(4096):
                    data += chunk
            answers.append(_status(data))
        held = time.monotonic() - t0
        check(set(answers) <= {0, 408, 503}, f"slow clients got {sorted(set(answers))}")
        busy = answers.count(503)
        check(busy == 40 - 32, f"{busy} of 40 slow clients refused at the cap of 32, expected 8")
        check(held < 25, f"slow clients held for {held:.0f} s")
        ok = _status(_http(port, b"GET /healthz HTTP/1.1\r\n\r\n"))
        check(ok == 200, f"/healthz after the slow clients: HTTP {ok}")
    finally:
        for s in socks:
            s.close()
        rc = _stop(proc)
    _json_log(err.read_text(), final_error=rc != 0)
    return f"cut off: 8 over the cap refused (503), the rest closed within {held:.0f} s"


def unreachable_broker(work: Path) -> str:
    proc = run_detector(["run", "--bootstrap-servers", f"127.0.0.1:{free_port()}",
                         "--metrics-port", "0", "--connect-timeout", "3"], timeout=60,
                        env={"DETECTOR_SERVICE__REQUEST_TIMEOUT_MS": "2000"})
    check(proc.returncode == 2, f"exit {proc.returncode}, expected 2")
    recs = _json_log(proc.stderr.decode(), final_error=True)
    attempts = [r.get("attempt") for r in recs if r.get("event") == "broker unreachable"]
    check(bool(attempts) and attempts == list(range(1, len(attempts) + 1)),
          f"attempt counts {attempts}")
    return f"refused: exit 2 after {len(attempts)} attempts, one JSON line each"


PROBES: list[Probe] = [
    Probe("70 KiB request line and 5000 headers", huge_request_line),
    Probe("40 slow clients (slowloris)", slow_clients),
    Probe("unreachable broker, --connect-timeout", unreachable_broker),
]
