"""Shared fixtures: where the third-party reference data lives."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from detector.kafka.broker import EmbeddedBroker

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DETECTOR_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test with a clear message if absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"reference data not found: {p} (see ../shared/data/README.md)")
    return p


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"reference data not found: {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA


def embedded_broker() -> Iterator[EmbeddedBroker]:
    """A running embedded broker (Tansu), or the test skipped with the reason it cannot run."""
    from detector.kafka.broker import BrokerUnavailable, EmbeddedBroker

    try:
        with EmbeddedBroker() as b:
            yield b
    except BrokerUnavailable as e:
        pytest.skip(f"no embedded Kafka broker: {e}")


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """One broker for every integration test that does not need a broker of its own.

    Session scope is per process: under pytest-xdist each worker starts its own
    broker on its own free port, so workers never share topics or groups.
    """
    yield from embedded_broker()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever needs the `broker` fixture (directly or through another fixture, or a
    # module's own `broker`) is a broker test: `-m "not broker"` runs without Tansu.
    for item in items:
        if "broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)
