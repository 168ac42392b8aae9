"""The checkpoint sequence of the service, per partition.

1. capture (snapshot, next offset) in memory, with the delivery ledger's cut,
   before any await (a rebalance callback may run at any await);
2. flush the dead letters of the captured states (sinks are not flushed: a
   hanging one would stall us; the ledger saved with each state holds what is
   not delivered yet);
3. save each state with its offset and ledger;
4. commit the offsets.

Capturing first means no incident emitted after the flush can be missing from
a restart: everything the saved state has emitted was flushed before it was
saved. A failed step keeps the previous checkpoint valid.

The sequence only sees what it needs through small protocols, so it knows
nothing of the service that drives it (quix-streams' ``checkpointing``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, Protocol, TypeVar

from aiokafka import TopicPartition

from detector.state.checkpointing.format import pack
from detector.state.checkpointing.stores import StateStore


class Snapshotting(Protocol):
    def snapshot(self) -> bytes: ...


class Partition(Protocol):
    """What the sequence reads and updates of one owned partition."""

    tp: TopicPartition
    next_offset: int | None  # next offset the pipeline has not seen
    version: int  # bumped whenever the pipeline state changes
    saved_version: int
    saved_offset: int | None
    committed: int | None
    ready: bool  # False until restored

    @property
    def pipeline(self) -> Snapshotting: ...


class DeliveryLedger(Protocol):
    """The changes not yet delivered, per origin (``service.fanout.FanOutSink``)."""

    seq: int

    def changed(self, origin: str) -> bool: ...

    def ledger(self, origin: str, captured_seq: int) -> tuple[bytes, int]: ...

    def saved(self, origin: str, captured_seq: int, dirty: int) -> None: ...


P = TypeVar("P", bound=Partition)


class Checkpointer(Generic[P]):
    """Runs the checkpoint sequence over ``parts`` (owned partitions by topic-partition).

    ``key(tp)`` names a partition in ``store``; ``flush()`` sends pending dead
    letters and returns False when one was refused (then nothing is saved);
    ``commit(offsets)`` returns False when there is no consumer to commit with;
    ``frozen()`` True forbids any save or commit.

    >>> import asyncio, tempfile
    >>> from dataclasses import dataclass
    >>> from aiokafka import TopicPartition
    >>> from detector.state.checkpointing import DirectoryStore, unpack_ledger
    >>> class Pipe:
    ...     def snapshot(self) -> bytes: return b"state"
    >>> @dataclass
    ... class Part:
    ...     tp: TopicPartition; pipeline: Pipe; next_offset: int | None = 7; version: int = 1
    ...     saved_version: int = 0; saved_offset: int | None = None
    ...     committed: int | None = None; ready: bool = True
    >>> class NoLedger:
    ...     seq = 0
    ...     def changed(self, origin): return False
    ...     def ledger(self, origin, seq): return b"", 0
    ...     def saved(self, origin, seq, dirty): pass
    >>> async def ok() -> bool: return True
    >>> async def commit(offsets) -> bool: return True
    >>> tp = TopicPartition("access", 0)
    >>> store = DirectoryStore(tempfile.mkdtemp())
    >>> ck = Checkpointer({tp: Part(tp, Pipe())}, NoLedger(), lambda tp: f"g:{tp.topic}:0",
    ...                   flush=ok, commit=commit, frozen=lambda: False, log=lambda *a, **k: None)
    >>> ck.store = store
    >>> asyncio.run(ck.checkpoint())
    1
    >>> unpack_ledger(store.load("g:access:0"))
    (7, b'state', b'')
    """

    def __init__(
        self,
        parts: dict[TopicPartition, P],
        ledger: DeliveryLedger,
        key: Callable[[TopicPartition], str],
        *,
        flush: Callable[[], Awaitable[bool]],
        commit: Callable[[Mapping[TopicPartition, int]], Awaitable[bool]],
        frozen: Callable[[], bool],
        log: Callable[..., None],
        timed: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self.parts = parts
        self.ledger = ledger
        self.key = key
        self.store: StateStore | None = None  # set once connected
        self._flush = flush
        self._commit = commit
        self._frozen = frozen
        self._log = log
        self._timed = timed
        self._lock = asyncio.Lock()
        self.last_success = time.monotonic()  # the last *successful* checkpoint (age metric)
        # sha256 of what this process last saved per key: a stored checkpoint with the same
        # digest is still ours (nobody saved since), see :meth:`saved_by_us`.
        self._digests: dict[str, bytes] = {}

    def _capture(self, tps: frozenset[TopicPartition] | None,
                 drop: bool) -> list[tuple[P, int, int, bytes | None]]:
        """(partition, version, offset, snapshot) to save; no snapshot: saved
        already, only the commit is behind."""
        captured: list[tuple[P, int, int, bytes | None]] = []
        for tp in sorted(self.parts if tps is None else tps):
            st = self.parts.pop(tp, None) if drop else self.parts.get(tp)
            if st is None or st.next_offset is None or not st.ready:
                continue
            if (st.version != st.saved_version or st.saved_offset is None
                    or self.ledger.changed(self.key(tp))):
                captured.append((st, st.version, st.next_offset, st.pipeline.snapshot()))
            elif st.committed != st.saved_offset:
                captured.append((st, st.version, st.saved_offset, None))
        return captured

    def saved_by_us(self, key: str, data: bytes) -> bool:
        """Whether ``data`` (loaded from the store under ``key``) is exactly what this
        process saved there last: then no other owner has saved since."""
        digest = self._digests.get(key)
        return digest is not None and hashlib.sha256(data).digest() == digest

    async def checkpoint(
        self, tps: frozenset[TopicPartition] | None = None, *, reason: str = "interval",
        drop: bool = False,
    ) -> int:
        """Checkpoint ``tps`` (default: all owned partitions); returns how many were saved.
        ``drop`` removes them from ``parts`` (a revoke)."""
        async with self._lock:
            t0 = time.monotonic()
            seq = self.ledger.seq  # the ledger's cut, captured with the states
            captured = self._capture(tps, drop)
            if self._frozen():
                return 0  # after a dead-letter failure nothing may be saved or committed
            if not captured:
                if tps is None:
                    self.last_success = time.monotonic()  # the stored state is current
                return 0
            try:
                offsets = await self._save(captured, seq)
            except _Refused:
                return 0
            except Exception as exc:
                # Nothing is lost: the previous checkpoint stays valid, and what
                # was flushed will be emitted again (same ids) after a restart.
                self._log("checkpoint failed", level="warning", reason=reason,
                          error=f"{type(exc).__name__}: {exc}"[:300])
                return 0
            took = time.monotonic() - t0
            self.last_success = time.monotonic()
            self._timed(took)
            self._log("checkpoint", reason=reason, partitions=len(captured),
                      offsets={f"{tp.topic}:{tp.partition}": o for tp, o in offsets.items()},
                      seconds=round(took, 3))
            return len(captured)

    async def _save(self, captured: list[tuple[P, int, int, bytes | None]],
                    seq: int) -> dict[TopicPartition, int]:
        if not await self._flush():
            raise _Refused
        store = self.store
        assert store is not None
        offsets: dict[TopicPartition, int] = {}
        for st, version, offset, snapshot in captured:
            if snapshot is not None:
                origin = self.key(st.tp)
                ledger, dirty = self.ledger.ledger(origin, seq)
                blob = pack(offset, snapshot, ledger)
                self._digests.pop(origin, None)  # a failed save may have replaced it
                self._digests[origin] = await asyncio.to_thread(_save, store, origin, blob)
                self.ledger.saved(origin, seq, dirty)
                st.saved_version, st.saved_offset = version, offset
            offsets[st.tp] = offset
        if await self._commit(offsets):
            for st, *_ in captured:
                st.committed = offsets.get(st.tp)
        return offsets


def _save(store: StateStore, key: str, blob: bytes) -> bytes:
    """Save ``blob`` under ``key``; its sha256 (hashed here, off the event loop: hashlib
    releases the GIL on megabytes of snapshot)."""
    store.save(key, blob)
    return hashlib.sha256(blob).digest()


class _Refused(Exception):
    """A dead letter was refused: the service stops, this checkpoint is abandoned."""
