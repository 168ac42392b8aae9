"""``detector verdict``: exit codes, the report, --json, --record, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from detector.cli.app import app
from detector.verdict.record import verify
from tests.verdict.synth import gen, write_otel

runner = CliRunner()


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("verdict-logs")
    return {name: write_otel(gen(effect, rate=rate), d / f"{name}.log")
            for name, effect, rate in (("errors", "errors", 300), ("clean", "none", 300),
                                       ("thin", "none", 5))}


def verdict(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["verdict", "--service", "shop", *args])
    return r.exit_code, r.stdout, r.stderr


def test_fail_is_exit_1_and_names_route_check_and_numbers(logs: dict[str, Path]) -> None:
    code, out, _ = verdict("--version", "1.1", "--logs", str(logs["errors"]), "--no-analysis")
    assert code == 1
    assert out.startswith("FAIL  shop 1.1 (after 1.0)")
    line = next(ln for ln in out.splitlines() if "POST /v1/orders" in ln)
    assert "error_share (critical)" in line and "->" in line and "MDE" in line and "pp" in line
    assert "not evaluated: attack_findings" in out


def test_pass_is_exit_0_and_inconclusive_exit_4(logs: dict[str, Path]) -> None:
    assert verdict("--version", "1.1", "--logs", str(logs["clean"]))[0] == 0
    code, out, _ = verdict("--version", "1.1", "--logs", str(logs["thin"]))
    assert code == 4
    assert "INCONCLUSIVE" in out and "would be needed" in out


def test_json_and_record_are_the_same_sealed_record(logs: dict[str, Path],
                                                    tmp_path: Path) -> None:
    code, out, err = verdict("--version", "1.1", "--logs", str(logs["errors"]), "--json",
                             "--record", str(tmp_path), "--no-analysis")
    assert code == 1
    rec = orjson.loads(out)
    assert rec["verdict"] == "fail" and rec["digest"].startswith("sha256:")
    assert verify(rec, None) == []
    on_disk = orjson.loads((tmp_path / "shop" / "1.1.json").read_bytes())
    assert on_disk == rec
    assert "record written to" in err
    r = runner.invoke(app, ["releases", "verify", str(tmp_path)])
    assert r.exit_code == 0, r.output


def test_a_policy_file_sets_the_window(logs: dict[str, Path], tmp_path: Path) -> None:
    pol = tmp_path / "shop.yaml"
    pol.write_text("window: 10m\ndelay: 0s\nchecks:\n  error_share:\n    tolerance: 0.5\n")
    code, out, _ = verdict("--version", "1.1", "--logs", str(logs["errors"]), "--policy",
                           str(pol), "--json", "--no-analysis")
    rec = orjson.loads(out)
    assert rec["policy"]["window"] == 600.0
    assert rec["windows"]["candidate"] == ["2026-03-08T22:01:00Z", "2026-03-08T22:11:00Z"]
    assert not any(c["check"] == "error_share" and c["result"] == "fail" for c in rec["checks"])
    assert code in (0, 3)


@pytest.mark.parametrize(("args", "message"), [
    (["--version", "9.9"], "no deployment of shop 9.9"),
    (["--version", "1.1", "--window", "soon"], "window"),
    (["--version", "1.1", "--baseline", "yesterday"], "--baseline"),
    (["--version", "1.1", "--bootstrap-servers", "127.0.0.1:1"], "either as --logs"),
])
def test_input_errors_are_one_line_exit_2(logs: dict[str, Path], args: list[str],
                                          message: str) -> None:
    code, _, err = verdict(*args, "--logs", str(logs["clean"]))
    assert code == 2
    assert err.startswith("detector: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_bad_policy_file_is_exit_2(logs: dict[str, Path], tmp_path: Path) -> None:
    pol = tmp_path / "p.toml"
    pol.write_text('[checks.error_rate]\ntolerance = 1\n')
    code, _, err = verdict("--version", "1.1", "--logs", str(logs["clean"]), "--policy", str(pol))
    assert code == 2 and "unknown check 'error_rate'" in err
