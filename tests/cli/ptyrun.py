"""Run the CLI with stdout and stderr on two pseudo-terminals, as on a user's terminal.

Two terminals, not one, so that what went to stdout and what went to stderr can be
told apart; the CLI sees ``isatty()`` true on both, as it does in a shell.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PtyResult:
    """What the command wrote to each terminal, and its exit code."""

    returncode: int
    stdout: bytes
    stderr: bytes


def run_on_ptys(args: Sequence[str], *, timeout: float = 120.0, cwd: Path | None = None,
                columns: int = 100) -> PtyResult:
    """``python -m detector *args`` with stdout and stderr each on a pseudo-terminal."""
    masters: list[int] = []
    slaves: list[int] = []
    for _ in range(2):
        m, s = pty.openpty()
        attrs = termios.tcgetattr(s)
        attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n": every CR read was written
        termios.tcsetattr(s, termios.TCSANOW, attrs)
        fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        masters.append(m)
        slaves.append(s)
    env = dict(os.environ, COLUMNS=str(columns), LINES="40", TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "detector", *args], stdin=subprocess.DEVNULL,
                            stdout=slaves[0], stderr=slaves[1], cwd=cwd, env=env)
    for s in slaves:
        os.close(s)
    got = {m: bytearray() for m in masters}
    open_fds = set(masters)
    deadline = time.monotonic() + timeout
    try:
        while open_fds and time.monotonic() < deadline:
            ready, _, _ = select.select(list(open_fds), [], [], 0.2)
            for fd in ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the other side is closed
                    chunk = b""
                if chunk:
                    got[fd] += chunk
                else:
                    open_fds.discard(fd)
            if not ready and proc.poll() is not None:
                break
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for m in masters:
            os.close(m)
    return PtyResult(rc, bytes(got[masters[0]]), bytes(got[masters[1]]))
