"""Replay progress on a terminal (issue 8, item 16): its own line on stderr, percent and
ETA for inputs of known size, never glued to incident lines on stdout."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import pytest

from detector.jobs.progress import ReplayProgress
from detector.sinks.files import StdoutSink
from detector.sources.files import open_input
from detector.terminal import StatusLine
from tests.cli.ptyrun import run_on_ptys
from tests.sinks.incidents import incident


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_has_percent_records_rate_and_eta(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 1_000_000)
    stream, _ = open_input(str(path))
    clock = FakeClock()
    prog = ReplayProgress([stream], io.StringIO(), clock=clock)
    assert prog.total == 1_000_000
    stream.read(250_000)  # a quarter read (plus what the buffer read ahead)
    clock.now += 10.0
    text = prog.text(50_000, clock.now)
    m = re.fullmatch(r"replay: +(\d+)% of 1\.0 MB, 50,000 records, 5,000/s, ETA (\d):(\d\d):(\d\d)",
                     text)
    assert m, text
    assert 25 <= int(m[1]) <= 27
    eta = int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4])
    assert 25 <= eta <= 31  # 10 s for a quarter: about 30 s to go
    stream.close()


def test_progress_of_gzip_counts_compressed_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress(b"GET /x 200\n" * 200_000))
    stream, _ = open_input(str(path))
    prog = ReplayProgress([stream], io.StringIO(), clock=FakeClock())
    assert prog.total == path.stat().st_size  # the size on disk is what is known
    while stream.read(1 << 16):
        pass
    assert "100% of" in prog.text(200_000, 200.0)
    stream.close()


def test_progress_without_a_known_size_shows_count_and_rate(tmp_path: Path) -> None:
    prog = ReplayProgress([io.BytesIO(b"abc")], io.StringIO(), clock=FakeClock())
    assert prog.total is None
    assert prog.text(1_000, 102.0) == "replay: 1,000 records, 500/s"


def test_incident_lines_erase_the_progress_line_first() -> None:
    err = io.StringIO()
    clock = FakeClock()
    prog = ReplayProgress([io.BytesIO(b"")], err, clock=clock, interval=0.0)
    out = io.StringIO()
    sink = StdoutSink(out, pretty=True)
    seen: list[str] = []
    for _ in prog(range(3)):
        seen.append(err.getvalue())
        sink.write(incident())  # erases the progress line before the incident line
        assert err.getvalue().endswith("\r\x1b[2K")
    assert seen[0].startswith("\r\x1b[2Kreplay: ")
    assert "\r" not in out.getvalue() and "replay:" not in out.getvalue()
    assert err.getvalue().endswith("\r\x1b[2K")  # transient: gone when the replay ends


def _attack_log(path: Path, n: int) -> None:
    """CLF traffic with a client sending SQL injection half-way: incidents come early."""
    import datetime as dt

    t0 = dt.datetime(2026, 3, 17, 9, 0, tzinfo=dt.UTC)
    out = []
    for i in range(n):
        ts = (t0 + dt.timedelta(seconds=i * 0.03)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        if i > n // 4 and i % 40 == 0:
            path_, ip = "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", "6.6.6.6"
        else:
            path_, ip = f"/v1/items/{i % 300}", f"10.0.{i % 7}.{i % 13}"
        out.append(f'{ip} - - [{ts}] "GET {path_} HTTP/1.1" 200 512 "-" "curl/8"\n')
    path.write_text("".join(out))


@pytest.mark.slow
def test_on_a_terminal_progress_and_incidents_stay_apart(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    _attack_log(log, 60_000)
    res = run_on_ptys(["replay", str(log), "--service", "shop"], timeout=120)
    out, err = res.stdout.decode(), res.stderr.decode()
    assert res.returncode == 0, err
    incidents = out.splitlines()
    assert incidents and all("attack_payload" in line for line in incidents), out
    assert "\r" not in out and "replay" not in out and "%" not in out  # no progress text
    progress = [p for p in err.split("\r\x1b[2K") if p.startswith("replay: ") and "%" in p]
    assert progress, err
    for p in progress:
        assert re.fullmatch(r"replay: +\d+% of [\d.]+ [kMG]?B, [\d,]+ records, [\d,]+/s, "
                            r"ETA (\d:\d\d:\d\d|-:--:--)", p), p
    assert any(line.startswith("incidents: ") for line in err.splitlines())  # the summary


def test_status_line_fits_the_terminal_and_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    err = io.StringIO()
    line = StatusLine(err)
    line.show("replay: \x1b]0;x\x07" + "y" * 100)  # a wrapped line could not be erased
    shown = err.getvalue().removeprefix("\r\x1b[2K")
    assert len(shown) == 29 and shown.endswith("…") and shown.startswith("replay: \\x1b]0;x")
    line.clear()
    line.clear()  # once only
    assert err.getvalue().endswith("…\r\x1b[2K")
