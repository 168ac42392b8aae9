"""Every ``--help`` at 80 columns, usage errors and shell completion (issue 8, item 17)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from detector.cli.app import app
from detector.decoding import FORMATS
from detector.sinks.registry import SCHEMES

# CONTRACTS §4: the sink specs.
CONTRACT_SINKS = ("stdout", "jsonl:PATH", "sqlite:PATH", "kafka:TOPIC", "webhook:URL",
                  "slack:URL", "alertmanager:URL", "pagerduty:ROUTING_KEY")
PY_TYPES = re.compile(r"<(bool|str|int|float|path|file|directory|list\[[^>]*\]|int range|"
                      r"float range)>")
SGR = re.compile("\x1b\\[[0-9;]*m")
runner = CliRunner()


def _paths(cmd: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(prefix, cmd)]
    for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
        found.extend(_paths(sub, (*prefix, name)))
    return found


COMMANDS = _paths(typer.main.get_command(app))
LEAVES = [(p, c) for p, c in COMMANDS if not getattr(c, "commands", None)]


def render(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return SGR.sub("", result.stdout)


def flat(text: str) -> str:
    """The help's words in order, without the boxes and line breaks around them."""
    return " ".join(text.replace("│", " ").split())


def _source_texts(cmd: Any) -> list[str]:
    texts = [cmd.help or "", cmd.epilog or ""]
    texts.extend(getattr(p, "help", None) or "" for p in cmd.params)
    return texts


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=lambda v: " ".join(v) or "detector"
                         if isinstance(v, tuple) else "")
def test_help_renders_cleanly_at_80_columns(path: tuple[str, ...], cmd: Any) -> None:
    text = render(path)
    assert PY_TYPES.search(text) is None, PY_TYPES.search(text)
    for line in text.splitlines():
        assert len(line) <= 80 and "…" not in line, line  # nothing cut
    words = flat(text)
    # Bracketed words written in the help ([service], [default: ...]) are shown, not
    # taken for rich markup and dropped.
    for source in _source_texts(cmd):
        for word in re.findall(r"\\?\[([A-Za-z_][\w.:-]*)\]", source):
            assert f"[{word}]" in words, (word, path)
    # Each example stays on one line.
    for source in [cmd.epilog or ""]:
        for example in re.findall(r"^\s*((?:detector|zcat) .*?)(?:\\n)?$", source, re.M):
            assert any(example.strip() in line for line in text.splitlines()), example


def test_every_command_has_examples() -> None:
    for path, _ in LEAVES:
        assert "Examples:" in render(path), path


def test_sink_option_lists_every_sink_kind_with_its_default() -> None:
    assert set(SCHEMES) == {s.partition(":")[0] for s in CONTRACT_SINKS}
    for path in (("replay",), ("run",)):
        words = flat(render(path))
        for kind in CONTRACT_SINKS:
            assert kind in words, (path, kind)
        assert re.search(r"--sink SPEC .*?\[default: \(?stdout\)?\]", words), path


def test_format_option_lists_every_format() -> None:
    for path in (("replay",), ("scan",), ("train",)):
        words = flat(render(path))
        assert "--format FORMAT" in words
        for fmt in ("auto", *FORMATS):
            assert re.search(rf"\b{fmt}\b", words), (path, fmt)


def test_run_shows_the_service_defaults() -> None:
    from detector.service.config import ServiceSettings

    defaults = ServiceSettings()
    words = flat(render(("run",)))
    for flag, value in (("--bootstrap-servers", defaults.bootstrap_servers),
                        ("--topic", defaults.topics[0]),
                        ("--deployments-topic", defaults.deployments_topic),
                        ("--group-id", defaults.group_id),
                        ("--dead-letter-topic", defaults.dead_letter_topic)):
        assert re.search(rf"{flag} \S+ .*?\[default: \(?{re.escape(str(value))}\)?\]",
                         words), flag
    assert "[service] section" in words


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args", [
    ["replay", "--bogus"],  # unknown option
    ["replay", "--workers", "many"],  # bad value
    ["incidents", "show"],  # missing argument
    ["nonsense"],  # unknown command
    ["replay", "--format"],  # option without its value
])
def test_usage_errors_are_one_line_exit_2(args: list[str]) -> None:
    res = _cli(*args)
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("detector: error: "), res.stderr
    assert "╭" not in res.stderr and "Traceback" not in res.stderr


def test_shell_completion_is_enabled() -> None:
    words = flat(render(()))
    assert "--install-completion" in words and "--show-completion" in words
    res = _cli("--show-completion", "bash",
               env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert res.returncode == 0 and "_DETECTOR_COMPLETE" in res.stdout, res.stderr
    res = _cli(env={"_DETECTOR_COMPLETE": "complete_bash", "COMP_WORDS": "detector repl",
                    "COMP_CWORD": "1"})
    assert res.stdout.split() == ["replay"], res.stdout + res.stderr
