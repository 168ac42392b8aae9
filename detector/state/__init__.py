"""Pipeline state snapshots for checkpoints (ARCHITECTURE: flush sinks, save state, commit)."""

from detector.state.snapshot import SnapshotError, dumps, loads

__all__ = ["SnapshotError", "dumps", "loads"]
