"""`detector replay` as a user runs it: bad input, exit codes, dead letters, real logs."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import shared_path

GOOD = (
    b'{"timestamp":"2026-03-17T09:00:%02dZ","service.name":"pay","http.request.method":"GET",'
    b'"url.path":"/v1/items/%d","http.response.status_code":200,'
    b'"http.server.request.duration":0.01,"client.address":"10.0.0.1"}\n'
)


def _good(n: int) -> bytes:
    return b"".join(GOOD % (i % 60, i) for i in range(n))


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "detector", *args], input=stdin, capture_output=True, timeout=120
    )


@pytest.mark.slow
def test_unreadable_file_exits_2_with_one_line(tmp_path: Path) -> None:
    res = run("replay", str(tmp_path / "missing.log"))
    assert res.returncode == 2
    err = res.stderr.decode().strip()
    assert err.startswith("detector: error: cannot read") and "\n" not in err
    assert b"Traceback" not in res.stderr


@pytest.mark.slow
def test_unknown_sink_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(_good(3))
    res = run("replay", str(f), "--sink", "nope:x")
    assert res.returncode == 2 and b"unknown sink" in res.stderr


def test_hostile_lines_are_dead_lettered_with_reasons(tmp_path: Path) -> None:
    hostile = [
        b'{"timestamp":"2026-03-17T09:00:01Z","url.path":"/a"',  # truncated JSON
        bytes(b for b in range(256) if b != 10),  # binary garbage (no newline inside)
        b'{"timestamp":"2026-03-17T09:00:01Z","http.request.method":"GET","url.path":"/\xff\xfe"}',
        b'{"http.request.method":"GET","url.path":"/no-time","client.address":"1.2.3.4"}',
        b'{"timestamp":"1066-10-14T09:00:00Z","http.request.method":"GET","url.path":"/old"}',
        b'{"timestamp":"2026-03-17T09:00:01Z","http.request.method":"GET","url.path":"/'
        + b"a" * (10 << 20)
        + b'"}',
    ]
    f = tmp_path / "mixed.log"
    f.write_bytes(_good(30) + b"\n".join(hostile) + b"\n" + _good(5))
    dl = tmp_path / "dead.jsonl"
    res = run("replay", str(f), "--dead-letter", str(dl), "--sink", f"jsonl:{tmp_path / 'i.jsonl'}")
    assert res.returncode == 0, res.stderr
    assert b"Traceback" not in res.stderr
    records = [orjson.loads(line) for line in dl.read_bytes().splitlines()]
    assert len(records) == len(hostile)
    assert [r["offset"] for r in records] == list(range(31, 31 + len(hostile)))
    assert all(r["reason"] and r["source"] == "mixed.log" for r in records)
    # Nothing is lost: the raw bytes are kept (base64 when not UTF-8); of an over-long
    # line only a bounded prefix, with its true length.
    assert "raw_base64" in records[1]
    assert len(records[5]["raw"]) == 4096 and records[5]["length"] == len(hostile[5])
    summary = res.stderr.decode()
    assert "35 events" in summary and f"bad records: {len(hostile)}" in summary


def test_unknown_format_lines_all_dead_lettered(tmp_path: Path) -> None:
    f = tmp_path / "weird.log"
    f.write_bytes(b"hello world\nthis is not a log\n")
    dl = tmp_path / "dl.jsonl"
    res = run("replay", str(f), "--dead-letter", str(dl))
    # Not an access log: exit 2 in one line (CONTRACTS §4), every line still dead-lettered.
    assert res.returncode == 2
    assert len(dl.read_bytes().splitlines()) == 2
    assert b"unknown format" in res.stderr
    assert res.stderr.decode().splitlines()[-1].startswith("detector: error: no valid access")


def test_gzip_and_stdin_and_merge_in_time_order(tmp_path: Path) -> None:
    a = tmp_path / "a.log.gz"
    a.write_bytes(gzip.compress(_good(20)))
    res = run("replay", "-", str(a), stdin=_good(10))
    assert res.returncode == 0, res.stderr
    assert b"30 events" in res.stderr


def test_piped_stdout_is_json_lines(tmp_path: Path) -> None:
    sim = tmp_path / "in.log"
    lines = []
    for i in range(60 * 60 * 2):
        status = 503 if 5400 <= i < 6000 and i % 3 == 0 else 200
        lines.append(
            GOOD.replace(b"200", str(status).encode()).replace(
                b'"2026-03-17T09:00:%02dZ"', b"%d" % (1773738000 + i // 2)
            )
            % (i % 40,)  # a few items read again and again: not one client walking ids
        )
    sim.write_bytes(b"".join(lines))
    res = run("replay", str(sim))
    assert res.returncode == 0, res.stderr
    out = [orjson.loads(x) for x in res.stdout.splitlines()]
    assert out and out[0]["kind"] == "error_surge" and out[0]["status"] == "open"


@pytest.mark.parametrize(
    "rel,service",
    [
        (("access_logs", "apache_logs.log"), "blog"),
        (("access_logs", "nasa_ksc_1995", "NASA_access_log_small.gz"), "nasa"),
        (("access_logs", "loghub_openstack", "OpenStack_2k.log"), "nova"),
    ],
)
def test_real_logs_every_line_decoded_or_dead_lettered(
    rel: tuple[str, ...], service: str, tmp_path: Path
) -> None:
    path = shared_path(*rel)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    total = sum(1 for line in raw.splitlines() if line.strip())
    dl = tmp_path / "dl.jsonl"
    res = run(
        "replay",
        str(path),
        "--service",
        service,
        "--dead-letter",
        str(dl),
        "--sink",
        f"jsonl:{tmp_path / 'i.jsonl'}",
    )
    assert res.returncode == 0, res.stderr
    first = res.stderr.decode().splitlines()[0]
    events = int(first.split()[1].replace(",", ""))
    bad = len(dl.read_bytes().splitlines()) if dl.exists() else 0
    assert events + bad == total
    assert events > 0
