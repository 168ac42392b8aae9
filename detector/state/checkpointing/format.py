"""The stored form of one partition's checkpoint: offset, delivery ledger, snapshot.

A checkpoint of one partition is the pipeline snapshot *together with* the
next offset it reflects (:func:`pack` / :func:`unpack`). On assignment the
service restores the snapshot and seeks to that offset, not to the committed
one: the committed offset is written after the snapshot, so after a crash it
may lag behind, and resuming from it would count records twice. Offsets are
still committed (lag tooling, and a fallback when no snapshot exists).
"""

from __future__ import annotations

import struct

MAGIC = b"DCKP1"
_HEAD = struct.Struct(">q")


class CheckpointError(ValueError):
    """A stored checkpoint is unusable (wrong magic, truncated). Not retriable."""


MAGIC_LEDGER = b"DCKP2"  # a checkpoint that also carries the delivery ledger
_LEN = struct.Struct(">I")


def pack(offset: int, snapshot: bytes, ledger: bytes = b"") -> bytes:
    """One stored checkpoint: the next offset to read, the delivery ledger of the
    changes not yet delivered (``service.fanout``), then the pipeline snapshot.
    Saved in one piece, so state, offset and ledger always agree.

    >>> unpack(pack(42, b"state"))
    (42, b'state')
    >>> unpack_ledger(pack(42, b"state", b"ledger"))
    (42, b'state', b'ledger')
    """
    if not ledger:
        return MAGIC + _HEAD.pack(offset) + snapshot
    return MAGIC_LEDGER + _HEAD.pack(offset) + _LEN.pack(len(ledger)) + ledger + snapshot


def unpack(data: bytes) -> tuple[int, bytes]:
    offset, snapshot, _ = unpack_ledger(data)
    return offset, snapshot


def unpack_ledger(data: bytes) -> tuple[int, bytes, bytes]:
    """(offset, snapshot, ledger); the ledger is empty in a checkpoint without one."""
    magic = data[: len(MAGIC)]
    if magic not in (MAGIC, MAGIC_LEDGER) or len(data) < len(MAGIC) + _HEAD.size:
        raise CheckpointError("not a detector checkpoint")
    (offset,) = _HEAD.unpack_from(data, len(MAGIC))
    at = len(MAGIC) + _HEAD.size
    if magic == MAGIC:
        return int(offset), data[at:], b""
    if len(data) < at + _LEN.size:
        raise CheckpointError("truncated detector checkpoint")
    (n,) = _LEN.unpack_from(data, at)
    at += _LEN.size
    if len(data) < at + n:
        raise CheckpointError("truncated detector checkpoint")
    return int(offset), data[at + n :], data[at : at + n]


def partition_key(group: str, topic: str, partition: int) -> str:
    return f"{group}:{topic}:{partition}"
