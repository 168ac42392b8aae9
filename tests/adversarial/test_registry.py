"""Issue 8 item 4: the model registry stays inside its root and can be authenticated.

Before: a ``current`` symlinked to a file outside the registry leaked that
file's first bytes in the error, a version folder symlinked outside loaded, and
the card's sha256 sums (recomputable by whoever can write the folder) were the
only integrity check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from detector.jobs.train import train
from detector.models.registry import ModelRegistry, RegistryError
from tests.analysis.history import normal_lines

T0 = datetime(2026, 3, 17, 9, 6, tzinfo=UTC)
SECRET = "root:x:0:0:TOP-SECRET-HASH"
KEY = "model-signing-key-0123456789"


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DETECTOR_MODEL_KEY", raising=False)
    monkeypatch.delenv("DETECTOR_MODEL_KEY_FILE", raising=False)


def _publish(root: Path, **kw: object) -> str:
    return ModelRegistry(root).publish("request", {"threshold": 0.5},
                                       artifacts={"notes.txt": b"hi"}, trained_at=T0, **kw)


def _outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    return secret


def test_current_symlinked_outside_is_refused_without_leaking(tmp_path: Path) -> None:
    root = tmp_path / "models"
    _publish(root)
    current = root / "request" / "current"
    current.unlink()
    current.symlink_to(_outside(tmp_path))
    reg = ModelRegistry(root)
    with pytest.raises(RegistryError, match="outside the model registry") as err:
        reg.current("request")
    assert "SECRET" not in str(err.value) and "root:x" not in str(err.value)
    with pytest.raises(RegistryError, match="outside the model registry"):
        reg.load("request")
    assert reg.changed_since("request", None) is False  # hot reload keeps the model it has


def test_the_cli_refuses_it_in_one_line_without_the_secret(tmp_path: Path) -> None:
    root = tmp_path / "models"
    _publish(root)
    (root / "request" / "current").unlink()
    (root / "request" / "current").symlink_to(_outside(tmp_path))
    logs = tmp_path / "in.jsonl"
    logs.write_bytes(b"".join(normal_lines(20, 1)))
    r = subprocess.run([sys.executable, "-m", "detector", "scan", str(logs), "--models",
                        str(root), "--output", str(tmp_path / "out.jsonl")],
                       capture_output=True, timeout=120, env=dict(os.environ))
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "outside the model registry" in err and "SECRET" not in err + r.stdout.decode()
    assert "Traceback" not in err


def test_version_folder_symlinked_outside_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    v = _publish(elsewhere)
    root = tmp_path / "models"
    (root / "request").mkdir(parents=True)
    (root / "request" / v).symlink_to(elsewhere / "request" / v, target_is_directory=True)
    (root / "request" / "current").write_text(v + "\n")
    reg = ModelRegistry(root)
    assert reg.versions("request") == []
    with pytest.raises(RegistryError, match="outside the model registry"):
        reg.load("request")
    with pytest.raises(RegistryError, match="outside the model registry"):
        reg.set_current("request", v)


def test_model_folder_and_artifact_symlinked_outside_are_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    _publish(elsewhere)
    root = tmp_path / "models"
    root.mkdir()
    (root / "request").symlink_to(elsewhere / "request", target_is_directory=True)
    with pytest.raises(RegistryError, match="outside the model registry"):
        ModelRegistry(root).load("request")
    own = tmp_path / "own"
    v = _publish(own)
    art = own / "request" / v / "notes.txt"
    art.unlink()
    art.symlink_to(_outside(tmp_path))
    with pytest.raises(RegistryError, match="outside the model registry"):
        ModelRegistry(own).load("request")


def test_current_may_be_a_symlink_to_a_version_folder_inside(tmp_path: Path) -> None:
    v = _publish(tmp_path)
    current = tmp_path / "request" / "current"
    current.unlink()
    current.symlink_to(v, target_is_directory=True)  # ln -s <version> current
    assert ModelRegistry(tmp_path).load("request").version == v


# ---- keyed card signatures -----------------------------------------------------------


def _card(root: Path, v: str) -> Path:
    return root / "request" / v / "card.json"


def test_with_a_key_cards_are_signed_and_tampering_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unsigned_root = tmp_path / "unsigned"
    _publish(unsigned_root)
    monkeypatch.setenv("DETECTOR_MODEL_KEY", KEY)
    v = _publish(tmp_path)
    card = orjson.loads(_card(tmp_path, v).read_bytes())
    assert card["signature"].startswith("hmac-sha256:")
    assert ModelRegistry(tmp_path).load("request").version == v
    # The attack sha256 cannot stop: replace an artifact and recompute its sum in the card.
    new = b"malicious"
    (tmp_path / "request" / v / "notes.txt").write_bytes(new)
    import hashlib

    card["artifacts"]["notes.txt"] = {"sha256": hashlib.sha256(new).hexdigest(),
                                      "bytes": len(new)}
    _card(tmp_path, v).write_bytes(orjson.dumps(card))
    with pytest.raises(RegistryError, match="signature mismatch"):
        ModelRegistry(tmp_path).load("request")
    with pytest.raises(RegistryError, match="not signed"):
        ModelRegistry(unsigned_root).load("request")
    monkeypatch.setenv("DETECTOR_MODEL_KEY", "a-different-key-0123456789")
    (tmp_path / "request" / v / "notes.txt").write_bytes(b"hi")
    card["artifacts"]["notes.txt"] = {"sha256": hashlib.sha256(b"hi").hexdigest(), "bytes": 2}
    _card(tmp_path, v).write_bytes(orjson.dumps(card))
    with pytest.raises(RegistryError, match="signature mismatch"):
        ModelRegistry(tmp_path).load("request")
    monkeypatch.delenv("DETECTOR_MODEL_KEY")
    assert ModelRegistry(tmp_path).load("request").version == v  # no key: sha256 only


def test_train_signs_with_the_key_file_and_loading_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "history.jsonl"
    logs.write_bytes(b"".join(normal_lines(300, 3)))
    key_file = tmp_path / "model.key"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv("DETECTOR_MODEL_KEY_FILE", str(key_file))
    report = train([str(logs)], out_dir=tmp_path / "models")
    assert report.signed
    reg = ModelRegistry(tmp_path / "models")
    assert "signature" in reg.read_card(report.name, report.version)
    reg.load(report.name)
    key_file.write_text("another-key-for-loading-0123\n")
    with pytest.raises(RegistryError, match="signature mismatch"):
        reg.load(report.name)
    key_file.write_text("short\n")
    with pytest.raises(RegistryError, match="at least 16 bytes"):
        train([str(logs)], out_dir=tmp_path / "models")
