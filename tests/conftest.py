"""Shared fixtures: where the third-party reference data lives."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from detector.kafka.broker import EmbeddedBroker

T = TypeVar("T")

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


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str,
                 make: Callable[[Path], T]) -> T:
    """``make(directory)`` once per test run, its result shared by every xdist worker.

    For expensive, deterministic session data (a simulation and its replay): the first
    worker to ask makes it under a file lock in the run's common temp directory, the
    others wait and unpickle it. Without xdist it is a plain session computation.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return make(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent  # one per run, shared by the workers
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / f"{name}.pickle"
        if done.exists():
            value: T = pickle.loads(done.read_bytes())
            return value
        d = root / name
        shutil.rmtree(d, ignore_errors=True)  # what a worker that failed half-way left
        d.mkdir()
        value = make(d)
        done.write_bytes(pickle.dumps(value))
        return value


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
