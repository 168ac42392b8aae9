"""``detector suppress add|list|remove``: the file edited in place, valid, in order."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detector.cli.app import app
from detector.cli.suppress_cmds import render_list
from detector.incidents.suppressions import Suppressions, parse_time

runner = CliRunner()


def suppress(*args: str) -> tuple[int, str]:
    got = runner.invoke(app, ["suppress", *args])
    return got.exit_code, got.output


def add_three(f: Path) -> None:
    assert suppress("add", "-f", str(f), "--service", "catalog", "--kind", "traffic_spike",
                    "--kind", "traffic_drop", "--route", "/v1/reports/export",
                    "--reason", "nightly export", "--author", "ops@example.com",
                    "--expires", "2026-12-31T00:00:00Z")[0] == 0
    assert suppress("add", "-f", str(f), "--service", "search", "--client", "66.249.64.0/19",
                    "--user-agent", "Googlebot*", "--reason", "crawler",
                    "--expires", "2026-01-01T00:00:00Z")[0] == 0
    assert suppress("add", "-f", str(f), "--service", "payments", "--start",
                    "2026-03-17T02:00:00Z", "--end", "2026-03-17T03:00:00Z",
                    "--reason", "database migration")[0] == 0


@pytest.mark.parametrize("name", ["s.toml", "s.yaml"])
def test_add_writes_every_field_and_the_file_parses(tmp_path: Path, name: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "alice")
    f = tmp_path / name
    add_three(f)
    s = Suppressions.load(f)
    a, b = s.rules
    assert (a.service, a.kinds, a.route, a.author, a.expires) == (
        "catalog", frozenset({"traffic_spike", "traffic_drop"}), "/v1/reports/export",
        "ops@example.com", parse_time("2026-12-31T00:00:00Z"))
    assert (b.client, b.user_agent, b.author) == ("66.249.64.0/19", "Googlebot*", "alice")
    (m,) = s.maintenance
    assert (m.service, m.reason) == ("payments", "database migration")


def test_a_relative_expiry_counts_from_now(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    assert suppress("add", "-f", str(f), "--service", "a", "--reason", "r",
                    "--expires", "30d")[0] == 0
    import time

    (r,) = Suppressions.load(f).rules
    assert abs(r.expires - (time.time() + 30 * 86400)) < 120


def test_bad_adds_are_one_line_and_leave_the_file_alone(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    add_three(f)
    before = f.read_bytes()
    for args in (["--service", "x", "--reason", "r"],  # no expiry
                 ["--service", "x", "--reason", "r", "--expires", "soon"],
                 ["--service", "x", "--reason", "r", "--expires", "1d", "--client", "10.0.0.999"],
                 ["--service", "x", "--reason", "r", "--expires", "1d", "--kind", "oops"],
                 ["--service", "x", "--reason", "r", "--start", "2026-03-17T02:00:00Z"]):
        code, out = suppress("add", "-f", str(f), *args)
        assert code == 2 and out.count("\n") == 1 and "error" in out, (args, out)
    assert f.read_bytes() == before


def test_list_marks_expired_rules(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    add_three(f)
    code, out = suppress("list", "-f", str(f))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(r["index"], r["service"], r["expired"]) for r in rows] == [
        ("1", "catalog", False), ("2", "search", True), ("m1", "payments", True)]
    buf = io.StringIO()
    buf.isatty = lambda: True  # type: ignore[method-assign]
    render_list(Suppressions.load(f), buf, parse_time("2026-06-01T00:00:00Z"))
    table = buf.getvalue()
    assert table.count("(expired)") == 2 and "sup-" in table and "catalog" in table


def test_remove_by_index_and_id_keeps_comments_and_order(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text("# team rules\n\n")
    add_three(f)
    with f.open("a") as out:
        out.write("# the last one\n")
    assert suppress("add", "-f", str(f), "--service", "orders", "--reason", "r",
                    "--expires", "2026-12-31T00:00:00Z")[0] == 0
    ids = [r.id for r in Suppressions.load(f).rules]
    code, out = suppress("remove", "-f", str(f), "2")
    assert code == 0 and ids[1] in out
    text = f.read_text()
    assert "# team rules" in text and "# the last one" in text and "crawler" not in text
    assert [r.id for r in Suppressions.load(f).rules] == [ids[0], ids[2]]
    assert suppress("remove", "-f", str(f), ids[2])[0] == 0
    assert suppress("remove", "-f", str(f), "m1")[0] == 0
    s = Suppressions.load(f)
    assert [r.id for r in s.rules] == [ids[0]] and s.maintenance == ()
    code, out = suppress("remove", "-f", str(f), "sup-00000000")
    assert code == 2 and "no rule 'sup-00000000'" in out


def test_the_file_comes_from_the_service_setting(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "rules.toml"
    monkeypatch.setenv("DETECTOR_SERVICE__SUPPRESSIONS", str(f))
    assert suppress("add", "--service", "a", "--reason", "r", "--expires", "1d")[0] == 0
    assert len(Suppressions.load(f).rules) == 1


def test_a_maintenance_window_by_its_length(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    code, out = suppress("add", "-f", str(f), "-s", "pay", "-r", "migration",
                         "--start", "2026-03-17T02:00Z", "--for", "90m")
    assert code == 0, out
    (m,) = Suppressions.load(f).maintenance
    assert (m.start, m.end) == (parse_time("2026-03-17T02:00:00Z"),
                                parse_time("2026-03-17T03:30:00Z"))
    code, out = suppress("add", "-f", str(f), "-s", "pay", "-r", "x", "--start",
                         "2026-03-17T02:00Z", "--for", "1h", "--end", "2026-03-17T05:00Z")
    assert code == 2 and "--end or --for" in out
