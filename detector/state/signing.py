"""Keyed signatures (HMAC-SHA256) for what this tool reads back from shared places.

A sha256 stored next to data only catches accidents: whoever can change the
data can recompute it. A signature made with a secret key, which the attacker
does not have, also catches tampering. Used for pipeline snapshots
(``DETECTOR_STATE_KEY`` / ``DETECTOR_STATE_KEY_FILE``) and model registry
cards (``DETECTOR_MODEL_KEY`` / ``DETECTOR_MODEL_KEY_FILE``).

A key comes from an environment variable holding it, or from one naming a file
that holds it (surrounding whitespace stripped). Each use has its own
``purpose`` label inside the MAC, so a key shared by both uses cannot make a
snapshot signature pass as a model signature or the other way round.

>>> key = b"k" * 32
>>> sig = sign(key, "demo", b"data")
>>> verify(key, "demo", b"data", sig), verify(key, "demo", b"datA", sig)
(True, False)
>>> verify(key, "other", b"data", sig)
False
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

__all__ = ["MIN_KEY_BYTES", "KeyConfigError", "load_key", "sign", "verify"]

MIN_KEY_BYTES = 16  # shorter secrets are guessable; refuse them rather than pretend


class KeyConfigError(ValueError):
    """A signing key is configured but unusable (both sources set, unreadable, too short)."""


def load_key(env: str, file_env: str | None = None) -> bytes | None:
    """The key from ``$env`` or from the file named by ``$file_env``; None when neither is set.

    >>> load_key("DOCTEST_UNSET_KEY", "DOCTEST_UNSET_KEY_FILE") is None
    True
    >>> os.environ["DOCTEST_SHORT_KEY"] = "abc"
    >>> load_key("DOCTEST_SHORT_KEY")
    Traceback (most recent call last):
    ...
    detector.state.signing.KeyConfigError: DOCTEST_SHORT_KEY: the key must be at least 16 bytes
    """
    value = os.environ.get(env, "")
    path = os.environ.get(file_env, "") if file_env else ""
    if value and path:
        raise KeyConfigError(f"set only one of {env} and {file_env}")
    where = env
    if path:
        where = f"{file_env} ({path})"
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise KeyConfigError(f"{file_env}: cannot read {path}: "
                                 f"{exc.strerror or exc}") from None
        key = raw.strip()
    elif value:
        key = value.strip().encode("utf-8", "surrogateescape")
    else:
        return None
    if len(key) < MIN_KEY_BYTES:
        raise KeyConfigError(f"{where}: the key must be at least {MIN_KEY_BYTES} bytes")
    return key


def sign(key: bytes, purpose: str, data: bytes) -> bytes:
    """HMAC-SHA256 of ``data`` for ``purpose`` (32 bytes)."""
    mac = hmac.new(key, purpose.encode() + b"\x00", hashlib.sha256)
    mac.update(data)
    return mac.digest()


def verify(key: bytes, purpose: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is :func:`sign` of ``data``; constant-time comparison."""
    return hmac.compare_digest(sign(key, purpose, data), signature)
