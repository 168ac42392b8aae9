"""Scheduled retraining inside the service (`detector run --retrain-every`).

Each partition keeps a uniform sample of the access events it processed since
its last training (reservoir sampling, Algorithm L: a few random draws per
poll, not one per event). When the period is over, the sample is written as
OpenTelemetry JSON lines and ``detector train`` runs on it in a child process
(it is CPU-heavy: the event loop keeps consuming meanwhile), publishing a new
version of the partition's own model, ``request.<topic>.<partition>``. The
service's model check then swaps it in, as it does for any new ``current``.

Why a model per partition: the input topic is keyed by service, so a
partition holds whole services, and its model then covers exactly the routes
its pipeline sees. When a partition moves to another instance, the new owner
loads the partition's model from the registry (a shared volume or bucket
mount). A partition with no model of its own uses the registry's ``request``
model (from ``detector train`` on history), else learns online.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import random
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from detector.events import AccessEvent

_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MIN_TRAIN_EVENTS = 1_000  # fewer: the profiles would not be worth replacing


def partition_model_name(base: str, topic: str, partition: int) -> str:
    """The registry name of one partition's model (a registry-safe name, 64 chars at most).

    >>> partition_model_name("request", "access", 3)
    'request.access.3'
    """
    name = f"{base}.{topic}.{partition}"
    if _NAME_OK.fullmatch(name):
        return name
    digest = hashlib.sha256(topic.encode()).hexdigest()[:16]
    return f"{base}.{digest}.{partition}"


class Reservoir:
    """A uniform sample of at most ``capacity`` access events from a stream of polls.

    >>> ev = AccessEvent(0.0, "shop", None, "GET", "/", "", 200, 0.01, 1, "10.0.0.1", "ua",
    ...                  None, None, "topic:0", 0)
    >>> r = Reservoir(3, seed=1)
    >>> r.offer([ev._replace(offset=i) for i in range(100)])
    >>> len(r.events), r.seen
    (3, 100)
    >>> len(r.take()), r.seen
    (3, 0)
    """

    def __init__(self, capacity: int, *, seed: int | None = None) -> None:
        self.capacity = capacity
        self.rng = random.Random(seed)
        self.events: list[Any] = []
        self.seen = 0
        self._w = 1.0
        self._next = 0  # index (in the whole stream) of the next item to take

    def _skip(self) -> None:
        # Algorithm L (Li 1994): the gap to the next replacement, drawn once per replacement.
        rng = self.rng
        self._w *= math.exp(math.log(rng.random() or 1e-300) / self.capacity)
        if not self._w > 0.0:  # after ~10^8 replacements: stop sampling rather than fail
            self._next = sys.maxsize
            return
        gap = math.floor(math.log(rng.random() or 1e-300) / math.log1p(-self._w))
        self._next += gap + 1

    def offer(self, items: Sequence[Any]) -> None:
        """Consider every item of ``items`` (only access events are kept)."""
        n = len(items)
        start = self.seen
        events = self.events
        cap = self.capacity
        i = 0
        while len(events) < cap and i < n:  # filling up
            it = items[i]
            if type(it) is AccessEvent:
                events.append(it)
            i += 1
            if len(events) == cap:
                self._next = start + i - 1  # the last item taken; _skip moves past it
                self._skip()
        while self._next < start + n and len(events) >= cap:
            it = items[self._next - start]
            if type(it) is AccessEvent:
                events[self.rng.randrange(cap)] = it
            self._skip()
        self.seen = start + n

    def take(self) -> list[AccessEvent]:
        """The sample so far; the reservoir starts over (the next model sees newer traffic)."""
        out, self.events = self.events, []
        self.seen, self._w, self._next = 0, 1.0, 0
        return out


def event_json(ev: AccessEvent) -> bytes:
    """One event as the flat OpenTelemetry record the ``otel`` decoder reads back."""
    rec: dict[str, Any] = {
        "timestamp": ev.ts, "service.name": ev.service, "http.request.method": ev.method,
        "url.path": ev.path, "http.response.status_code": ev.status,
        "http.server.request.duration": ev.duration, "client.address": ev.client,
        "user_agent.original": ev.user_agent,
    }
    if ev.version is not None:
        rec["service.version"] = ev.version
    if ev.bytes is not None:
        rec["http.response.body.size"] = ev.bytes
    if ev.query:
        rec["url.query"] = ev.query
    if ev.body is not None:
        rec["http.request.body.content"] = ev.body
    if ev.headers:
        for name, value in ev.headers:
            rec["http.request.header." + name] = value
    return orjson.dumps(rec)


async def train_in_child(models: Path, name: str, events: Sequence[AccessEvent],
                         timeout: float = 1800.0) -> str:
    """Run ``detector train`` on ``events`` in a child process; the version it published.

    Raises RuntimeError with the child's last line of output when training fails.
    """
    from detector.models.registry import ModelRegistry

    ordered = sorted(events, key=lambda e: e.ts)
    with tempfile.TemporaryDirectory(prefix="detector-retrain-") as tmp:
        path = Path(tmp) / "sample.jsonl"
        await asyncio.to_thread(path.write_bytes,
                                b"".join(event_json(e) + b"\n" for e in ordered))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "detector", "train", str(path), "--out", str(models),
            "--format", "otel", "--name", name,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if proc.returncode != 0:
            lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.strip()]
            raise RuntimeError(lines[-1][:300] if lines else f"exit {proc.returncode}")
    version = await asyncio.to_thread(ModelRegistry(models).current, name)
    if version is None:
        raise RuntimeError("training finished but published no version")
    return version
