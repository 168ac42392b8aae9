"""``train`` then ``scan``: registry contents, output fields, line numbers, injected anomalies."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from detector.cli.analysis_cmds import SCAN_EPILOG, TRAIN_EPILOG, scan_command, train_command
from detector.jobs.scan import scan
from detector.jobs.train import train
from detector.models.registry import ModelRegistry
from tests.analysis.history import T0, line, normal_lines


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("train")
    (d / "history.jsonl").write_bytes(b"".join(normal_lines(4000, 1)) + b"not json at all\n")
    report = train([str(d / "history.jsonl")], d / "models")
    assert report.events == 4000 and report.bad_records == 1 and report.model_rows == 2000
    assert report.routes == 3 and report.evaluation["model_flagged_share"] < 0.01
    return d / "models"


def test_train_publishes_a_complete_version(models: Path) -> None:
    reg = ModelRegistry(models)
    (v,) = reg.versions("request")
    assert reg.current("request") == v
    loaded = reg.load("request")
    assert set(loaded.card["artifacts"]) == {"model.skops", "profiles.json", "routes.state"}
    assert loaded.card["events"] == 4000
    assert loaded.card["data_range"]["first"] == "2026-03-17T09:00:00Z"
    assert loaded.card["feature_schema"]["version"] == 2
    assert "model_score_quantiles" in loaded.card["evaluation"]


def test_scan_reports_injected_requests_with_line_numbers(models: Path, tmp_path: Path) -> None:
    lines = normal_lines(400, 2, T0 + 9000)
    inject = {
        41: line(
            T0 + 9100,
            "POST",
            "/v2/payments",
            body='{"amount": 500, "currency": "EUR", '
            '"capture": true, "customer": "cus_0badc0de", "is_admin": true}',
        ),
        82: line(
            T0 + 9200,
            "POST",
            "/v2/payments",
            body=orjson.dumps(
                {"amount": 500, "currency": "E" * 600, "capture": True, "customer": "cus_1"}
            ).decode(),
        ),
        123: line(T0 + 9300, "GET", "/v1/search", "q=1%27+UNION+SELECT+password+FROM+users--"),
        164: line(
            T0 + 9400,
            "POST",
            "/v2/payments",
            body='{"amount": {"value": 5}, "currency": "EUR", '
            '"capture": true, "customer": "cus_2"}',
        ),
    }
    for no, raw in inject.items():
        lines[no - 1] = raw
    lines.insert(199, b'{"timestamp": "yesterday-ish", \n')  # line 200: bad
    (tmp_path / "today.jsonl").write_bytes(b"".join(lines))
    out = io.BytesIO()
    summary = scan([str(tmp_path / "today.jsonl")], models_dir=models, output=out)
    recs = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert summary.requests == 400 and summary.bad_records == 1
    assert {r["line"] for r in recs} == set(inject)
    by_line = {r["line"]: r for r in recs}
    assert by_line[123]["kind"] == "attack_payload" and by_line[123]["attack_type"] == "sqli"
    for no in (41, 82, 164):
        assert by_line[no]["kind"] == "unusual_payload" and by_line[no]["attack_type"] is None
    assert by_line[41]["reasons"][0].startswith("unknown parameter is_admin")
    assert by_line[82]["reasons"][0] == "currency: length 600 (usual 3)"
    assert by_line[164]["reasons"][0] == "amount: object where int lives"
    r = by_line[41]
    assert r["file"] == str(tmp_path / "today.jsonl") and r["flagged"] is True
    assert r["method"] == "POST" and r["route"] == "/v2/payments" and r["client"] == "198.51.100.9"
    assert r["ts"] == "2026-03-17T11:31:40.000Z" and 0.5 <= r["score"] <= 1.0
    assert summary.flagged == 4 and summary.by_kind == {"attack_payload": 1, "unusual_payload": 3}


def test_scan_all_gives_one_line_per_request(models: Path, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"".join(normal_lines(50, 3)))
    (tmp_path / "b.jsonl").write_bytes(b"\n" + b"".join(normal_lines(30, 4)))
    out = io.BytesIO()
    summary = scan(
        [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")],
        models_dir=models,
        output=out,
        all_requests=True,
    )
    recs = [orjson.loads(x) for x in out.getvalue().splitlines()]
    assert summary.requests == 80 and len(recs) == 80
    assert [r["line"] for r in recs] == list(range(1, 51)) + list(range(2, 32))
    assert recs[0]["route"] == "/v1/search" and recs[2]["route"] == "/v2/payments/{id}"
    assert all(0.0 <= r["score"] <= 1.0 and r["flagged"] is False for r in recs)


def test_scan_without_models_uses_signatures(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_bytes(line(T0, "GET", "/v1/search", "q=<script>alert(1)</script>"))
    out = io.BytesIO()
    summary = scan([str(tmp_path / "x.jsonl")], models_dir=tmp_path / "none", output=out)
    assert summary.model_version is None and summary.by_attack_type == {"xss": 1}


def test_simulated_traffic_train_then_scan(tmp_path: Path) -> None:
    from detector.simulate import simulate

    sim = simulate(tmp_path / "sim", hours=1, seed=4, rate=0.3)
    logs = [str(tmp_path / "sim" / f) for f in sim.files if f.startswith("access-payments")]
    report = train(logs, tmp_path / "models")
    assert report.model_rows > MIN_ROWS
    # take normal payment bodies from the history and bend them
    bodies = []
    for raw in Path(logs[0]).read_bytes().splitlines():
        rec = orjson.loads(raw)
        if (
            rec.get("url.path") == "/v2/payments"
            and rec.get("http.request.method") == "POST"
            and str(rec.get("http.request.body.content", "")).startswith("{")
        ):
            bodies.append(rec)
        if len(bodies) == 40:
            break
    out_lines = []
    bent = {
        0: lambda b: {**b, "is_admin": True},
        1: lambda b: {**b, "currency": "EUR" * 200},
        2: lambda b: {**b, "amount": {"value": 1}},
        3: lambda b: {**b, "amount": 10**18},
        4: lambda b: {**b, "role": "admin", "balance": 1e9},
    }
    for i, rec in enumerate(bodies):
        body = orjson.loads(rec["http.request.body.content"])
        if i % 8 in bent:
            body = bent[i % 8](body)
        out_lines.append(
            orjson.dumps({**rec, "http.request.body.content": orjson.dumps(body).decode()})
        )
    (tmp_path / "probe.jsonl").write_bytes(b"\n".join(out_lines) + b"\n")
    out = io.BytesIO()
    scan([str(tmp_path / "probe.jsonl")], models_dir=tmp_path / "models", output=out)
    flagged = {orjson.loads(x)["line"] for x in out.getvalue().splitlines()}
    expected = {i + 1 for i in range(len(bodies)) if i % 8 in bent}
    assert expected <= flagged and len(flagged - expected) <= 1


MIN_ROWS = 200


def test_cli_commands(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("train", epilog=TRAIN_EPILOG)(train_command)
    app.command("scan", epilog=SCAN_EPILOG)(scan_command)
    runner = CliRunner()
    (tmp_path / "h.jsonl").write_bytes(b"".join(normal_lines(1200, 5)))
    res = runner.invoke(app, ["train", str(tmp_path / "h.jsonl"), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    (tmp_path / "s.jsonl").write_bytes(line(T0, "GET", "/v1/search", "q=lego&debug=1"))
    res = runner.invoke(
        app,
        [
            "scan",
            str(tmp_path / "s.jsonl"),
            "--models",
            str(tmp_path / "m"),
            "--output",
            f"jsonl:{tmp_path / 'out.jsonl'}",
        ],
    )
    assert res.exit_code == 0, res.output
    (rec,) = [orjson.loads(x) for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert rec["reasons"][0].startswith("unknown parameter debug") and rec["line"] == 1
    res = runner.invoke(app, ["scan", str(tmp_path / "s.jsonl"), "--output", "kafka:topic"])
    assert res.exit_code == 2 and "scan writes JSON lines" in res.output
    res = runner.invoke(app, ["scan", str(tmp_path / "missing.jsonl"), "--output", "-"])
    assert res.exit_code == 2 and "cannot read" in res.output
    (tmp_path / "m" / "request" / "current").write_text("20990101T000000Z-00000000\n")
    res = runner.invoke(app, ["scan", str(tmp_path / "s.jsonl"), "--models", str(tmp_path / "m")])
    assert res.exit_code == 2 and "no version" in res.output
    for cmd in ("train", "scan"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "Examples" in res.output
