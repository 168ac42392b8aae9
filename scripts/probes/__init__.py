"""Hostile-input probes for ``scripts/adversarial.py``.

Each module in this package defines ``PROBES: list[Probe]``. A probe builds its
hostile input under ``work`` (a fresh temporary directory), runs the real thing
(preferably the ``detector`` CLI as a subprocess, so the figures are what a user
gets), and returns a short outcome text when the defence holds. It raises
:class:`ProbeFailed` with the reason when it does not. The runner executes every
probe in a process of its own and measures its peak RSS (itself plus the
processes it started), so a probe needs no measuring of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class ProbeFailed(AssertionError):
    """The defence a probe checks did not hold."""


@dataclass(frozen=True)
class Probe:
    """One hostile input and the outcome that must hold.

    ``max_rss_mb`` is the peak-RSS bound for the probe's process tree.
    """

    name: str
    run: Callable[[Path], str]
    max_rss_mb: float = 300.0


def detector_cmd() -> list[str]:
    """The ``detector`` CLI of this checkout (the venv's script, else ``python -m``)."""
    exe = Path(sys.executable).parent / "detector"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("detector")
    return [found] if found else [sys.executable, "-m", "detector"]


def run_detector(args: Sequence[str], *, timeout: float = 120.0, stdin: bytes | None = None,
                 env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI with ``args``; ProbeFailed if it does not end within ``timeout``."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        return subprocess.run([*detector_cmd(), *args], input=stdin, capture_output=True,
                              timeout=timeout, env=full_env, cwd=cwd)
    except subprocess.TimeoutExpired:
        shown = " ".join(args)[:80]
        raise ProbeFailed(f"detector {shown} did not end within {timeout:.0f} s") from None


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check(cond: bool, message: str) -> None:
    """ProbeFailed(message) unless ``cond``."""
    if not cond:
        raise ProbeFailed(message)
