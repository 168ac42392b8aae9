"""Configuration precedence: defaults < config file < DETECTOR_* environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import ConfigError, load_settings
from detector.service.config import load_service_settings


def test_defaults() -> None:
    s = load_settings()
    assert s.windows.size_seconds == 60 and s.incidents.resolve_after_windows == 5


def test_file_then_env_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "detector.toml"
    cfg.write_text("[windows]\nsize_seconds = 30\nallowed_lateness_seconds = 5\n"
                   "[incidents]\nresolve_after_windows = 7\n"
                   "[service]\ngroup_id = \"from-file\"\ntopics = [\"a\", \"b\"]\n")
    s = load_settings(cfg)
    assert (s.windows.size_seconds, s.windows.allowed_lateness_seconds) == (30, 5.0)
    monkeypatch.setenv("DETECTOR_WINDOWS__SIZE_SECONDS", "20")
    s = load_settings(cfg)
    assert s.windows.size_seconds == 20 and s.windows.allowed_lateness_seconds == 5.0
    assert s.incidents.resolve_after_windows == 7
    s = load_settings(cfg, windows={"size_seconds": 10})
    assert s.windows.size_seconds == 10

    monkeypatch.setenv("DETECTOR_SERVICE__GROUP_ID", "from-env")
    service, pipeline = load_service_settings(cfg, topics=None)
    assert service.group_id == "from-env" and service.topics == ("a", "b")
    assert pipeline.windows.size_seconds == 20
    service, _ = load_service_settings(cfg, group_id="from-flag")
    assert service.group_id == "from-flag"


def test_yaml_and_errors_are_one_line(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("detectors:\n  warmup_windows: 12\n")
    assert load_settings(y).detectors.warmup_windows == 12
    bad = tmp_path / "bad.toml"
    bad.write_text("[windows]\nsize_seconds = 1\n")  # below the minimum of 5
    with pytest.raises(ConfigError) as e:
        load_settings(bad)
    assert "\n" not in str(e.value) and "size_seconds" in str(e.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")
    unknown = tmp_path / "u.toml"
    unknown.write_text("[windowz]\nsize_seconds = 30\n")
    with pytest.raises(ConfigError):
        load_settings(unknown)
