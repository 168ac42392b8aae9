"""Serialise pipeline state as plain data; load it back without ever naming code.

A snapshot may come back from a shared place (a Kafka changelog topic, a
``--state-dir`` directory), so its format cannot refer to code: the state is
encoded as a JSON tree (:mod:`detector.state.codec`, where classes of this
package are rebuilt only through an explicit table of exact classes).

Layout (DETSNAP2)::

    b"DETSNAP2" | kind (1 byte) | 32-byte digest | body (orjson)
    body = {"schema": STATE_SCHEMA, "state": <tree>}

``kind`` ``S``: the digest is the sha256 of kind+body (catches truncation and
accidents only: anyone who can write the snapshot can recompute it).
``kind`` ``H``: the digest is an HMAC-SHA256 of kind+body with the key from
``DETECTOR_STATE_KEY`` or the file named by ``DETECTOR_STATE_KEY_FILE``. With a
key configured, snapshots are written signed and unsigned or wrongly signed
ones are refused; without one, signed snapshots are refused (misconfiguration).

Older formats are upgraded in one place, :func:`_upgrade`: DETSNAP1 (pickle,
up to 0.2) is read through a strict allow-list (:mod:`detector.state.legacy`)
and the next checkpoint is written as DETSNAP2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from detector.state import legacy
from detector.state.codec import CodecError, decode, encode
from detector.state.signing import KeyConfigError, load_key, sign, verify

MAGIC = b"DETSNAP2"
STATE_SCHEMA = 2
KEY_ENV, KEY_FILE_ENV = "DETECTOR_STATE_KEY", "DETECTOR_STATE_KEY_FILE"
_PURPOSE = "detector-snapshot"
_PLAIN, _SIGNED = b"S", b"H"
_HEAD = len(MAGIC) + 1 + 32


class SnapshotError(ValueError):
    """A snapshot is corrupt, unsigned where a key is set, or not state data.

    Not retriable: the snapshot has to be discarded (start from an older one or empty).
    """


def state_key() -> bytes | None:
    """The snapshot signing key, or None; SnapshotError when configured but unusable."""
    try:
        return load_key(KEY_ENV, KEY_FILE_ENV)
    except KeyConfigError as exc:
        raise SnapshotError(str(exc)) from None


def dumps(state: Any) -> bytes:
    """Serialise ``state`` (signed when a key is configured).

    >>> loads(dumps({"a": [1, 2.5], "b": (None, float("inf"))}))
    {'a': [1, 2.5], 'b': (None, inf)}
    """
    try:
        body = orjson.dumps({"schema": STATE_SCHEMA, "state": encode(state)})
    except (CodecError, orjson.JSONEncodeError) as exc:
        raise SnapshotError(f"cannot snapshot state: {exc}") from None
    key = state_key()
    if key is None:
        return MAGIC + _PLAIN + hashlib.sha256(_PLAIN + body).digest() + body
    return MAGIC + _SIGNED + sign(key, _PURPOSE, _SIGNED + body) + body


def loads(data: bytes) -> Any:
    """Load a snapshot written by :func:`dumps` (or an older format); SnapshotError otherwise.

    >>> loads(b"nonsense")
    Traceback (most recent call last):
    ...
    detector.state.snapshot.SnapshotError: not a detector snapshot
    """
    key = state_key()
    if data.startswith(legacy.MAGIC):
        if key is not None:
            raise SnapshotError(f"refusing an unsigned DETSNAP1 snapshot: {KEY_ENV} is set "
                                "(unset it once to migrate trusted snapshots)")
        try:
            return _upgrade(1, legacy.load_v1(data))
        except legacy.LegacyError as exc:
            raise SnapshotError(str(exc)) from None
    if not data.startswith(MAGIC) or len(data) < _HEAD:
        raise SnapshotError("not a detector snapshot")
    kind, digest = data[len(MAGIC):len(MAGIC) + 1], data[len(MAGIC) + 1:_HEAD]
    signed = data[len(MAGIC):len(MAGIC) + 1] + data[_HEAD:]
    if kind == _SIGNED:
        if key is None:
            raise SnapshotError(f"snapshot is signed but no key is configured "
                                f"(set {KEY_ENV} or {KEY_FILE_ENV})")
        if not verify(key, _PURPOSE, signed, digest):
            raise SnapshotError("snapshot signature mismatch (tampered, or another key)")
    elif kind == _PLAIN:
        if key is not None:
            raise SnapshotError(f"refusing an unsigned snapshot: {KEY_ENV} is set")
        if hashlib.sha256(signed).digest() != digest:
            raise SnapshotError("snapshot checksum mismatch (truncated or corrupted)")
    else:
        raise SnapshotError("not a detector snapshot (unknown header)")
    try:
        doc = orjson.loads(data[_HEAD:])
        if not isinstance(doc, dict) or not isinstance(doc.get("schema"), int) or (
                "state" not in doc):
            raise SnapshotError("snapshot body is not a state document")
        return _upgrade(doc["schema"], decode(doc["state"]))
    except SnapshotError:
        raise
    except (CodecError, orjson.JSONDecodeError, RecursionError) as exc:
        raise SnapshotError(f"cannot load snapshot: {str(exc)[:200]}") from None


# ---- migrations: schema N -> N+1, in one place --------------------------------------
def _v1_to_v2(state: Any) -> Any:
    """DETSNAP1 held the same Python state, only pickled: nothing to convert."""
    return state


_MIGRATIONS: dict[int, Callable[[Any], Any]] = {1: _v1_to_v2}


def _upgrade(schema: int, state: Any) -> Any:
    from detector.state.component import migrate

    return migrate(schema, state, STATE_SCHEMA, _MIGRATIONS, "snapshot state")
