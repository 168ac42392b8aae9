"""``detector run --processes N``: N consumer processes in one instance, one per core.

Each child is ``detector run`` with the same command line: a member of the same consumer
group, so the group spreads the topics' partitions over the children and each checkpoints
the partitions it owns, exactly as separate instances would (a rebalance moves state the
same way). The parent only supervises:

- SIGTERM / SIGINT are forwarded to every child (the children run in sessions of their own,
  so a terminal's Ctrl-C reaches them once, through the parent); each child then shuts down
  gracefully within the grace period as a single instance does.
- A child that fails (a non-zero exit the parent did not ask for) stops the others and its
  exit code is the instance's: the pod restarts whole, never limping on with some of its
  partitions unowned.
- Children exit with the parent: they ask the kernel for SIGTERM when it dies (Linux).

Child ``i`` serves /metrics, /healthz and /readyz on ``metrics_port + i`` (0 stays off),
logs with ``"process": i`` and writes incident changes as whole lines (no line of one
process is cut by another's on a shared stdout or jsonl file).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from detector.service.jsonlog import JsonLog

PROCESS_ENV = "DETECTOR_PROCESS_INDEX"  # which child of a --processes run this is
COUNT_ENV = "DETECTOR_PROCESS_COUNT"  # how many children the instance has
DRAINED_ENV = "DETECTOR_PROCESSES_DRAINED"  # the directory where drained children say so
_STOP_SLACK = 10.0  # seconds past the grace period before a child that ignores SIGTERM is killed
_PR_SET_PDEATHSIG = 1


def process_index() -> int | None:
    """This process's index among ``--processes`` children (None: not one of them).

    >>> os.environ.pop(PROCESS_ENV, None) and None
    >>> process_index() is None
    True
    """
    raw = os.environ.get(PROCESS_ENV)
    return int(raw) if raw is not None and raw.isdigit() else None


class Siblings:
    """The children of one ``--processes`` instance, as one of them sees them: each
    marks itself drained (the end of a backfill) in a directory the supervisor made.

    A child that drained first waits for the others before leaving the group: its
    leaving would make the group rebalance, and the children still working would stop
    to revoke and restore their partitions for nothing.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> first, second = Siblings(Path(d), 0, 2), Siblings(Path(d), 1, 2)
    >>> first.mark()
    >>> first.all_drained(), second.all_drained()
    (False, False)
    >>> second.mark()
    >>> first.all_drained()
    True
    """

    def __init__(self, directory: Path, index: int, count: int) -> None:
        self.directory = directory
        self.index = index
        self.count = count

    @classmethod
    def from_env(cls) -> Siblings | None:
        """This child's siblings; None outside a ``--processes`` run of more than one."""
        index, where = process_index(), os.environ.get(DRAINED_ENV)
        count = os.environ.get(COUNT_ENV, "")
        if index is None or not where or not count.isdigit() or int(count) < 2:
            return None
        return cls(Path(where), index, int(count))

    def mark(self) -> None:
        (self.directory / str(self.index)).touch()

    def all_drained(self) -> bool:
        return all((self.directory / str(i)).exists() for i in range(self.count))


def child_command(argv: Sequence[str], index: int, metrics_port: int) -> list[str]:
    """The command line of child ``index``: the parent's own arguments with
    ``--processes 1`` and its metrics port appended (the last value of an option wins).

    >>> child_command(["run", "--topic", "a", "--processes", "2"], 1, 9464)[-4:]
    ['--processes', '1', '--metrics-port', '9465']
    >>> child_command(["run"], 1, 0)[-2:]
    ['--metrics-port', '0']
    """
    port = metrics_port + index if metrics_port else 0
    return [sys.executable, "-m", "detector", *argv, "--processes", "1",
            "--metrics-port", str(port)]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux prctl; elsewhere none)."""
    if sys.platform.startswith("linux"):
        import ctypes  # noqa: PLC0415 (the child only, Linux only)

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Starts the children, forwards stop signals, and returns the instance's exit code.

    >>> import io
    >>> sup = Supervisor([[sys.executable, "-c", "pass"]] * 2, grace=5.0,
    ...                  log=JsonLog(io.StringIO()))
    >>> sup.run()
    0
    >>> Supervisor([[sys.executable, "-c", "raise SystemExit(2)"],
    ...             [sys.executable, "-c", "import time; time.sleep(60)"]], grace=5.0,
    ...            log=JsonLog(io.StringIO())).run()
    2
    """

    def __init__(self, commands: list[list[str]], *, grace: float, log: JsonLog,
                 poll: float = 0.2) -> None:
        self.commands = commands
        self.grace = grace
        self.log = log
        self.poll = poll
        self.children: list[subprocess.Popen[bytes]] = []
        self.stopping = False  # a stop was asked for (a signal, or a child failed)

    def _start(self, index: int, cmd: list[str], drained: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, PROCESS_ENV: str(index), COUNT_ENV: str(len(self.commands)),
               DRAINED_ENV: drained, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(cmd, env=env, start_new_session=True,
                                preexec_fn=_die_with_parent)  # noqa: PLW1509 (no threads yet)

    def _forward(self, signum: int) -> None:
        for child in self.children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signum)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        self._forward(signum)

    def run(self) -> int:
        """Run the children to their end; the first failure's exit code, else 0."""
        handlers: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                handlers[sig] = signal.signal(sig, self._on_signal)
        except ValueError:  # not the main thread: the caller handles signals
            handlers = {}
        drained = tempfile.mkdtemp(prefix="detector-drained-")
        try:
            for i, cmd in enumerate(self.commands):
                self.children.append(self._start(i, cmd, drained))
            self.log("processes started", processes=len(self.children),
                     pids=[c.pid for c in self.children])
            return self._supervise()
        finally:
            self._stop_all()
            shutil.rmtree(drained, ignore_errors=True)
            for signum, old in handlers.items():
                signal.signal(signum, old)

    def _supervise(self) -> int:
        code = 0
        done: set[int] = set()
        deadline: float | None = None
        while len(done) < len(self.children):
            for i, child in enumerate(self.children):
                rc = child.poll()
                if rc is None or i in done:
                    continue
                done.add(i)
                self.log("process exited", level="info" if rc == 0 else "error", process=i,
                         pid=child.pid, code=rc)
                if rc != 0 and code == 0:
                    code = rc if rc > 0 else 1  # killed by a signal: a failure all the same
                    if not self.stopping:  # the others stop too: the pod restarts whole
                        self.stopping = True
                        self._forward(signal.SIGTERM)
            if self.stopping and deadline is None:
                deadline = time.monotonic() + self.grace + _STOP_SLACK
            if deadline is not None and time.monotonic() > deadline:
                self.log("processes not stopped in time: killed", level="error",
                         pids=[c.pid for c in self.children if c.poll() is None])
                self._forward(signal.SIGKILL)
                deadline = None
            time.sleep(self.poll)
        return code

    def _stop_all(self) -> None:
        """Whatever still runs when supervision ends (an exception in the parent)."""
        alive = [c for c in self.children if c.poll() is None]
        if not alive:
            return
        self._forward(signal.SIGTERM)
        end = time.monotonic() + self.grace + _STOP_SLACK
        for child in alive:
            try:
                child.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def run_processes(n: int, argv: Sequence[str], *, metrics_port: int, grace: float,
                  log: JsonLog) -> int:
    """Run ``n`` children of ``detector <argv>`` under a :class:`Supervisor`; the exit code."""
    commands = [child_command(argv, i, metrics_port) for i in range(n)]
    return Supervisor(commands, grace=grace, log=log).run()
