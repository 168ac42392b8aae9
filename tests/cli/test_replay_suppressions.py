"""``detector replay --suppressions``: the rules applied from the command line, one worker
or several; a bad file is one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from tests.pipeline.synthetic import traffic
from tests.pipeline.test_suppressions_pipeline import BOT_UA, CRAWLER, _crawl

RULES = """# the search engine's crawler walks old pages: fine
[[suppress]]
service = "pay"
kind = ["scanning"]
client = "66.249.64.0/19"
user_agent = "Googlebot*"
reason = "search crawler"
author = "ops@example.com"
expires = "{expires}"
"""


def _log(path: Path) -> Path:
    lines = []
    for ev in sorted([*traffic(150, rate=6), *_crawl()], key=lambda e: e.ts):
        lines.append(orjson.dumps({
            "timestamp": datetime.fromtimestamp(ev.ts, UTC).isoformat().replace("+00:00", "Z"),
            "service.name": ev.service, "http.request.method": ev.method, "url.path": ev.path,
            "http.response.status_code": ev.status, "http.server.request.duration": ev.duration,
            "client.address": ev.client, "user_agent.original": ev.user_agent}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def replay(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "detector", "replay", *args],
                          capture_output=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_replay_applies_the_rules_and_says_what_it_suppressed(tmp_path: Path,
                                                              workers: str) -> None:
    log = _log(tmp_path / "access.log")
    rules = tmp_path / "s.toml"
    rules.write_text(RULES.format(expires="2026-12-31T00:00:00Z"))
    res = replay(str(log), "--suppressions", str(rules), "--workers", workers)
    assert res.returncode == 0, res.stderr
    incs = [orjson.loads(ln) for ln in res.stdout.splitlines()]
    assert {(i["kind"], i["client"], i.get("suppressed")) for i in incs} == {
        ("scanning", CRAWLER, True)}
    assert b"suppressed: 1 of them (scanning 1): stored, not paged" in res.stderr
    assert BOT_UA.split("/")[0].encode() in res.stdout  # its samples are kept, as stored

    rules.write_text(RULES.format(expires="2026-03-17T09:00:00Z"))  # before the traffic
    res = replay(str(log), "--suppressions", str(rules), "--workers", workers)
    incs = [orjson.loads(ln) for ln in res.stdout.splitlines()]
    assert incs and not any(i.get("suppressed") for i in incs)
    assert b"suppressed:" not in res.stderr


def test_a_bad_suppression_file_is_one_line_exit_2(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    rules = tmp_path / "s.toml"
    rules.write_text('[[suppress]]\nservice = "pay"\nreason = "r"\nauthor = "a"\n'
                     'expires = "soon"\n')
    res = replay(str(log), "--suppressions", str(rules))
    err = res.stderr.decode()
    assert res.returncode == 2 and err.count("\n") == 1
    assert "suppress[1].expires: 'soon' is no ISO time" in err
