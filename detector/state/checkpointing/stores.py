"""Checkpoint storage: a two-method port (Drain3 style) and two stores.

What a store keeps per key is opaque bytes (a checkpoint, see ``format``).

* :class:`DirectoryStore`: one file per key, replaced atomically.
* :class:`KafkaChangelogStore`: a compacted topic; large snapshots are split
  into chunks followed by a manifest, in two alternating slots so that a crash
  half-way through writing one never spoils the previous complete snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import time
import urllib.parse
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

import orjson

from detector.kafka.config import KafkaConnection

T = TypeVar("T")


class StateStore(Protocol):
    """Where checkpoints live. Both calls may block; the service runs them in a thread."""

    def save(self, key: str, data: bytes) -> None: ...

    def load(self, key: str) -> bytes | None: ...


class DirectoryStore:
    """One file per key under ``path``; a save is atomic (temp file, fsync, rename).

    >>> import tempfile
    >>> s = DirectoryStore(tempfile.mkdtemp())
    >>> s.save("g:access:0", b"x"); s.load("g:access:0"), s.load("other")
    (b'x', None)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def _file(self, key: str) -> Path:
        return self.path / (urllib.parse.quote(key, safe="") + ".ckpt")

    def save(self, key: str, data: bytes) -> None:
        target = self._file(key)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        # The rename itself must reach the disk before offsets are committed.
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self, key: str) -> bytes | None:
        try:
            return self._file(key).read_bytes()
        except FileNotFoundError:
            return None


class _Manifest(NamedTuple):
    id: str
    slot: int
    chunks: int
    sha256: str


ID_HEADER = "detector.checkpoint.id"


class KafkaChangelogStore:
    """Checkpoints in a compacted Kafka topic (the Kafka Streams changelog pattern).

    Record keys: ``KEY`` for the manifest (JSON: id, slot, chunk count, sha256)
    and ``KEY#SLOT#I`` for chunk ``I``. Compaction keeps the newest record per
    key; chunks are written before their manifest and slots alternate, so the
    newest manifest always finds its chunks and an interrupted save leaves the
    previous snapshot whole. ``load`` reads the topic to its end (incrementally:
    it remembers where it stopped) and returns the newest complete snapshot.

    The port is synchronous; aiokafka clients run on a private event loop thread.
    """

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        *,
        chunk_bytes: int = 512 * 1024,
        timeout: float = 30.0,
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.chunk_bytes = chunk_bytes
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="changelog-store")
        self._thread.start()
        self._producer: Any = None
        self._consumer: Any = None
        self._manifests: dict[str, list[_Manifest]] = {}  # newest last, at most two
        self._chunks: dict[str, tuple[str, bytes]] = {}  # chunk key -> (checkpoint id, bytes)
        self._slot: dict[str, int] = {}
        self._lock = threading.Lock()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    # writing

    async def _save(self, key: str, data: bytes) -> None:
        from aiokafka import AIOKafkaProducer

        if self._producer is None:
            self._producer = AIOKafkaProducer(
                **self.connection.client_kwargs(), acks="all",
                max_request_size=self.chunk_bytes + 64 * 1024,
            )
            await self._producer.start()
        slot = self._slot.get(key, 1) ^ 1
        ck_id = f"{time.time_ns():x}"
        header = [(ID_HEADER, ck_id.encode())]
        parts = [data[i : i + self.chunk_bytes] for i in range(0, len(data), self.chunk_bytes)]
        parts = parts or [b""]
        futures = [
            await self._producer.send(self.topic, part, key=f"{key}#{slot}#{i}".encode(),
                                      headers=header)
            for i, part in enumerate(parts)
        ]
        await asyncio.gather(*futures)
        digest = hashlib.sha256(data).hexdigest()
        manifest = {"id": ck_id, "slot": slot, "chunks": len(parts), "sha256": digest}
        await (await self._producer.send(self.topic, orjson.dumps(manifest), key=key.encode()))
        self._slot[key] = slot
        # What this store wrote it knows: the next load need not wait for it.
        for i, part in enumerate(parts):
            self._chunks[f"{key}#{slot}#{i}"] = (ck_id, part)
        self._remember(key, _Manifest(ck_id, slot, len(parts), digest))

    def save(self, key: str, data: bytes) -> None:
        with self._lock:
            self._run(self._save(key, data))

    # reading

    def _remember(self, key: str, m: _Manifest) -> None:
        ms = [x for x in self._manifests.get(key, []) if x.id != m.id]
        ms.append(m)
        self._manifests[key] = ms[-2:]

    async def _catch_up(self) -> None:
        from detector.kafka.tail import assign_all, read_to_end

        if self._consumer is None:
            self._consumer = await assign_all(
                self.connection, self.topic, max_partition_fetch_bytes=4 * self.chunk_bytes
            )
        await read_to_end(self._consumer, self._apply, self.timeout)

    def _apply(self, r: Any) -> None:
        if r.key is None or r.value is None:
            return
        k = r.key.decode("utf-8", "replace")
        if "#" in k:
            ck_id = dict(r.headers or ()).get(ID_HEADER, b"").decode()
            self._chunks[k] = (ck_id, r.value)
            return
        with contextlib.suppress(ValueError, KeyError, TypeError):
            m = orjson.loads(r.value)
            self._remember(k, _Manifest(str(m["id"]), int(m["slot"]), int(m["chunks"]),
                                        str(m["sha256"])))

    def _assemble(self, key: str) -> bytes | None:
        for m in reversed(self._manifests.get(key, [])):
            parts = []
            for i in range(m.chunks):
                got = self._chunks.get(f"{key}#{m.slot}#{i}")
                if got is None or got[0] != m.id:
                    break
                parts.append(got[1])
            else:
                data = b"".join(parts)
                if hashlib.sha256(data).hexdigest() == m.sha256:
                    self._slot[key] = m.slot
                    return data
        return None

    def load(self, key: str) -> bytes | None:
        with self._lock:
            self._run(self._catch_up())
            return self._assemble(key)

    def close(self) -> None:
        async def stop() -> None:
            for client in (self._producer, self._consumer):
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.stop()

        with contextlib.suppress(Exception):
            self._run(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
