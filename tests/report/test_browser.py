"""The report in a real browser: headless Chromium (Debian's package) renders the report
of a small simulation; every incident and deploy marker is in its DOM, the timelines have
drawn lines, the console stays silent and a screenshot is taken.

`make test` installs Chromium when CI=true; elsewhere the test skips without it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from detector.report.data import anchor
from detector.report.inputs import ts
from tests.report.test_page import Tags

REPO = Path(__file__).resolve().parents[2]
SEED = "61003"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing in CI: `make test` installs it (apt-get) when "
                        "CI=true")
        pytest.skip("chromium not installed (apt-get install chromium; `make test` installs "
                    "it when CI=true)")
    return found


def _detector(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "detector", *args], check=True, cwd=REPO,
                   capture_output=True, timeout=600)


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         *args], capture_output=True, text=True, timeout=180)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Refused to" in line]


@pytest.mark.slow
def test_the_report_renders_in_chromium(tmp_path: Path) -> None:
    chromium = _chromium()
    sim = tmp_path / "sim"
    _detector("simulate", str(sim), "--hours", "2", "--seed", SEED, "--rate", "0.25",
              "--start", "2026-03-20T00:00:00Z")
    logs = sorted(str(p) for p in sim.glob("*.log"))
    deploys = sim / "deployments.jsonl"
    incidents = tmp_path / "incidents.jsonl"
    _detector("replay", *logs, "--deployments", str(deploys), "--sink", f"jsonl:{incidents}")
    html = tmp_path / "report.html"
    _detector("report", str(incidents), *logs, "--deployments", str(deploys), "--out",
              str(html))
    url = html.as_uri()

    dom = _browser(chromium, tmp_path / "profile", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console(dom.stderr) == []
    tags = Tags()
    tags.feed(dom.stdout)
    found = tags.tags

    ids = {json.loads(line)["id"] for line in incidents.read_text().splitlines()}
    assert ids, "the simulation should raise incidents"
    sections = {a.get("id") for t, a in found if t == "section"}
    spans = {a.get("data-id") for t, a in found if t == "a" and a.get("class") == "incident"}
    assert {anchor(i) for i in ids} <= sections
    assert ids <= spans  # each incident shaded on its service's timeline, linking down

    marks = {(a.get("data-service"), a.get("data-version")) for t, a in found
             if t == "g" and "deploy" in (a.get("class") or "")}
    end = max(ts(json.loads(line)["end"]) for line in incidents.read_text().splitlines())
    for line in deploys.read_text().splitlines():
        d = json.loads(line)
        if ts(d["timestamp"]) <= end:  # the logs reach that far
            assert (d["service.name"], d["service.version"]) in marks, d

    timelines = [a for t, a in found if t == "svg" and a.get("class") == "timeline"]
    assert len(timelines) == 5
    lines = [a.get("d") or "" for t, a in found if t == "path" and "ln" in (a.get("class") or "")]
    assert len(lines) >= 5 * 5
    assert all(len(re.findall(r"-?\d+", d)) >= 20 for d in lines[:25])  # points drawn

    shot = tmp_path / "report.png"
    res = _browser(chromium, tmp_path / "profile2", "--window-size=1100,1400",
                   f"--screenshot={shot}", url)
    assert res.returncode == 0, res.stderr[-2000:]
    assert _console(res.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # drawn, not blank
