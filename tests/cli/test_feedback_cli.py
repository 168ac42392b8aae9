"""``detector incidents ack|resolve|false-positive``: feedback kept beside the incidents."""

from __future__ import annotations

import io
import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from detector.cli.app import app
from detector.cli.incidents_cmds import render_show
from detector.incidents.feedback import feedback_path, read_feedback
from detector.incidents.store import IncidentStore
from detector.incidents.suppressions import Subject, Suppressions, parse_time
from detector.sinks.sqlite import SqliteSink
from tests.sinks.incidents import incident, lifecycle

runner = CliRunner()
ROUTE_ID, CLIENT_ID = "inc-a00000000001", "inc-c00000000003"


def _incidents() -> list[object]:
    return [*lifecycle(ROUTE_ID),
            incident(CLIENT_ID, kind="scanning", client="2001:db8::66", route="/admin")]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "incidents.db"
    sink = SqliteSink(str(path))
    for inc in _incidents():
        sink.write(inc)  # type: ignore[arg-type]
    sink.close()
    return path


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "incidents.jsonl"
    lines = [orjson.dumps(i.model_dump(mode="json")) + b"\n"  # type: ignore[attr-defined]
             for i in _incidents()]
    path.write_bytes(b"".join(lines))
    return path


def invoke(*args: str) -> tuple[int, str]:
    got = runner.invoke(app, ["incidents", *args])
    return got.exit_code, got.output


@pytest.mark.parametrize("store", ["db", "jsonl"])
def test_feedback_round_trip(store: str, request: pytest.FixtureRequest,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "alice")
    path: Path = request.getfixturevalue(store)
    before = path.read_bytes() if store == "jsonl" else None
    assert invoke("ack", ROUTE_ID, "--store", str(path), "--note", "on it")[0] == 0
    assert invoke("resolve", ROUTE_ID, "--store", str(path), "--author", "bob")[0] == 0
    assert invoke("false-positive", CLIENT_ID, "--store", str(path), "--note", "pentest")[0] == 0
    got = read_feedback(path, ROUTE_ID)
    assert [(f.action, f.note, f.author) for f in got] == [("ack", "on it", "alice"),
                                                           ("resolve", "", "bob")]
    assert [f.action for f in read_feedback(path, CLIENT_ID)] == ["false_positive"]
    if before is not None:  # the incident stream itself is untouched
        assert path.read_bytes() == before and feedback_path(path).exists()
    code, out = invoke("ack", "inc-ffffffffffff", "--store", str(path))
    assert code == 2 and "no incident 'inc-ffffffffffff'" in out


def test_show_tells_the_feedback_and_the_store_still_reads(db: Path) -> None:
    assert invoke("ack", ROUTE_ID, "--db", str(db), "--note", "rolling back")[0] == 0
    with IncidentStore(db) as store:
        latest, history = store.show(ROUTE_ID)
        assert len(store.list()) == 2
    buf = io.StringIO()
    render_show(latest, history, buf, width=200, feedback=read_feedback(db, ROUTE_ID))
    assert "ack by" in buf.getvalue() and "rolling back" in buf.getvalue()
    code, out = invoke("show", ROUTE_ID, "--db", str(db))  # piped: the incident lines only
    assert code == 0 and [json.loads(ln)["id"] for ln in out.splitlines()] == [ROUTE_ID] * 4


def test_an_incident_without_feedback_has_none(db: Path) -> None:
    assert read_feedback(db, ROUTE_ID) == [] and read_feedback(db, "inc-nothing") == []


@pytest.mark.parametrize(("which", "scope"), [(ROUTE_ID, "route"), (CLIENT_ID, "client")])
def test_false_positive_suppress_writes_the_rule_covering_it(db: Path, tmp_path: Path,
                                                            which: str, scope: str) -> None:
    rules = tmp_path / "suppressions.toml"
    code, out = invoke("false-positive", which, "--db", str(db), "--suppress",
                       "--expires", "2030-01-01T00:00:00Z", "--suppressions", str(rules))
    assert code == 0 and "added rule 1" in out
    (rule,) = Suppressions.load(rules).rules
    assert rule.learn and rule.expires == parse_time("2030-01-01T00:00:00Z")
    with IncidentStore(db) as store:
        inc = store.show(which)[0]
    assert rule.kinds == frozenset({inc.kind}) and rule.service == inc.service
    assert getattr(rule, scope) == getattr(inc, scope)
    t = parse_time(inc.start)
    assert Suppressions.load(rules).suppresses(
        Subject(inc.service, inc.kind, inc.route, inc.client, t, t))


def test_a_bad_expiry_records_nothing(db: Path, tmp_path: Path) -> None:
    code, out = invoke("false-positive", ROUTE_ID, "--db", str(db), "--suppress",
                       "--expires", "whenever", "--suppressions", str(tmp_path / "s.toml"))
    assert code == 2 and "--expires" in out
    assert read_feedback(db, ROUTE_ID) == [] and not (tmp_path / "s.toml").exists()
