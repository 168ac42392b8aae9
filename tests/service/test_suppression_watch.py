"""The service's watch of the suppression file: new rules swap in, bad edits are kept out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from detector.incidents.suppressions import SuppressionError
from detector.service.suppressions import SuppressionWatch

RULE = ('[[suppress]]\nservice = "{svc}"\nreason = "r"\nauthor = "a"\n'
        'expires = "2030-01-01T00:00:00Z"\n')


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        self.lines.append((event, level, fields))


def touch(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a new mtime whatever the clock


def test_changes_are_picked_up_and_bad_edits_keep_the_rules(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    touch(f, RULE.format(svc="a"), 1)
    log = Log()
    w = SuppressionWatch(f, log=log, check_every=5.0)
    shared = w.source
    assert [r.service for r in shared.rules.rules] == ["a"]
    touch(f, RULE.format(svc="b"), 2)
    assert w.poll(now=w.last_check + 1.0) is False  # not due yet
    assert w.poll(force=True) is True
    assert [r.service for r in shared.rules.rules] == ["b"] and w.source is shared
    touch(f, "[[suppress]]\nservice = 'c'\n", 3)  # no reason, author, expires
    assert w.poll(force=True) is False and w.poll(force=True) is False
    assert [r.service for r in shared.rules.rules] == ["b"]
    errors = [ln for ln in log.lines if ln[1] == "error"]
    assert len(errors) == 1 and "suppress[1].expires: required" in errors[0][2]["error"]
    f.unlink()
    assert w.poll(force=True) is False
    assert [r.service for r in shared.rules.rules] == ["b"]
    assert [ln[0] for ln in log.lines if ln[1] == "error"][-1] == "suppressions unreadable"
    touch(f, RULE.format(svc="d"), 4)
    assert w.poll(force=True) is True and [r.service for r in shared.rules.rules] == ["d"]


def test_a_bad_file_at_start_is_a_one_line_start_error(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text("[[suppress]]\nservice = 1\n")
    with pytest.raises(SuppressionError, match=r"suppress\[1\]\.service"):
        SuppressionWatch(f, log=Log())
