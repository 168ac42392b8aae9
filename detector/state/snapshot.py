"""Serialise pipeline state; load it back allowing only the classes state is made of.

State is plain data (numbers, strings, lists, dicts, deques, NamedTuples and
slotted classes of this package), so pickle is the simplest faithful format.
A snapshot may come back from a shared place (a Kafka changelog topic, a
directory), so it is loaded with an allow-list (the "restricting globals"
recipe of the pickle documentation): anything else is refused, never run.
A header with a format version and a sha256 guards against truncation.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from typing import Any

MAGIC = b"DETSNAP1"
_ALLOWED_BUILTINS = frozenset({"set", "frozenset", "dict", "list", "tuple", "float", "int",
                               "str", "bytes", "bool", "complex", "slice", "range"})
_ALLOWED = {
    ("collections", "deque"), ("collections", "Counter"), ("collections", "OrderedDict"),
    ("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("builtins", "object"),
    ("math", "inf"),
}


class SnapshotError(ValueError):
    """A snapshot is corrupt, of another format version, or refers to a forbidden type.

    Not retriable: the snapshot has to be discarded (start from an older one or empty).
    """


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _ALLOWED_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _ALLOWED or module.startswith("detector."):
            return super().find_class(module, name)
        raise SnapshotError(f"snapshot refers to a forbidden type {module}.{name}")


def dumps(state: Any) -> bytes:
    """Serialise ``state``.

    >>> loads(dumps({"a": [1, 2.5]}))
    {'a': [1, 2.5]}
    """
    body = pickle.dumps(state, protocol=5)
    return MAGIC + hashlib.sha256(body).digest() + body


def loads(data: bytes) -> Any:
    """Load a snapshot written by :func:`dumps`; SnapshotError on anything else.

    >>> loads(b"nonsense")
    Traceback (most recent call last):
    ...
    detector.state.snapshot.SnapshotError: not a detector snapshot (or another format version)
    """
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 32:
        raise SnapshotError("not a detector snapshot (or another format version)")
    digest = data[len(MAGIC):len(MAGIC) + 32]
    body = data[len(MAGIC) + 32:]
    if hashlib.sha256(body).digest() != digest:
        raise SnapshotError("snapshot checksum mismatch (truncated or corrupted)")
    try:
        return _Restricted(io.BytesIO(body)).load()
    except SnapshotError:
        raise
    except Exception as exc:
        raise SnapshotError(f"cannot load snapshot: {type(exc).__name__}: {exc}") from None
