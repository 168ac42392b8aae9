"""Lines without newlines and decompression bombs read in bounded memory (issue 8, item 6).

The line cap used to be checked after the whole line was in memory: a small
gzip of one endless line took GBs. Now a line is read in bounded chunks, the
rest of an over-long line is counted and skipped, its dead-letter record holds
a capped prefix with the true length, and a gzip input that expands beyond any
log's ratio is cut off with a one-line warning.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import tracemalloc
import zlib
from pathlib import Path

import orjson
import pytest

from detector.events import AccessEvent, BadRecord
from detector.sources.files import GZIP_RATIO_FLOOR, RAW_PREFIX, FileSource, Item

GOOD = (
    b'{"timestamp":"2026-03-17T09:00:%02dZ","service.name":"pay","http.request.method":"GET",'
    b'"url.path":"/v1/items/%d","http.response.status_code":200,"client.address":"10.0.0.1"}\n'
)
MIB = 1 << 20


def _good(n: int, start: int = 0) -> bytes:
    return b"".join(GOOD % (i % 60, i) for i in range(start, start + n))


def _read(path: Path) -> tuple[list[Item], int, FileSource]:
    """Items of ``path`` and the peak of Python allocations while reading it."""
    tracemalloc.start()
    try:
        src = FileSource(str(path))
        items = list(src)
        src.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return items, peak, src


def test_a_line_without_newline_is_counted_not_held(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    giant = 24 * MIB
    with f.open("wb") as out:
        out.write(_good(5))
        for _ in range(giant // MIB):
            out.write(b"x" * MIB)
        out.write(b"\r\n" + _good(5, 5))
    items, peak, _ = _read(f)
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert sum(isinstance(i, AccessEvent) for i in items) == 10
    assert len(bad) == 1 and bad[0].offset == 6
    assert bad[0].reason.startswith("line exceeds 1048576 bytes")
    assert bad[0].length == giant and len(bad[0].raw) == RAW_PREFIX  # true length, capped prefix
    assert peak < 6 * MIB, f"peak {peak / MIB:.1f} MiB while reading a {giant // MIB} MiB line"


def test_gzip_bomb_is_cut_off_with_a_warning(tmp_path: Path) -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    f = tmp_path / "bomb.log.gz"
    with f.open("wb") as out:
        chunk = b"\0" * MIB
        for _ in range(2 * GZIP_RATIO_FLOOR // MIB):
            out.write(z.compress(chunk))
        out.write(z.flush())
    assert f.stat().st_size < 300_000
    items, peak, src = _read(f)
    assert len(items) == 1 and isinstance(items[0], BadRecord)
    assert items[0].length is not None and items[0].length <= GZIP_RATIO_FLOOR + MIB
    assert src.error is not None and "decompression bomb" in src.error
    assert peak < 6 * MIB


def test_ordinary_gzip_reads_whole(tmp_path: Path) -> None:
    f = tmp_path / "a.log.gz"
    with gzip.open(f, "wb") as out:
        out.write(_good(500))
    items, _, src = _read(f)
    assert len(items) == 500 and src.error is None
    assert all(isinstance(i, AccessEvent) for i in items)


# The CLI, reporting its own peak RSS (VmHWM of its own address space) at exit: the
# ru_maxrss of a child started from a big pytest process carries the parent's peak.
_PEAK_RSS = """
import atexit, os, runpy, sys
def _hwm():
    with open("/proc/self/status") as f, open(os.environ["HWM_FILE"], "w") as out:
        out.write(next(line for line in f if line.startswith("VmHWM")))
atexit.register(_hwm)
sys.argv = ["detector", *sys.argv[1:]]
runpy.run_module("detector", run_name="__main__", alter_sys=True)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_replay_of_an_endless_stdin_line_stays_small(tmp_path: Path) -> None:
    """The CLI end to end: 256 MiB without a newline on stdin, peak RSS of that process."""
    dl = tmp_path / "dead.jsonl"
    hwm = tmp_path / "hwm"
    proc = subprocess.Popen(
        [sys.executable, "-c", _PEAK_RSS, "replay", "-", "--no-analysis", "--dead-letter", str(dl),
         "--sink", f"jsonl:{tmp_path / 'i.jsonl'}"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "HWM_FILE": str(hwm)},
    )
    total = 256 * MIB

    def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(_good(20))
            block = b"z" * MIB
            for _ in range(total // MIB):
                proc.stdin.write(block)
            proc.stdin.write(b"\n" + _good(20, 20))
        finally:
            proc.stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.wait()
    writer.join()
    assert proc.returncode == 0, err
    assert "40 events" in err and "bad records: 1 " in err
    rss_mb = int(hwm.read_text().split()[1]) / 1024  # "VmHWM:  123456 kB"
    assert rss_mb < 300, f"peak RSS {rss_mb:.0f} MB for a {total // MIB} MiB line"
    (rec,) = [orjson.loads(x) for x in dl.read_bytes().splitlines()]
    assert rec["offset"] == 21 and rec["length"] == total and len(rec["raw"]) == RAW_PREFIX
