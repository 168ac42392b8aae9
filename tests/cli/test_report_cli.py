"""``detector report``: inputs told apart, one-line errors (exit 2), --open."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from detector.cli.app import app
from tests.report.synth import traffic

runner = CliRunner()

INCIDENT = {"id": "inc-0123456789ab", "status": "open", "kind": "error_surge",
            "severity": "high", "service": "shop", "route": "/items/{id}", "method": "GET",
            "client": None, "start": "2026-03-20T00:20:00Z", "end": "2026-03-20T00:24:00Z",
            "detected_at": "2026-03-20T00:21:00Z", "score": 0.9,
            "summary": "GET /items/{id} 5xx rate 10%", "evidence": {"samples": []},
            "deployment": None}


def _incidents(d: Path, *objs: dict[str, object]) -> Path:
    p = d / "incidents.jsonl"
    p.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objs))
    return p


def _log(d: Path, minutes: int = 40) -> Path:
    p = d / "access.log"
    with p.open("wb") as f:
        for ev in traffic(minutes):
            f.write(orjson.dumps({"timestamp": ev.ts, "service.name": ev.service,
                                  "service.version": ev.version, "http.request.method": "GET",
                                  "url.path": ev.path, "http.response.status_code": ev.status,
                                  "http.server.request.duration": ev.duration,
                                  "client.address": ev.client}) + b"\n")
    return p


def _deploys(d: Path) -> Path:
    p = d / "deployments.jsonl"
    p.write_text(json.dumps({"type": "deployment", "timestamp": "2026-03-20T00:15:00Z",
                             "service.name": "shop", "service.version": "1.1"}) + "\n")
    return p


def _one_line_error(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, (res.exit_code, res.output)
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("detector: error:"), res.stderr
    assert "Traceback" not in res.output
    return err[0]


def test_nothing_to_report_is_exit_2(tmp_path: Path) -> None:
    assert "nothing to report" in _one_line_error(["report", "--out", str(tmp_path / "r.html")])


def test_missing_out_is_exit_2(tmp_path: Path) -> None:
    err = _one_line_error(["report", str(_incidents(tmp_path, INCIDENT))])
    assert "--out" in err


def test_missing_log_file_is_exit_2(tmp_path: Path) -> None:
    _one_line_error(["report", str(tmp_path / "nope.log"), "--out", str(tmp_path / "r.html")])


def test_store_and_incidents_file_together_are_exit_2(tmp_path: Path) -> None:
    err = _one_line_error(["report", str(_incidents(tmp_path, INCIDENT)), "--store",
                           str(tmp_path / "x.db"), "--out", str(tmp_path / "r.html")])
    assert "not both" in err


def test_missing_store_and_records_are_exit_2(tmp_path: Path) -> None:
    _one_line_error(["report", "--store", str(tmp_path / "none.db"), "--out",
                     str(tmp_path / "r.html")])
    _one_line_error(["report", str(_incidents(tmp_path, INCIDENT)), "--records",
                     str(tmp_path / "none"), "--out", str(tmp_path / "r.html")])


def test_an_incidents_file_of_broken_incidents_is_exit_2(tmp_path: Path) -> None:
    bad = dict(INCIDENT, kind="no_such_kind")
    err = _one_line_error(["report", str(_incidents(tmp_path, bad)), "--out",
                           str(tmp_path / "r.html")])
    assert "holds no incident" in err


def test_logs_that_are_no_access_log_are_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.log"
    junk.write_bytes(b"\x00\x01 not a log\n" * 50)
    _one_line_error(["report", str(junk), "--out", str(tmp_path / "r.html")])


def test_incidents_and_logs_make_one_page(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(_incidents(tmp_path, INCIDENT)),
                              str(_log(tmp_path)), "--deployments", str(_deploys(tmp_path)),
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert 'data-id="inc-0123456789ab"' in page and 'data-version="1.1"' in page
    assert "1 incidents" in res.stderr and "-> " in res.stderr


def test_a_store_is_read_like_an_incidents_file(tmp_path: Path) -> None:
    from detector.incidents.model import Incident
    from detector.sinks.sqlite import SqliteSink

    db = tmp_path / "incidents.db"
    sink = SqliteSink(str(db))
    sink.write(Incident.model_validate(INCIDENT))
    sink.close()
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", "--store", str(db), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert 'id="inc-0123456789ab"' in out.read_text()


def _fake_browser(tmp_path: Path) -> tuple[Path, Path]:
    seen = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" > {seen}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, seen


def test_open_hands_the_file_to_the_browser(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    script, seen = _fake_browser(tmp_path)
    monkeypatch.setenv("BROWSER", f"{script} %s")
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(_incidents(tmp_path, INCIDENT)), "--out",
                              str(out), "--open"])
    assert res.exit_code == 0, res.output
    assert seen.read_text().strip() == out.resolve().as_uri()


@pytest.mark.slow  # a subprocess: webbrowser looks browsers up once per process
def test_open_without_a_browser_says_so_and_succeeds(tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "r.html"
    env = {k: v for k, v in os.environ.items() if k not in ("BROWSER", "DISPLAY",
                                                            "WAYLAND_DISPLAY")}
    env["PATH"] = str(tmp_path / "empty")  # no browser to find
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    res = subprocess.run([sys.executable, "-m", "detector", "report",
                          str(_incidents(tmp_path, INCIDENT)), "--out", str(out), "--open"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert out.is_file() and "no browser to open it with" in res.stderr
