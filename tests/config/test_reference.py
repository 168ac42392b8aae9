"""The settings reference is generated from the models and current; every command's
--config is read (CONTRACTS §4), even where no setting applies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env={**os.environ, **(env or {})})


def test_configuration_reference_is_current() -> None:
    res = _run("scripts/settings_reference.py", "--check")
    assert res.returncode == 0, res.stderr
    text = (REPO / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    for section in ("[windows]", "[detectors]", "[incidents]", "[service]", "[service.kafka]"):
        assert f"### {section}" in text
    assert "SASL_SSL" in text and "sasl_plain_password_file" in text


@pytest.mark.parametrize("command", [["simulate", "out"], ["evaluate", "labels", "inc"],
                                     ["train", "in.log"], ["scan", "in.log"], ["demo"]])
def test_simulate_and_evaluate_check_their_config(command: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[windows]\nsize_seconds = 1\n")
    res = _run("-m", "detector", *command, "--config", str(bad))
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "windows.size_seconds" in res.stderr


def test_deploy_record_connects_where_the_settings_say(tmp_path: Path) -> None:
    cfg = tmp_path / "detector.toml"
    cfg.write_text('[service]\nbootstrap_servers = "127.0.0.1:1"\n')  # nothing listens there
    args = ("-m", "detector", "deploy", "record", "--service", "s", "--version", "1")
    res = _run(*args, "--config", str(cfg))
    assert res.returncode == 2 and "cannot publish to 127.0.0.1:1:" in res.stderr, res.stderr
    res = _run(*args, env={"DETECTOR_SERVICE__BOOTSTRAP_SERVERS": "127.0.0.1:2"})
    assert res.returncode == 2 and "cannot publish to 127.0.0.1:2:" in res.stderr, res.stderr
