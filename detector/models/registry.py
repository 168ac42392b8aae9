"""The model registry (CONTRACTS §5): ``models/<name>/<version>/`` and ``models/<name>/current``.

A version folder holds the model artifact in skops format (``model.skops``),
any further artifacts (profiles, route templates: opaque bytes) and
``card.json``: when and on what it was trained, the feature schema, library
versions, evaluation figures and the sha256 of every artifact. ``current`` is
a one-line text file naming the version in use; moving it is how a new model
goes live (the service polls :meth:`ModelRegistry.changed_since`).

Loading never trusts the folder: every artifact's sha256 must match the card,
and the skops artifact may only contain types from :data:`ALLOWED_TYPES`
(what skops does not trust by itself); anything else is refused before a
single object is built. Every path is resolved and must stay inside the
registry root: a ``current``, model folder, version folder or artifact that is
(or goes through) a symlink to somewhere else is refused, and nothing read
from outside ever appears in an error.

The sha256 sums in ``card.json`` only catch accidents (a truncated copy, a
file edited by mistake): whoever can write the folder can recompute them. To
catch tampering, set a signing key, ``DETECTOR_MODEL_KEY`` (the key itself) or
``DETECTOR_MODEL_KEY_FILE`` (a file holding it; at least 16 bytes): publishing
(``detector train``, the service's retraining) then adds ``"signature":
"hmac-sha256:<hex>"`` to the card, an HMAC of the card's canonical JSON (sorted
keys, no whitespace, without ``signature``) which covers every artifact's
sha256; and loading refuses a version whose card is unsigned or wrongly
signed. Without a key, signatures are not checked.

>>> import tempfile
>>> reg = ModelRegistry(tempfile.mkdtemp())
>>> v = reg.publish("request", {"threshold": 0.5}, artifacts={"notes.txt": b"hi"},
...                 events=10, trained_at=datetime(2026, 3, 17, 9, 6, tzinfo=UTC))
>>> v.startswith("20260317T090600Z-"), reg.current("request") == v, reg.versions("request") == [v]
(True, True, True)
>>> loaded = reg.load("request")
>>> loaded.model, loaded.artifacts["notes.txt"], loaded.card["events"]
({'threshold': 0.5}, b'hi', 10)
>>> reg.changed_since("request", v)
False
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from detector.state.signing import KeyConfigError, load_key, sign, verify

# The default registry: the project's top-level models/ (see models/README.md), relative to
# where a command runs. `train --out` and `scan --models` default to it; replay and run
# use a registry only when --models names one (their results never depend on the cwd).
DEFAULT_DIR = Path("models")

__all__ = ["ALLOWED_TYPES", "CARD_FORMAT", "DEFAULT_DIR", "KEY_ENV", "KEY_FILE_ENV",
           "LoadedModel", "model_key", "ModelRegistry", "RegistryError"]

CARD_FORMAT = 1
MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
CURRENT_FILE = "current"
KEY_ENV, KEY_FILE_ENV = "DETECTOR_MODEL_KEY", "DETECTOR_MODEL_KEY_FILE"
_PURPOSE = "detector-model-card"
_SIG_PREFIX = "hmac-sha256:"
_MAX_CURRENT = 256  # bytes read from ``current``: a version name and a newline
# Types skops does not trust on its own that our artifacts legitimately contain.
ALLOWED_TYPES = frozenset({
    "detector.analysis.batch_model.RequestForest",
    "sklearn.tree._tree.Tree",
})  # fmt: skip
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_VERSION = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
_ARTIFACT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class RegistryError(ValueError):
    """A registry that cannot be used as asked (missing, tampered, untrusted). Not retriable."""


@dataclass(frozen=True)
class LoadedModel:
    """One verified version: its card, the deserialised model and the other artifacts."""

    name: str
    version: str
    path: Path
    card: dict[str, Any]
    model: Any
    artifacts: dict[str, bytes] = field(default_factory=dict)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def library_versions() -> dict[str, str]:
    """Versions that decide whether an artifact can be read back."""
    import numpy
    import sklearn
    import skops

    from detector import __version__

    return {"detector": __version__, "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__, "skops": skops.__version__,
            "python": platform.python_version()}


def model_key() -> bytes | None:
    """The card signing key from the environment, or None; RegistryError if unusable."""
    try:
        return load_key(KEY_ENV, KEY_FILE_ENV)
    except KeyConfigError as exc:
        raise RegistryError(str(exc)) from None


def _card_bytes(card: Mapping[str, Any]) -> bytes:
    """The canonical form a signature covers: sorted keys, no whitespace, no signature."""
    return orjson.dumps({k: v for k, v in card.items() if k != "signature"},
                        option=orjson.OPT_SORT_KEYS)


def sign_card(card: Mapping[str, Any], key: bytes) -> str:
    """The ``signature`` value of ``card`` under ``key``."""
    return _SIG_PREFIX + sign(key, _PURPOSE, _card_bytes(card)).hex()


def _check_signature(card: Mapping[str, Any], key: bytes, where: str) -> None:
    sig = card.get("signature")
    if not isinstance(sig, str) or not sig.startswith(_SIG_PREFIX):
        raise RegistryError(f"{where}: card is not signed but {KEY_ENV} is set; refusing to "
                            "load (retrain with the key, or unset it)")
    try:
        mac = bytes.fromhex(sig[len(_SIG_PREFIX):])
    except ValueError:
        mac = b""
    if not verify(key, _PURPOSE, _card_bytes(card), mac):
        raise RegistryError(f"{where}: card signature mismatch (tampered, or signed with "
                            "another key); refusing to load")


def _check_types(found: list[str], where: str) -> None:
    bad = sorted(set(found) - ALLOWED_TYPES)
    if bad:
        raise RegistryError(f"{where}: refusing untrusted types in the model artifact: "
                            f"{', '.join(bad)}")


class ModelRegistry:
    """Versioned models under one directory (default ``models/``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _inside(self, path: Path) -> bool:
        """Whether ``path``, every symlink on the way resolved, stays inside the root."""
        try:
            return path.resolve().is_relative_to(self.root.resolve())
        except (OSError, RuntimeError):  # a symlink loop
            return False

    def _confined(self, path: Path, what: str) -> Path:
        if not self._inside(path):
            raise RegistryError(f"{what} leads outside the model registry {self.root} "
                                "(symlink?); refusing to use it")
        return path

    def _dir(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise RegistryError(f"invalid model name {name!r}")
        return self._confined(self.root / name, name)

    def versions(self, name: str) -> list[str]:
        """Published versions of ``name``, oldest first (versions sort by time)."""
        d = self._dir(name)
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir()
                      if _VERSION.fullmatch(p.name) and self._inside(p) and p.is_dir()
                      and self._inside(p / CARD_FILE) and (p / CARD_FILE).is_file())

    def current(self, name: str) -> str | None:
        """The version in use, or None when nothing was published.

        ``current`` is a text file naming the version (what :meth:`set_current`
        writes); a symlink to a version folder of the same model also works.
        """
        d = self._dir(name)
        path = d / CURRENT_FILE
        if not path.exists() and not path.is_symlink():
            return None
        self._confined(path, f"{name}/current")
        if path.is_dir():
            target = path.resolve()
            if target.parent != d.resolve() or not _VERSION.fullmatch(target.name):
                raise RegistryError(f"{name}/current links to a folder that is not a version "
                                    f"of {name}")
            return target.name
        if not path.is_file():
            raise RegistryError(f"{name}/current is not a regular file")
        try:
            with open(path, "rb") as f:
                raw = f.read(_MAX_CURRENT + 1)
        except OSError as exc:
            raise RegistryError(f"cannot read {name}/current: {exc.strerror or exc}") from None
        text = raw.decode("utf-8", "replace").strip()
        if len(raw) > _MAX_CURRENT or not _VERSION.fullmatch(text):
            raise RegistryError(f"{name}/current names an invalid version {text[:40]!r}")
        return text

    def changed_since(self, name: str, version: str | None) -> bool:
        """Cheap hot-reload check: does ``current`` name another version than ``version``?"""
        try:
            return self.current(name) != version
        except RegistryError:
            return False  # a half-written or broken pointer: keep the model we have

    def publish(self, name: str, model: Any = None, *,
                artifacts: Mapping[str, bytes] | None = None,
                events: int = 0, first_event: float | None = None,
                last_event: float | None = None,
                feature_schema: Mapping[str, Any] | None = None,
                evaluation: Mapping[str, Any] | None = None,
                extra: Mapping[str, Any] | None = None,
                trained_at: datetime | None = None, make_current: bool = True) -> str:
        """Write a new version (model via skops, if any, plus ``artifacts``); returns it.

        The version is the UTC training time plus a short hash of the content,
        bumped by a second if needed so that it sorts after every earlier one.
        """
        files: dict[str, bytes] = {}
        trusted: list[str] = []
        if model is not None:
            import skops.io as sio

            blob = sio.dumps(model)
            trusted = sorted(sio.get_untrusted_types(data=blob))
            _check_types(trusted, f"publish {name}")
            files[MODEL_FILE] = blob
        for fname, data in (artifacts or {}).items():
            if not _ARTIFACT.fullmatch(fname) or fname in (MODEL_FILE, CARD_FILE):
                raise RegistryError(f"invalid artifact name {fname!r}")
            files[fname] = bytes(data)
        d = self._dir(name)
        d.mkdir(parents=True, exist_ok=True)
        when = (trained_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        existing = self.versions(name)
        if existing:
            last = datetime.strptime(existing[-1][:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            if when <= last:
                when = last + timedelta(seconds=1)
        digest = hashlib.sha256(b"".join(_sha256(files[f]).encode() for f in sorted(files)))
        version = f"{when:%Y%m%dT%H%M%SZ}-{digest.hexdigest()[:8]}"
        card: dict[str, Any] = {
            "format": CARD_FORMAT,
            "name": name,
            "version": version,
            "trained_at": _iso(when),
            "data_range": {
                "first": _iso(datetime.fromtimestamp(first_event, UTC)) if first_event else None,
                "last": _iso(datetime.fromtimestamp(last_event, UTC)) if last_event else None,
            },
            "events": events,
            "feature_schema": dict(feature_schema or {}),
            "libraries": library_versions(),
            "evaluation": dict(evaluation or {}),
            "trusted_types": trusted,
            "artifacts": {f: {"sha256": _sha256(b), "bytes": len(b)} for f, b in files.items()},
            **dict(extra or {}),
        }
        key = model_key()
        if key is not None:
            card["signature"] = sign_card(card, key)
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=d))
        tmp.chmod(0o755)  # mkdtemp makes it private; a model folder is as readable as its parent
        try:
            for fname, data in files.items():
                (tmp / fname).write_bytes(data)
            (tmp / CARD_FILE).write_bytes(orjson.dumps(card, option=orjson.OPT_INDENT_2))
            tmp.rename(d / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if make_current:
            self.set_current(name, version)
        return version

    def set_current(self, name: str, version: str) -> None:
        """Point ``current`` at ``version`` atomically (roll forward or back)."""
        d = self._dir(name)
        if not _VERSION.fullmatch(version) or not (d / version / CARD_FILE).is_file():
            raise RegistryError(f"no version {version!r} of model {name!r} in {self.root}")
        self._confined(d / version / CARD_FILE, f"{name}/{version}")
        fd, tmp = tempfile.mkstemp(prefix=".current.", dir=d)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(version + "\n")
        os.replace(tmp, d / CURRENT_FILE)

    def read_card(self, name: str, version: str) -> dict[str, Any]:
        if not _VERSION.fullmatch(version):
            raise RegistryError(f"invalid version {version[:40]!r}")
        path = self._dir(name) / version / CARD_FILE
        self._confined(path.parent, f"{name}/{version}")
        self._confined(path, f"{name}/{version}/{CARD_FILE}")
        if path.exists() and not path.is_file():
            raise RegistryError(f"{name}/{version}/{CARD_FILE} is not a regular file")
        try:
            card = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise RegistryError(
                f"no version {version!r} of model {name!r} in {self.root}") from None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise RegistryError(f"unreadable card {path}: {exc}") from None
        if not isinstance(card, dict) or not isinstance(card.get("artifacts"), dict):
            raise RegistryError(f"malformed card {path}")
        return card

    def load(self, name: str, version: str | None = None) -> LoadedModel:
        """Verify and load ``version`` (default: current) of ``name``."""
        if version is None:
            version = self.current(name)
            if version is None:
                raise RegistryError(f"no current version of model {name!r} in {self.root}")
        if not _VERSION.fullmatch(version):
            raise RegistryError(f"invalid version {version!r}")
        key = model_key()
        card = self.read_card(name, version)
        if key is not None:
            _check_signature(card, key, f"{name}/{version}")
        folder = self._dir(name) / version
        blobs: dict[str, bytes] = {}
        for fname, meta in card["artifacts"].items():
            if not isinstance(fname, str) or not _ARTIFACT.fullmatch(fname):
                raise RegistryError(f"{name}/{version}: invalid artifact name {fname!r} in card")
            path = self._confined(folder / fname, f"{name}/{version}/{fname}")
            if not path.is_file():
                raise RegistryError(f"{name}/{version}: {fname} is missing or not a regular file")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise RegistryError(f"{name}/{version}: cannot read {fname}: "
                                    f"{exc.strerror or exc}") from None
            want = meta.get("sha256") if isinstance(meta, dict) else None
            if _sha256(data) != want:
                raise RegistryError(f"{name}/{version}: sha256 mismatch for {fname} "
                                    "(modified after publishing?); refusing to load")
            blobs[fname] = data
        model: Any = None
        blob = blobs.pop(MODEL_FILE, None)
        if blob is not None:
            import skops.io as sio

            try:
                found = sio.get_untrusted_types(data=blob)
            except Exception as exc:
                raise RegistryError(f"{name}/{version}: unreadable model artifact: {exc}") from None
            _check_types(found, f"{name}/{version}")
            try:
                model = sio.loads(blob, trusted=found)
            except Exception as exc:
                raise RegistryError(f"{name}/{version}: cannot load model artifact "
                                    f"({type(exc).__name__}: {exc})") from None
        return LoadedModel(name, version, folder, card, model, blobs)
