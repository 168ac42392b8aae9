"""Shared simulator runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from detector.simulate import simulate
from tests.conftest import once_per_run


@pytest.fixture(scope="session")
def run8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8 h run at a tenth of the rate: the full anomaly plan, few lines."""
    def make(out: Path) -> Path:
        simulate(out, hours=8, rate=0.1, seed=3)
        return out

    return once_per_run(tmp_path_factory, "sim8", make)


@pytest.fixture(scope="session")
def real28(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """28 h from a Friday afternoon into Saturday evening: the real-world shapes, a weekend day."""
    def make(out: Path) -> Path:
        simulate(out, hours=28, rate=0.08, seed=11, start=datetime(2026, 3, 20, 14, tzinfo=UTC))
        return out

    return once_per_run(tmp_path_factory, "real28", make)
