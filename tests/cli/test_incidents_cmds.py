"""``detector incidents list|show`` on a store filled by the sqlite sink."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detector.cli.incidents_cmds import incidents_app, render_show, render_table
from detector.incidents.model import DeploymentRef
from detector.incidents.store import IncidentStore
from detector.sinks.sqlite import SqliteSink
from tests.sinks.incidents import incident, lifecycle

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "incidents.db"
    sink = SqliteSink(str(path))
    dep = DeploymentRef(version="2.32.0", previous_version="2.31.0",
                        deployed_at="2026-03-17T09:06:00Z", seconds_since_deploy=60,
                        suspect=True)
    for inc in [*lifecycle("inc-a00000000001", deployment=dep),
                incident("inc-b00000000002", service="search", kind="latency_regression",
                         detected_at="2026-03-17T10:30:00Z", end="2026-03-17T10:30:00Z")]:
        sink.write(inc)
    sink.close()
    return path


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_list_piped_is_json_lines(db: Path) -> None:
    result = runner.invoke(incidents_app, ["list", "--db", str(db)])
    assert result.exit_code == 0, result.output
    got = lines(result.stdout)
    assert [(g["id"], g["status"]) for g in got] == [("inc-b00000000002", "open"),
                                                      ("inc-a00000000001", "resolved")]


def test_list_filters(db: Path) -> None:
    result = runner.invoke(incidents_app, ["list", "--db", str(db), "--service", "payments",
                                           "--status", "resolved", "--kind", "error_surge",
                                           "--since", "2026-03-17T09:00:00Z", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert [g["id"] for g in lines(result.stdout)] == ["inc-a00000000001"]
    result = runner.invoke(incidents_app, ["list", "--db", str(db), "--status", "active"])
    assert [g["id"] for g in lines(result.stdout)] == ["inc-b00000000002"]


def test_db_from_env(db: Path) -> None:
    result = runner.invoke(incidents_app, ["list"], env={"DETECTOR_INCIDENTS__DB": str(db)})
    assert result.exit_code == 0, result.output
    assert len(lines(result.stdout)) == 2


def test_show_history_as_json_lines(db: Path) -> None:
    result = runner.invoke(incidents_app, ["show", "inc-a00000000001", "--db", str(db)])
    assert result.exit_code == 0, result.output
    got = lines(result.stdout)
    assert [g["status"] for g in got] == ["open", "update", "update", "resolved"]


@pytest.mark.parametrize("args", [
    ["show", "inc-ffffffffffff"],
    ["list", "--kind", "nonsense"],
    ["list", "--status", "closed"],
    ["list", "--since", "yesterday"],
])
def test_input_errors_exit_2_in_one_line(db: Path, args: list[str]) -> None:
    result = runner.invoke(incidents_app, [*args, "--db", str(db)])
    assert result.exit_code == 2
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("detector: error:"), result.stderr


def test_missing_store_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(incidents_app, ["list", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2
    assert "no incident store" in result.stderr


def test_terminal_rendering(db: Path) -> None:
    with IncidentStore(db) as store:
        found = store.list()
        latest, history = store.show("inc-a00000000001")
    for width in (80, 200):  # two lines per incident, then a table
        out = io.StringIO()
        render_table(found, out, width=width)
        text = out.getvalue()
        assert "inc-a00000000001" in text and "latency_regression" in text
        assert "resolved" in text and "5xx rate" in text
    out = io.StringIO()
    render_show(latest, history, out, width=200)
    text = out.getvalue()
    assert "history" in text and "2.32.0" in text and "suspect" in text
    assert text.count("update") >= 2
    out = io.StringIO()
    render_table([], out)
    assert "no incidents" in out.getvalue()


def test_list_columns_line_up_on_a_narrow_terminal(db: Path) -> None:
    with IncidentStore(db) as store:
        found = store.list()
    assert len({i.kind for i in found}) > 1 and len({i.service for i in found}) > 1
    out = io.StringIO()
    render_table(found, out, width=100)
    facts = [ln for ln in out.getvalue().splitlines() if "inc-" in ln]
    assert len(facts) == 2
    assert len({ln.find("inc-") for ln in facts}) == 1, facts  # ids start at one offset
    service_at = {ln.find(i.service) for ln, i in zip(facts, found, strict=True)}
    assert len(service_at) == 1, facts
