"""Checkpointing: the stored format, the stores, and the checkpoint sequence.

Order per partition: capture (snapshot, offset), flush dead letters, save the
state with its offset and delivery ledger, then commit the offset; see
:mod:`detector.state.checkpointing.checkpoint`.
"""

from detector.state.checkpointing.checkpoint import Checkpointer
from detector.state.checkpointing.format import (
    CheckpointError,
    pack,
    partition_key,
    unpack,
    unpack_ledger,
)
from detector.state.checkpointing.stores import DirectoryStore, KafkaChangelogStore, StateStore

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "DirectoryStore",
    "KafkaChangelogStore",
    "StateStore",
    "pack",
    "partition_key",
    "unpack",
    "unpack_ledger",
]
