"""Terminal injection: log content carrying escape sequences (an OSC title, a screen
clear), CR/LF, C1 controls and bidi overrides, against everything ``detector`` prints
for a human: the stdout sink on a terminal, ``incidents list|show``, the replay and
scan summaries, error and usage-error lines. Nothing may reach the terminal raw; the
JSON forms must keep the content exactly.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

from probes import Probe, check, detector_cmd, run_detector

OSC = "\x1b]0;PWNED\x07"
CSI = "\x1b[2J\x1b[H"
HOSTILE = f"pay{OSC}{CSI}\r\nFAKE LINE\x9b31m\u202egnp.exe"
# Raw controls a terminal would act on (rich's own colours are taken out first).
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
SGR = re.compile("\x1b\\[[0-9;]*m")


def _on_ptys(args: Sequence[str], timeout: float = 120.0) -> tuple[int, str, str]:
    """The CLI with stdout and stderr on two pseudo-terminals: (code, stdout, stderr)."""
    fds = [pty.openpty() for _ in range(2)]
    for _, slave in fds:
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST  # bytes as written, no "\n" -> "\r\n"
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen([*detector_cmd(), *args], stdin=subprocess.DEVNULL,
                            stdout=fds[0][1], stderr=fds[1][1],
                            env=dict(os.environ, COLUMNS="100", TERM="xterm"))
    for _, slave in fds:
        os.close(slave)
    got = {m: bytearray() for m, _ in fds}
    live = set(got)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        for fd in select.select(list(live), [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if chunk:
                got[fd] += chunk
            else:
                live.discard(fd)
    if proc.poll() is None:
        proc.kill()
    code = proc.wait()
    for m, _ in fds:
        os.close(m)
    return code, got[fds[0][0]].decode(errors="replace"), got[fds[1][0]].decode(errors="replace")


def _no_raw(text: str, where: str) -> None:
    for line in text.split("\n"):
        visible = SGR.sub("", line.replace("\r\x1b[2K", ""))  # progress line erasing
        m = RAW.search(visible)
        check(m is None, f"{where}: raw {m.group()!r} reached the terminal: {visible[:120]!r}"
              if m else "")


def _logs(work: Path) -> list[str]:
    rows = [{"timestamp": f"2026-03-17T09:{c:02d}:{i:02d}Z", "service.name": HOSTILE,
             "http.request.method": "GET", "url.path": f"/scan{c}/p{i}/.env{OSC}",
             "http.response.status_code": 404, "http.server.request.duration": 0.01,
             "client.address": f"203.0.113.{c}"} for c in range(4) for i in range(40)]
    good = work / "svc.log"
    good.write_text("".join(json.dumps(r) + "\n" for r in rows) + f"{{broken {OSC}\n")
    evil = work / f"evil{OSC}.log"
    evil.write_text(f"what {OSC}\nis this {CSI}\n")
    return [str(good), str(evil)]


def _replay_tty(work: Path) -> str:
    code, out, err = _on_ptys(["replay", *_logs(work), "--no-analysis"])
    check(code == 0, f"replay exit {code}: {err[-300:]}")
    check("\\x1b]0;PWNED\\x07" in out, f"incidents do not show the service escaped: {out[:200]!r}")
    _no_raw(out, "stdout sink")
    _no_raw(err, "replay summary")
    return f"{out.count(chr(10))} incident lines and the summary: escapes shown as text"


def _incidents_store(work: Path) -> str:
    db = work / "incidents.db"
    res = run_detector(["replay", *_logs(work), "--no-analysis", "--sink", f"sqlite:{db}"])
    check(res.returncode == 0, f"replay exit {res.returncode}: {res.stderr[-300:]!r}")
    piped = run_detector(["incidents", "list", "--db", str(db)])
    rows = [json.loads(line) for line in piped.stdout.splitlines()]
    check(bool(rows) and all(r["service"] == HOSTILE for r in rows),
          "piped JSON does not keep the service name exactly")
    code, out, _ = _on_ptys(["incidents", "list", "--db", str(db)])
    check(code == 0 and "PWNED" in out, f"incidents list exit {code}")
    _no_raw(out, "incidents list")
    code, out, _ = _on_ptys(["incidents", "show", rows[0]["id"], "--db", str(db)])
    check(code == 0 and "PWNED" in out, f"incidents show exit {code}")
    _no_raw(out, "incidents show")
    return f"list and show of {len(rows)} incidents escaped; JSON exact"


def _scan_summary(work: Path) -> str:
    (work / "empty-registry").mkdir(exist_ok=True)  # signatures only
    res = run_detector(["scan", *_logs(work), "--models", str(work / "empty-registry"),
                        "--output", str(work / "v.jsonl")])
    err = res.stderr.decode(errors="replace")
    _no_raw(err, "scan summary")
    check("evil\\x1b]0;PWNED\\x07.log" in err, f"file name not shown escaped: {err[-300:]!r}")
    return f"exit {res.returncode}, summary escaped"


def _error_lines(work: Path) -> str:
    for args in (["replay", str(work / f"gone{OSC}\n.log")], ["replay", f"--x{CSI}"],
                 [f"cmd{OSC}"]):
        res = run_detector(args)
        err = res.stderr.decode(errors="replace")
        check(res.returncode == 2, f"{args[-1]!r}: exit {res.returncode}")
        check(err.count("\n") == 1, f"{args[-1]!r}: not one line: {err!r}")
        _no_raw(err.rstrip("\n"), "error line")
    return "refused: exit 2, one escaped line each"


PROBES = [
    Probe("terminal-replay-stdout-sink-and-summary", _replay_tty),
    Probe("terminal-incidents-list-show", _incidents_store),
    Probe("terminal-scan-summary", _scan_summary),
    Probe("terminal-error-and-usage-lines", _error_lines),
]
