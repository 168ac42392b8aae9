"""Terminal injection (issue 8, item 3): escape sequences, CR/LF, C1 controls and bidi
overrides from log content never reach a terminal raw; they are shown escaped. JSON
output (piped stdout, --json, jsonl sinks) stays byte-exact.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import orjson
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from detector.cli.incidents_cmds import incidents_app, render_show, render_table
from detector.sinks.files import StdoutSink
from detector.sinks.sqlite import SqliteSink
from detector.terminal import printable
from tests.cli.ptyrun import run_on_ptys
from tests.sinks.incidents import incident

OSC_TITLE = "\x1b]0;PWNED\x07"  # sets the terminal's title
CSI_CLEAR = "\x1b[2J\x1b[H"  # clears the screen
HOSTILE = f"pay{OSC_TITLE}{CSI_CLEAR}\r\nFAKE LINE\x9b31m\x7f\u202egnp.exe\u2066x\u2069\x00"
# What must never reach a terminal raw: C0 (but the line ends rich writes), DEL, C1,
# bidi controls, line/paragraph separators.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _crafted() -> object:
    return incident(
        "inc-" + "e" * 12, service=HOSTILE, summary=f"summary {HOSTILE}",
        route=f"/r{OSC_TITLE}", client=f"c{CSI_CLEAR}",
        evidence={"observed": 1.0, "note": HOSTILE, "samples": [f"GET /x{OSC_TITLE}\u202e"]},
    )


def test_printable_escapes_every_control_visibly() -> None:
    got = printable(HOSTILE)
    assert RAW.search(got) is None and "\n" not in got
    for shown in ("\\x1b]0;PWNED\\x07", "\\r\\n", "\\x9b", "\\x7f", "\\u202e", "\\u2066",
                  "\\u2069", "\\x00"):
        assert shown in got, shown
    assert printable("GET /v2/items/{id}?q=ü 東京 ✓") == "GET /v2/items/{id}?q=ü 東京 ✓"


@given(st.text())
def test_printable_never_lets_a_control_through(text: str) -> None:
    got = printable(text)
    assert RAW.search(got) is None and "\n" not in got
    if RAW.search(text) is None and "\n" not in text:
        assert got == text  # nothing to escape: unchanged (st.text() has no surrogates)


def test_stdout_sink_on_a_terminal_escapes_log_content() -> None:
    out = io.StringIO()
    StdoutSink(out, pretty=True).write(_crafted())  # type: ignore[arg-type]
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert RAW.search(text) is None, repr(text)
    assert "pay\\x1b]0;PWNED\\x07" in text and "FAKE LINE\\x9b31m" in text


def test_stdout_sink_piped_stays_exact_json() -> None:
    inc = _crafted()
    out = io.StringIO()
    StdoutSink(out, pretty=False).write(inc)  # type: ignore[arg-type]
    assert out.getvalue().encode() == orjson.dumps(inc.model_dump(mode="json")) + b"\n"  # type: ignore[attr-defined]
    assert orjson.loads(out.getvalue())["service"] == HOSTILE


def _store(tmp_path: Path) -> Path:
    db = tmp_path / "incidents.db"
    sink = SqliteSink(str(db))
    sink.write(_crafted())  # type: ignore[arg-type]
    sink.close()
    return db


def test_incidents_list_and_show_escape_on_a_terminal(tmp_path: Path) -> None:
    from detector.incidents.store import IncidentStore

    with IncidentStore(_store(tmp_path)) as store:
        found = store.list(limit=10)
        latest, history = store.show("inc-" + "e" * 12)
    for width in (80, 200):  # two-line form and table form
        out = io.StringIO()
        render_table(found, out, width=width)
        assert RAW.search(out.getvalue()) is None, repr(out.getvalue())
        assert "PWNED" in out.getvalue()  # shown, escaped, not dropped
    out = io.StringIO()
    render_show(latest, history, out, width=120)
    text = out.getvalue()
    assert RAW.search(text) is None, repr(text)
    assert "\\x1b]0;PWNED\\x07" in text and "\\u202e" in text


def test_incidents_json_output_is_exact(tmp_path: Path) -> None:
    db = _store(tmp_path)
    runner = CliRunner()
    for args in (["list", "--db", str(db), "--json"], ["show", "inc-" + "e" * 12, "--db",
                                                       str(db), "--json"]):
        result = runner.invoke(incidents_app, args)
        assert result.exit_code == 0, result.output
        got = orjson.loads(result.stdout.splitlines()[-1])
        assert got["service"] == HOSTILE and got["evidence"]["note"] == HOSTILE


def _hostile_logs(tmp_path: Path) -> list[str]:
    """A scanner hitting a service whose name carries escape sequences, plus a garbage
    line quoting them; and a file of an unknown format whose name carries one."""
    lines = [orjson.dumps({
        "timestamp": f"2026-03-17T09:{c:02d}:{i:02d}Z", "service.name": HOSTILE,
        "http.request.method": "GET", "url.path": f"/scan{c}/p{i}/.env{OSC_TITLE}",
        "http.response.status_code": 404, "http.server.request.duration": 0.01,
        "client.address": f"203.0.113.{c}"}) for c in range(4) for i in range(40)]
    lines.append(f"{{garbage {OSC_TITLE}".encode())
    path = tmp_path / "svc.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    evil = tmp_path / f"evil{OSC_TITLE}.log"
    evil.write_bytes(f"what {OSC_TITLE}\nis this {CSI_CLEAR}\n".encode())
    return [str(path), str(evil)]


def test_replay_on_a_terminal_shows_no_raw_control(tmp_path: Path) -> None:
    logs = _hostile_logs(tmp_path)
    res = run_on_ptys(["replay", *logs, "--no-analysis"], timeout=60)
    out, err = res.stdout.decode(), res.stderr.decode()
    assert res.returncode == 0, err
    assert "\\x1b]0;PWNED\\x07" in out  # the incidents name the service, escaped
    assert "]0;PWNED\x07" not in out + err and "\u202e" not in out + err
    for line in out.splitlines():  # rich's own colours are the only escapes left
        assert RAW.search(re.sub("\x1b\\[[0-9;]*m", "", line)) is None, repr(line)
    assert "evil\\x1b]0;PWNED\\x07.log" in err  # the summary's warning, escaped


def test_scan_summary_escapes_input_names_and_reasons(tmp_path: Path) -> None:
    logs = _hostile_logs(tmp_path)
    (tmp_path / "empty-registry").mkdir()  # no model: signatures only
    res = subprocess.run([sys.executable, "-m", "detector", "scan", *logs, "--models",
                          str(tmp_path / "empty-registry"), "--output", str(tmp_path / "v.jsonl")],
                         capture_output=True, timeout=60)
    err = res.stderr.decode()
    assert res.returncode in (0, 2), err
    assert RAW.search(err.replace("\n", "")) is None, repr(err)
    assert "]0;PWNED\x07" not in err and "evil\\x1b]0;PWNED\\x07.log" in err


def test_error_messages_and_usage_errors_are_one_escaped_line(tmp_path: Path) -> None:
    for args in (["replay", str(tmp_path / f"missing{OSC_TITLE}\n.log")],
                 ["replay", f"--bogus{CSI_CLEAR}"], [f"bogus{OSC_TITLE}"]):
        res = subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True,
                             timeout=60)
        err = res.stderr.decode()
        assert res.returncode == 2, err
        assert err.count("\n") == 1 and RAW.search(err.rstrip("\n")) is None, repr(err)
        assert err.startswith("detector: error: ") and "\\x1b" in err
