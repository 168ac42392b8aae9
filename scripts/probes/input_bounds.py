"""Input bounds: lines without newlines, decompression bombs, /dev/zero, and many
distinct long paths, through ``detector replay``. Memory must stay bounded
(peak RSS under the probe's limit), over-long lines must be dead-lettered as a
capped prefix with their true length and counted, and the run must end by itself
(or, on an endless input, keep running in bounded memory until stopped).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from probes import Probe, ProbeFailed, check, detector_cmd, run_detector

MIB = 1 << 20
GOOD = ('{"timestamp":"2026-03-17T09:%02d:%02dZ","service.name":"pay","http.request.method":"GET",'
        '"url.path":"/v1/items/%d","http.response.status_code":200,"client.address":"10.0.0.1"}\n')


def _good(n: int, start: int = 0) -> bytes:
    return "".join(GOOD % (i // 60 % 60, i % 60, i) for i in range(start, start + n)).encode()


def _replay_fed(work: Path, chunks: Callable[[], Iterator[bytes]], *extra: str,
                timeout: float = 300.0) -> tuple[int, str, Path]:
    """``detector replay -`` fed by a generator on stdin (never all in memory at once)."""
    dl = work / "dead.jsonl"
    proc = subprocess.Popen([*detector_cmd(), "replay", "-", "--dead-letter", str(dl),
                             "--sink", f"jsonl:{work / 'incidents.jsonl'}", *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)

    def feed() -> None:
        assert proc.stdin is not None
        try:
            for chunk in chunks():
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()

    err: list[bytes] = []

    def drain() -> None:
        assert proc.stderr is not None
        err.append(proc.stderr.read())

    # communicate() would close stdin at once: the feeding and the reading get threads.
    threads = [threading.Thread(target=f, daemon=True) for f in (feed, drain)]
    for t in threads:
        t.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise ProbeFailed(f"replay did not end within {timeout:.0f} s") from None
    for t in threads:
        t.join(5)
    return proc.returncode, b"".join(err).decode(errors="replace"), dl


def _dead(dl: Path) -> list[dict[str, object]]:
    check(dl.exists(), "no dead-letter file written")
    check(dl.stat().st_size < 4 * MIB, f"dead-letter file of {dl.stat().st_size:,} bytes")
    return [json.loads(x) for x in dl.read_bytes().splitlines()]


def _one_line_or_summary(code: int, err: str) -> None:
    check("Traceback" not in err, f"traceback: {err[-300:]}")
    check(code in (0, 2), f"exit {code}: {err[-300:]}")


def no_newline_stream(work: Path) -> str:
    """512 MiB without a newline between valid lines, on stdin."""
    size = 512 * MIB

    def chunks() -> Iterator[bytes]:
        yield _good(30)
        block = b"x" * MIB
        for _ in range(size // MIB):
            yield block
        yield b"\n" + _good(30, 30)

    code, err, dl = _replay_fed(work, chunks)
    check(code == 0, f"exit {code}: {err[-300:]}")
    check("60 events" in err and "bad records: 1 " in err, f"summary: {err[-300:]}")
    (rec,) = _dead(dl)
    check(rec.get("length") == size, f"dead letter length {rec.get('length')}, want {size}")
    return f"1 over-long line dead-lettered ({size // MIB} MiB, 4 KiB prefix kept), 60 events"


def gzip_bomb(work: Path) -> str:
    """A ~1 MB .gz expanding to 1 GiB of zeros (no newline)."""
    bomb = work / "bomb.log.gz"
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    with bomb.open("wb") as out:
        block = b"\0" * MIB
        for _ in range(1024):
            out.write(z.compress(block))
        out.write(z.flush())
    dl = work / "dead.jsonl"
    started = time.monotonic()
    res = run_detector(["replay", str(bomb), "--dead-letter", str(dl)], timeout=120)
    err = res.stderr.decode(errors="replace")
    _one_line_or_summary(res.returncode, err)
    check("decompression bomb" in err, f"no bomb warning: {err[-300:]}")
    recs = _dead(dl)
    check(len(recs) == 1 and "length" in recs[0], f"dead letters: {len(recs)}")
    return (f"{bomb.stat().st_size // 1024} KB gzip cut off as a decompression bomb in "
            f"{time.monotonic() - started:.1f} s, exit {res.returncode}")


def zeros_1gib(work: Path) -> str:
    """``head -c 1G /dev/zero | detector replay -``."""
    head = subprocess.Popen(["head", "-c", str(1024 * MIB), "/dev/zero"], stdout=subprocess.PIPE)
    dl = work / "dead.jsonl"
    try:
        res = subprocess.run([*detector_cmd(), "replay", "-", "--dead-letter", str(dl)],
                             stdin=head.stdout, capture_output=True, timeout=300)
    finally:
        if head.stdout is not None:
            head.stdout.close()
        head.kill()
        head.wait()
    err = res.stderr.decode(errors="replace")
    _one_line_or_summary(res.returncode, err)
    recs = _dead(dl)
    check(len(recs) == 1 and recs[0].get("length") == 1024 * MIB, f"dead letters: {recs[:1]}")
    return f"1 GiB line counted and dead-lettered as a 4 KiB prefix, exit {res.returncode}"


def dev_zero(work: Path) -> str:
    """``detector replay /dev/zero``: endless; it must stay small until stopped."""
    proc = subprocess.Popen([*detector_cmd(), "replay", "/dev/zero"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(20)
    check(proc.poll() is None, f"replay of /dev/zero ended by itself (exit {proc.returncode})")
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise ProbeFailed("replay of /dev/zero ignored SIGTERM for 30 s") from None
    check(b"Traceback" not in err, f"traceback: {err[-300:]!r}")
    return f"read /dev/zero for 20 s in bounded memory, stopped by SIGTERM (exit {proc.returncode})"


def long_paths(work: Path) -> str:
    """60,000 requests with distinct 8 KB paths (the path caches' worst case)."""
    n = 60_000

    def chunks() -> Iterator[bytes]:
        for i in range(n):
            path = f"/files/{i:06d}" + "a" * 8000 + f"/x{i}"
            yield (json.dumps({"timestamp": 1773738000 + i * 0.05, "service.name": "pay",
                               "http.request.method": "GET", "url.path": path,
                               "http.response.status_code": 200,
                               "client.address": f"10.0.{i % 250}.1"}) + "\n").encode()

    code, err, _ = _replay_fed(work, chunks)
    check(code == 0, f"exit {code}: {err[-300:]}")
    check(f"{n:,} events" in err, f"summary: {err[-300:]}")
    return f"{n:,} distinct 8 KB paths replayed"


PROBES = [
    Probe("input_bounds_no_newline_stream", no_newline_stream),
    Probe("input_bounds_gzip_bomb", gzip_bomb),
    Probe("input_bounds_zeros_1gib", zeros_1gib),
    Probe("input_bounds_dev_zero", dev_zero),
    Probe("input_bounds_long_paths", long_paths),
]
