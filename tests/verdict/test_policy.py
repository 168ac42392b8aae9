"""Verdict policy files: TOML and YAML, durations, route globs, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import ConfigError
from detector.verdict.policy import Policy, load_policy
from detector.verdict.specs import SPECS, effective


def test_toml_and_yaml_give_the_same_policy(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(
        'window = "45m"\ndelay = "90s"\nbaseline = "previous"\nignore_routes = ["GET /health*"]\n'
        'critical = ["error_share"]\n[checks.latency_p95]\ntolerance = 0.5\n')
    (tmp_path / "p.yaml").write_text(
        "window: 45m\ndelay: 90s\nbaseline: previous\nignore_routes: ['GET /health*']\n"
        "critical: [error_share]\nchecks:\n  latency_p95:\n    tolerance: 0.5\n")
    a, b = load_policy(tmp_path / "p.toml"), load_policy(tmp_path / "p.yaml")
    assert a == b
    assert (a.window, a.delay, a.baseline) == (2700.0, 90.0, "previous")
    lat = effective(SPECS["latency_p95"], a)
    assert lat.tolerance == 0.5 and lat.critical is False  # not in the critical list
    assert effective(SPECS["error_share"], a).critical is True


def test_flags_override_the_file(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('window = "45m"\n')
    assert load_policy(tmp_path / "p.toml", window="10m", delay=None).window == 600.0


def test_route_globs() -> None:
    p = Policy(include_routes=["/v2/*"], ignore_routes=["POST /v2/internal/*"])
    assert p.route_included("GET /v2/orders/{id}")
    assert not p.route_included("GET /v1/orders/{id}")
    assert not p.route_included("POST /v2/internal/reindex")


@pytest.mark.parametrize(("text", "message"), [
    ('window = "30s"\n', "window must be at least 60 s"),
    ('baseline = "yesterday"\n', "baseline"),
    ('[checks.nope]\n', "unknown check 'nope'"),
    ('critical = ["nope"]\n', "unknown check 'nope' in critical"),
    ('alpha = 2\n', "alpha"),
    ('colour = "red"\n', "colour"),
])
def test_bad_policies_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "p.toml").write_text(text)
    with pytest.raises(ConfigError, match=message) as exc:
        load_policy(tmp_path / "p.toml")
    assert "\n" not in str(exc.value)
