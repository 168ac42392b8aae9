"""Model registry: publish, current, load, integrity and trust checks, hot reload."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pytest
import skops.io as sio

from detector.analysis.batch_model import RequestForest
from detector.models.registry import ModelRegistry, RegistryError

T0 = datetime(2026, 3, 17, 9, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def forest() -> RequestForest:
    return RequestForest(n_estimators=10).fit(np.random.default_rng(0).normal(size=(300, 4)))


def test_publish_current_load_round_trip(tmp_path: Path, forest: RequestForest) -> None:
    reg = ModelRegistry(tmp_path)
    assert reg.current("request") is None and reg.versions("request") == []
    v = reg.publish(
        "request",
        forest,
        artifacts={"profiles.json": b'{"a": 1}'},
        events=300,
        first_event=1773727200.0,
        last_event=1773730800.0,
        feature_schema={"version": 1, "names": ["a", "b", "c", "d"]},
        evaluation={"flagged": 0.001},
        trained_at=T0,
    )
    assert v.startswith("20260317T090600Z-") and reg.current("request") == v
    assert (tmp_path / "request" / "current").read_text().strip() == v
    loaded = reg.load("request")
    assert loaded.version == v and loaded.artifacts == {"profiles.json": b'{"a": 1}'}
    X = np.random.default_rng(1).normal(size=(20, 4))
    assert np.array_equal(loaded.model.score_samples(X), forest.score_samples(X))
    card = orjson.loads((tmp_path / "request" / v / "card.json").read_bytes())
    assert card["data_range"] == {"first": "2026-03-17T06:00:00Z", "last": "2026-03-17T07:00:00Z"}
    assert card["events"] == 300 and card["evaluation"] == {"flagged": 0.001}
    assert card["feature_schema"]["version"] == 1
    assert set(card["libraries"]) >= {"scikit-learn", "numpy", "skops", "detector"}
    assert set(card["artifacts"]) == {"model.skops", "profiles.json"}
    assert all(len(a["sha256"]) == 64 for a in card["artifacts"].values())


def test_versions_sort_in_time_and_current_moves(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    v1 = reg.publish("m", None, artifacts={"x": b"1"}, trained_at=T0)
    v2 = reg.publish("m", None, artifacts={"x": b"2"}, trained_at=T0)  # same second
    v3 = reg.publish("m", None, artifacts={"x": b"3"}, trained_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert reg.versions("m") == [v1, v2, v3] == sorted([v3, v2, v1])
    assert reg.current("m") == v3
    reg.set_current("m", v1)
    assert reg.current("m") == v1 and reg.load("m").artifacts["x"] == b"1"
    assert reg.load("m", v2).artifacts["x"] == b"2"
    with pytest.raises(RegistryError, match="no version"):
        reg.set_current("m", "20990101T000000Z-deadbeef")


def test_hot_reload_check(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    assert reg.changed_since("m", None) is False
    v1 = reg.publish("m", None, artifacts={"x": b"1"}, trained_at=T0)
    assert reg.changed_since("m", None) is True and reg.changed_since("m", v1) is False
    v2 = reg.publish("m", None, artifacts={"x": b"2"})
    assert reg.changed_since("m", v1) is True and reg.changed_since("m", v2) is False
    (tmp_path / "m" / "current").write_text("garbage")
    assert reg.changed_since("m", v2) is False  # a broken pointer never triggers a reload


def test_tampered_artifact_is_refused(tmp_path: Path, forest: RequestForest) -> None:
    reg = ModelRegistry(tmp_path)
    v = reg.publish("request", forest, artifacts={"profiles.json": b"{}"})
    (tmp_path / "request" / v / "profiles.json").write_bytes(b'{"evil": 1}')
    with pytest.raises(RegistryError, match="sha256 mismatch for profiles.json"):
        reg.load("request")
    v2 = reg.publish("request", forest)
    blob = bytearray((tmp_path / "request" / v2 / "model.skops").read_bytes())
    blob[-40] ^= 1
    (tmp_path / "request" / v2 / "model.skops").write_bytes(bytes(blob))
    with pytest.raises(RegistryError, match="sha256 mismatch for model.skops"):
        reg.load("request")


class Sneaky:
    """Stands for any type the registry was not told to trust."""

    def __init__(self) -> None:
        self.payload = "rm -rf /"


def test_untrusted_type_is_refused(tmp_path: Path, forest: RequestForest) -> None:
    reg = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="untrusted types.*Sneaky"):
        reg.publish("request", Sneaky())
    # a forged version whose checksums match but whose artifact holds an unknown type
    v = reg.publish("request", forest)
    folder = tmp_path / "request" / v
    blob = sio.dumps({"model": Sneaky()})
    (folder / "model.skops").write_bytes(blob)
    card = orjson.loads((folder / "card.json").read_bytes())
    import hashlib

    card["artifacts"]["model.skops"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (folder / "card.json").write_bytes(orjson.dumps(card))
    with pytest.raises(RegistryError, match="refusing untrusted types.*Sneaky"):
        reg.load("request")


def test_bad_names_and_missing(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="invalid model name"):
        reg.versions("../etc")
    with pytest.raises(RegistryError, match="no current version"):
        reg.load("nothing")
    with pytest.raises(RegistryError, match="invalid artifact name"):
        reg.publish("m", None, artifacts={"../x": b""})
