"""``detector releases list|show|verify`` over a directory of release records (CONTRACTS §4, §6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from detector.cli.app import app
from detector.verdict.record import KEY_ENV, KEY_FILE_ENV, dumps, read_record, seal, write_record
from tests.verdict.records import KEY, sample_record

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


@pytest.fixture
def releases(tmp_path: Path) -> Path:
    root = tmp_path / "releases"
    write_record(root, seal(sample_record(), KEY))
    write_record(root, seal(sample_record(version="2.31.0", verdict="pass", score=97,
                                          deployed_at="2026-03-16T09:00:00Z", checks=[]), KEY))
    write_record(root, seal(sample_record(service="search", version="1.4.0", score=60,
                                          verdict="inconclusive"), KEY))
    return root


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "record.key"
    path.write_bytes(KEY + b"\n")
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["releases", *args], env={"COLUMNS": "100", **(env or {})})


def one_line_error(result: Any, code: int = 2) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("detector: error: "), \
        result.stderr
    assert "Traceback" not in result.stderr
    return str(result.stderr)


# -- list ------------------------------------------------------------------------------


def test_list_is_a_table_sorted_by_service_then_deploy(releases: Path) -> None:
    result = invoke("list", str(releases))
    assert result.exit_code == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["service", "version", "deployed", "verdict", "score", "failing", "sha256"]
    assert [r[:6] for r in rows[1:]] == [
        ["payments", "2.31.0", "2026-03-16T09:00:00Z", "pass", "97", "0"],
        ["payments", "2.32.0", "2026-03-17T09:06:00Z", "fail", "12", "1"],
        ["search", "1.4.0", "2026-03-17T09:06:00Z", "inconclusive", "60", "1"]]
    digest = read_record(releases / "search" / "1.4.0.json")["digest"]
    assert rows[3][6] == digest.removeprefix("sha256:")[:12]


def test_list_json_lines_and_service_filter(releases: Path) -> None:
    result = invoke("list", str(releases), "--json", "--service", "payments")
    assert result.exit_code == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(g["version"], g["verdict"], g["failing"]) for g in got] == [
        ("2.31.0", "pass", 0), ("2.32.0", "fail", 1)]
    assert got[1]["digest"] == read_record(releases / "payments" / "2.32.0.json")["digest"]
    assert got[1]["path"] == str(releases / "payments" / "2.32.0.json")


def test_list_defaults_to_releases_in_the_working_directory(
        releases: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(releases.parent)
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3


def test_list_of_an_empty_directory_says_so(tmp_path: Path) -> None:
    result = invoke("list", str(tmp_path))
    assert result.exit_code == 0 and result.stdout.strip() == "no release records"


def test_list_of_a_missing_directory_is_one_line_exit_2(tmp_path: Path) -> None:
    err = one_line_error(invoke("list", str(tmp_path / "nowhere")))
    assert f"cannot read {tmp_path / 'nowhere'}: No such file or directory" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert "Not a directory" in one_line_error(invoke("list", str(blocker)))


def test_list_shows_the_readable_records_and_fails_on_the_others(releases: Path) -> None:
    bad = releases / "payments" / "2.33.0.json"
    bad.write_bytes(b"{truncated")
    result = invoke("list", str(releases), "--json")
    assert result.exit_code == 2
    assert len(result.stdout.splitlines()) == 3
    warning, error = result.stderr.splitlines()
    assert warning.startswith(f"detector: warning: {bad}: not valid JSON")
    assert error == (f"detector: error: 1 record file(s) under {releases} could not be read "
                     "(see above)")


# -- show ------------------------------------------------------------------------------


def test_show_lists_each_check_that_did_not_pass(releases: Path) -> None:
    result = invoke("show", "payments", "2.32.0", str(releases))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("payments 2.32.0  FAIL  score 12\n")
    for text in ["2026-03-17T08:34:00Z .. 2026-03-17T09:04:00Z  41,230 requests",
                 "40,112 requests", "1 fail, 1 marginal, 1 inconclusive, 1 pass",
                 "not evaluated attack_findings", "(matches the content)",
                 "FAIL  error_share  POST /v2/payments/{id}/refunds  critical",
                 "baseline 0.004  candidate 0.118  interval [0.09, 0.14]  MDE 0.01",
                 "p_value 1e-12", "incidents inc-7f3a9c2e41d0",
                 "MARGINAL  latency_p95  whole service", "needed_requests 5000"]:
        assert text in out, text
    assert "request_rate" not in out  # a passing check is not shown
    assert out.index("FAIL  error_share") < out.index("MARGINAL") < out.index("INCONCLUSIVE")


def test_show_by_path_and_json_is_the_file(releases: Path) -> None:
    path = releases / "payments" / "2.32.0.json"
    result = invoke("show", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.encode() == path.read_bytes()
    assert invoke("show", str(path)).stdout == invoke(
        "show", "payments", "2.32.0", str(releases)).stdout


def test_show_says_when_the_digest_does_not_match(releases: Path) -> None:
    path = releases / "payments" / "2.31.0.json"
    record = read_record(path)
    record["score"] = 100
    path.write_bytes(dumps(record) + b"\n")
    assert "(does NOT match the content" in invoke("show", str(path)).stdout


def test_show_of_a_missing_record_is_one_line_exit_2(releases: Path, tmp_path: Path) -> None:
    err = one_line_error(invoke("show", "payments", "9.9.9", str(releases)))
    assert "no record of payments 9.9.9" in err
    assert "is a directory" in one_line_error(invoke("show", str(releases)))
    assert "cannot read" in one_line_error(invoke("show", str(tmp_path / "x.json")))
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert "not a JSON object" in one_line_error(invoke("show", str(bad)))


def test_show_escapes_what_the_logs_put_in_a_record(tmp_path: Path) -> None:
    rec = sample_record()
    rec["checks"][0]["route"] = "GET /x\x1b]0;owned\x07[bold]y\u202e"
    rec["checks"][0]["incidents"] = ["inc-\x1b[2J"]
    path = write_record(tmp_path, seal(rec, None))
    out = invoke("show", str(path)).stdout
    assert "\x1b" not in out and "\u202e" not in out
    assert "GET /x\\x1b]0;owned\\x07[bold]y\\u202e" in out
    assert "inc-\\x1b[2J" in out


# -- verify ----------------------------------------------------------------------------


def test_verify_with_the_key_from_a_file_or_the_environment(releases: Path,
                                                            key_file: Path) -> None:
    result = invoke("verify", str(releases), "--key-file", str(key_file))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout == "verified 3 release records (digests and signatures)\n"
    result = invoke("verify", str(releases), env={KEY_ENV: KEY.decode()})
    assert result.exit_code == 0, result.stdout + result.stderr
    result = invoke("verify", str(releases), env={KEY_FILE_ENV: str(key_file)})
    assert result.exit_code == 0, result.stdout + result.stderr


def test_a_tampered_record_fails_naming_its_path(releases: Path, key_file: Path) -> None:
    path = releases / "payments" / "2.32.0.json"
    record = read_record(path)
    record["checks"][0]["candidate"] = 0.004  # the failing check made harmless
    path.write_bytes(dumps(record) + b"\n")
    result = invoke("verify", str(releases), "--key-file", str(key_file))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"FAILED {path}: digest mismatch: recorded {record['digest'][:19]}..., content gives "
        f"{seal(record, None)['digest'][:19]}...; signature mismatch: another key, or the "
        "record changed after it was signed"]
    assert result.stderr == "detector: error: 1 of 3 release records failed verification\n"


def test_a_record_resealed_without_the_key_fails(releases: Path, key_file: Path) -> None:
    path = releases / "payments" / "2.32.0.json"
    forged = seal({**read_record(path), "verdict": "pass"}, None)  # digest redone, unsigned
    path.write_bytes(dumps(forged) + b"\n")
    result = invoke("verify", str(releases), "--key-file", str(key_file))
    assert result.exit_code == 1
    assert result.stdout == (f"FAILED {path}: not signed, but a key was given: it was never "
                             "signed, or its signature was removed\n")


def test_signed_records_without_a_key_are_not_verified(releases: Path) -> None:
    result = invoke("verify", str(releases))
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 3
    assert all("the signature cannot be checked" in line for line in result.stdout.splitlines())


def test_unsigned_records_verify_by_digest_and_files_can_be_named(tmp_path: Path) -> None:
    a = write_record(tmp_path, seal(sample_record(), None))
    b = write_record(tmp_path, seal(sample_record(version="2.31.0"), None))
    result = invoke("verify", str(a), str(b), str(tmp_path))  # each file verified once
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout == "verified 2 release records (digests only: no key given)\n"


def test_a_record_copied_to_another_records_path_fails(releases: Path, key_file: Path) -> None:
    old, new = releases / "payments" / "2.31.0.json", releases / "payments" / "2.32.0.json"
    new.write_bytes(old.read_bytes())  # the passing record over the failing one
    result = invoke("verify", str(releases), "--key-file", str(key_file))
    assert result.exit_code == 1
    assert result.stdout == (f"FAILED {new}: holds the record of 'payments' '2.31.0', "
                             f"which belongs at {old}\n")


def test_verify_input_errors_are_one_line_exit_2(tmp_path: Path, releases: Path) -> None:
    assert "cannot read" in one_line_error(invoke("verify", str(tmp_path / "nowhere")))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert f"no release records in {empty}" in one_line_error(invoke("verify", str(empty)))
    short = tmp_path / "short.key"
    short.write_text("abc")
    err = one_line_error(invoke("verify", str(releases), "--key-file", str(short)))
    assert "at least 16 bytes" in err
    err = one_line_error(invoke("verify", str(releases), "--key-file", str(tmp_path / "no.key")))
    assert "--key-file: cannot read" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_an_unreadable_directory_is_one_line_exit_2(releases: Path) -> None:
    (releases / "payments").chmod(0)
    try:
        err = one_line_error(invoke("verify", str(releases)))
        assert "Permission denied" in err
    finally:
        (releases / "payments").chmod(0o755)


def test_exit_codes_from_the_installed_command(releases: Path, key_file: Path) -> None:
    def run(*args: str) -> int:
        env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, KEY_FILE_ENV)}
        return subprocess.run([sys.executable, "-m", "detector", "releases", *args],
                              capture_output=True, timeout=60, env=env).returncode

    assert run("verify", str(releases), "--key-file", str(key_file)) == 0
    (releases / "search" / "1.4.0.json").write_bytes(b'{"schema": 1}\n')
    assert run("verify", str(releases), "--key-file", str(key_file)) == 1
    assert run("verify", str(releases / "nowhere")) == 2


def test_show_writes_shares_in_percent_and_ratios_without_a_unit(tmp_path: Path) -> None:
    base = {"result": "fail", "critical": False, "incidents": []}
    rec = sample_record(checks=[
        {**base, "check": "error_share", "route": "GET /a", "baseline": 0.004,
         "candidate": 0.118, "interval": [0.09, 0.14], "mde": 0.01, "unit": "share",
         "detail": "5xx share up on one route"},
        {**base, "check": "latency_p95", "route": "GET /b", "baseline": 0.2, "candidate": 0.5,
         "interval": [2.1, 2.9], "mde": 0.25, "unit": "seconds", "change_type": "ratio"}])
    out = invoke("show", str(write_record(tmp_path, seal(rec, None)))).stdout
    assert "      baseline 0.4%  candidate 11.8%  interval [9%, 14%]  MDE 1%\n" in out
    assert "      5xx share up on one route\n" in out
    assert "      baseline 0.2 s  candidate 0.5 s  interval [2.1, 2.9]  MDE 0.25\n" in out


@pytest.mark.slow
def test_records_of_detector_verdict_verify_and_repeat_byte_for_byte(tmp_path: Path) -> None:
    from detector.simulate import simulate

    sim = tmp_path / "sim"
    simulate(sim, hours=3, seed=3, rate=0.3)
    logs = sorted(sim.glob("access-orders.*"))
    args = ["verdict", "--service", "orders", "--version", "4.2.0", "--logs", str(logs[0]),
            "--deployments", str(sim / "deployments.jsonl")]
    first = runner.invoke(app, [*args, "--record", str(tmp_path / "a"), "--json"])
    again = runner.invoke(app, [*args, "--record", str(tmp_path / "b")],
                          env={KEY_ENV: KEY.decode()})
    assert first.exit_code in (0, 1, 3, 4) and again.exit_code == first.exit_code, first.stderr
    a, b = tmp_path / "a" / "orders" / "4.2.0.json", tmp_path / "b" / "orders" / "4.2.0.json"
    assert first.stdout.encode() == a.read_bytes()  # --json prints the record written
    assert read_record(a)["digest"] == read_record(b)["digest"]  # the signature aside
    assert invoke("verify", str(tmp_path / "a")).exit_code == 0
    assert invoke("verify", str(tmp_path / "b"), env={KEY_ENV: KEY.decode()}).exit_code == 0
    assert invoke("verify", str(tmp_path / "b")).exit_code == 1  # signed, no key
