"""scripts/eval_verdicts.py: scoring a record against expected.json, and a run on quiet services."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_verdicts",
                                                  ROOT / "scripts" / "eval_verdicts.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _expected(verdict: str, route: str | None = None, checks: tuple[str, ...] = ()
              ) -> dict[str, Any]:
    return {"scenario": "s", "kind": "k", "verdict": verdict, "route": route,
            "checks": list(checks), "mode": "previous"}


def _record(verdict: str, *failing: tuple[str, str]) -> dict[str, Any]:
    checks = [{"check": c, "route": r, "result": "fail"} for c, r in failing]
    checks.append({"check": "latency_p95", "route": "GET /x", "result": "pass"})
    return {"verdict": verdict, "score": 10, "windows": {"mode": "previous"}, "checks": checks}


def test_a_fail_counts_only_when_a_failing_check_names_the_route_and_the_change() -> None:
    score = _script().score
    want = _expected("fail", "GET /v1/orders/{order_id}/", ("error_share",))
    right = score(want, _record("fail", ("error_share", "*"),
                                ("error_share", "GET /v1/orders/{id}")), 1)
    assert right.correct and right.named and right.failing[0] == "error_share *"
    wrong_route = score(want, _record("fail", ("error_share", "POST /v1/orders/{id}")), 1)
    wrong_check = score(want, _record("fail", ("latency_p95", "GET /v1/orders/{id}")), 1)
    assert not wrong_route.correct and not wrong_check.correct
    assert wrong_route.named is False and not wrong_route.harmless_failed


def test_harmless_deploys_failed_are_told_apart_from_other_mistakes() -> None:
    script = _script()
    failed = script.score(_expected("pass"), _record("fail", ("request_rate", "GET /")), 1)
    marginal = script.score(_expected("pass"), _record("marginal"), 3)
    quiet = script.score(_expected("inconclusive"), _record("pass"), 0)
    assert failed.harmless_failed and not marginal.harmless_failed
    assert not (failed.correct or marginal.correct or quiet.correct)
    tot = script.totals([failed, marginal, quiet])
    assert (tot["correct"], tot["harmless"], tot["harmless_failed"]) == (0, 2, 1)
    assert tot["accepted"] is False


def test_without_a_record_the_exit_code_is_the_verdict() -> None:
    score = _script().score
    assert score(_expected("inconclusive"), None, 4).correct
    crashed = score(_expected("fail", "GET /", ("error_share",)), None, 2, note="bad input")
    assert crashed.got == "error (exit 2)" and not crashed.correct and crashed.note


@pytest.mark.slow
def test_a_run_on_three_quiet_services(tmp_path: Path) -> None:
    names = "lowtraffic-partners,lowtraffic-ledger,lowtraffic-broken-ledger"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "eval_verdicts.py"),
                           "--out", str(tmp_path), "--only", names, "--workers", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=240, check=False)
    result = json.loads((tmp_path / "tune" / "results.json").read_text())
    outcomes = {o["name"]: o for o in result["outcomes"]}
    assert sorted(outcomes) == sorted(names.split(","))
    for name, o in outcomes.items():
        expected = json.loads((tmp_path / "tune" / name / "expected.json").read_text())
        record = json.loads((tmp_path / "tune" / name / "record.json").read_text())
        assert (o["expected"], o["got"]) == (expected["verdict"], record["verdict"])
        assert o["correct"] == (o["got"] == o["expected"] and o["named"] is not False)
        assert name in proc.stdout
    # Quiet services are never passed; the one failing half its requests is failed by name.
    assert all(o["got"] != "pass" for o in outcomes.values())
    broken = outcomes["lowtraffic-broken-ledger"]
    assert broken["got"] == "fail" and broken["named"]
    assert proc.returncode == (0 if result["totals"]["accepted"] else 1), proc.stderr
