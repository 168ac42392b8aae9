"""Reading DETSNAP1 snapshots (pickles written up to 0.2): the migration path only.

They are loaded with an allow-list of *exact* (module, name) pairs: the
package's state classes (the table in :mod:`detector.state.codec`) and
``collections.deque``/``Counter``/``OrderedDict``. Dotted names (which pickle
protocol 4 resolves attribute by attribute, e.g. module ``detector.sinks.http``,
name ``os.system``) and every other global are refused before anything is
called. Nothing writes this format any more; a restored pipeline's next
checkpoint is written as DETSNAP2.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from typing import Any

from detector.state.codec import legacy_names

MAGIC = b"DETSNAP1"
_OTHER = frozenset({("collections", "deque"), ("collections", "Counter"),
                    ("collections", "OrderedDict")})


class LegacyError(ValueError):
    """A DETSNAP1 snapshot that is corrupt or names a forbidden global."""


class _Strict(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if "." not in name and ((module, name) in _OTHER or (module, name) in legacy_names()):
            return super().find_class(module, name)
        raise LegacyError(f"snapshot refers to a forbidden type {module[:80]}.{name[:80]} "
                          "(refused, nothing was run)")


def load_v1(data: bytes) -> Any:
    """The state inside a DETSNAP1 snapshot (MAGIC, sha256 of the body, pickle body)."""
    digest, body = data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
    if len(digest) < 32 or hashlib.sha256(body).digest() != digest:
        raise LegacyError("snapshot checksum mismatch (truncated or corrupted)")
    try:
        return _Strict(io.BytesIO(body)).load()
    except LegacyError:
        raise
    except Exception as exc:  # any unpickling failure: the snapshot is unusable
        raise LegacyError(f"cannot load DETSNAP1 snapshot: {type(exc).__name__}: "
                          f"{str(exc)[:120]}") from None
