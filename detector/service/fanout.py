"""Delivery of incident changes to the sinks, off the detection path, with a ledger.

A sink that is slow or hangs (an HTTP endpoint timing out, a locked database)
must not stall detection, and a restart must neither drop nor repeat a change.
So pipelines never call a sink: they hand each change to :class:`FanOutSink`,
which records it in the **ledger** (per origin partition: changes not yet
delivered to every sink) and queues it for one delivery thread per sink. A
change leaves the ledger for a sink once that sink's ``write`` and then
``flush`` returned (``flush`` confirms: the broker's ack, the HTTP 2xx).

The ledger of a partition is saved *inside* its checkpoint (``runtime.checkpoint``),
relative to the change sequence number at which the state was captured:
every undelivered change is in it (re-delivered after a restart), and so are
the keys of changes emitted after the capture and already delivered: the
restored pipeline emits those again and the ledger tells the fan-out to skip
them (change keys are every sink's idempotency key, CONTRACTS). A crash
between two checkpoints can still repeat what was delivered since the last
one; the sinks' idempotency keys absorb that, as before.

Order: a sink that asks for it (``ordered = True``: the stdout sink, read by
people) gets the changes of all partitions in event-time order. Each
partition's pipeline runs at its own pace, so a change is held until every
partition that may still emit an earlier one has passed its time: a change
is stamped with the end of the window whose close emitted it, and
:meth:`FanOutSink.release` is given the lowest watermark of the partitions that
may still emit after each turn (a window closes once the watermark passed its
end: a partition's later changes come later than its watermark), and
everything at the end (drain, shutdown). Paging sinks are never held.

Bound: a sink holding ``max_pending`` undelivered changes makes
:meth:`FanOutSink.over_bound` true and the service pauses consumption
(``detector_sink_backpressure``, a log line) until it caught up; nothing is
dropped.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from detector.incidents.model import Incident
from detector.service.metrics import Metrics
from detector.sinks.base import Sink
from detector.sinks.delivery import change_key

BATCH = 100  # changes written before one flush (the sink's confirmation)
LEDGER_VERSION = 1
Log = Callable[..., None]


@dataclass
class _Entry:
    seq: int
    origin: str
    key: str
    incident: Incident
    waiting: set[str]  # sinks it has not been delivered to yet
    # False for a change taken over from a restored ledger that the restored
    # pipeline will emit again (it followed the capture) and has not yet.
    matched: bool = True
    at: float = -math.inf  # event time it was emitted at: the end of the window closing


@dataclass
class _Lane:
    """One sink, its queue and its delivery thread's bookkeeping."""

    name: str
    sink: Sink
    ordered: bool = False  # changes held until released in event-time order
    held: list[tuple[float, int, _Entry]] = field(default_factory=list)  # a heap
    queue: deque[_Entry] = field(default_factory=deque)
    inflight: list[_Entry] = field(default_factory=list)
    handed: int = 0  # of ``inflight``, how many the sink's write() accepted
    delivered: int = 0
    failures: int = 0
    failing_since: float | None = None
    attempt_started: float | None = None  # a write/flush in progress since then
    last_error: str = ""
    thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return len(self.held) + len(self.queue) + len(self.inflight)

    def trouble(self, now: float) -> tuple[float, str]:
        """(seconds failing or stuck in one attempt, why); (0, '') when delivering."""
        if self.failing_since is not None:
            return now - self.failing_since, self.last_error
        if self.attempt_started is not None:
            took = now - self.attempt_started
            return took, f"write/flush has not returned for {took:.0f} s"
        return 0.0, ""


def _lane_names(sinks: list[Sink]) -> list[str]:
    names: list[str] = []
    for s in sinks:  # jsonl, webhook, webhook#2...
        base = type(s).__name__.removesuffix("Sink").lower() or "sink"
        n = sum(1 for x in names if x == base or x.startswith(base + "#"))
        names.append(f"{base}#{n + 1}" if n else base)
    return names


class OriginWriter:
    """The sink a partition's pipeline writes to: tags each change with its origin and
    the event time it is emitted at (``clock``, set once the pipeline exists)."""

    def __init__(self, fanout: FanOutSink, origin: str) -> None:
        self.fanout = fanout
        self.origin = origin
        self.clock: Callable[[], float] | None = None

    def write(self, incident: Incident) -> None:
        at = self.clock() if self.clock is not None else -math.inf
        self.fanout.submit(self.origin, incident, at)

    def flush(self) -> None:
        return None  # delivery is asynchronous; the checkpoint saves the ledger instead

    def close(self) -> None:
        return None


class FanOutSink:
    """Queues incident changes for every sink (one delivery thread each), keeps the ledger.

    ``write`` never blocks. ``failing()`` names sinks failing for longer than
    ``failing_after`` seconds (``/healthz``); ``over_bound()`` says a sink has
    ``max_pending`` changes undelivered (the service then pauses consumption).
    """

    def __init__(self, sinks: list[Sink], metrics: Metrics, *, max_pending: int = 10_000,
                 failing_after: float = 300.0, log: Log | None = None,
                 retry_base: float = 0.5, retry_max: float = 30.0) -> None:
        self.sinks = sinks
        self.metrics = metrics
        self.max_pending = max_pending
        self.failing_after = failing_after
        self.log: Log = log or (lambda *a, **k: None)
        self.retry_base, self.retry_max = retry_base, retry_max
        self.batch = BATCH
        self.lanes = [_Lane(n, s, ordered=bool(getattr(s, "ordered", False)))
                      for n, s in zip(_lane_names(sinks), sinks, strict=True)]
        self.seq = 0  # sequence number of the last change submitted
        self._entries: dict[str, dict[str, _Entry]] = {}  # origin -> key -> undelivered
        # origin -> key -> seq of its emission (None: known from a restored ledger,
        # not re-emitted yet): delivered changes the replay must not deliver again.
        self._delivered: dict[str, dict[str, int | None]] = {}
        self._dirty: dict[str, int] = {}  # origin -> ledger changes since its last save
        self.skipped = 0  # re-emitted changes the ledger knew
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._started = False
        self._reported: set[str] = set()  # sinks logged as unhealthy
        metrics.collectors.append(self._collect)

    # ---- the pipelines' side ----------------------------------------------
    def origin(self, origin: str) -> OriginWriter:
        return OriginWriter(self, origin)

    def submit(self, origin: str, incident: Incident, at: float = -math.inf) -> None:
        self.metrics.inc("detector_incident_changes_total", "Incident state changes emitted.",
                         kind=incident.kind, status=incident.status)
        if incident.suppressed and incident.status == "open":
            self.metrics.inc("detector_incidents_suppressed_total",
                             "Incidents opened under a suppression rule or maintenance "
                             "window: stored, not paged.", kind=incident.kind)
        key = change_key(incident)
        with self._cond:
            self.seq += 1
            delivered = self._delivered.setdefault(origin, {})
            entries = self._entries.setdefault(origin, {})
            if key in entries or key in delivered:
                # Re-emitted by a restored pipeline: already in the ledger. From now
                # on it is an ordinary change of this run (seq: where it was emitted).
                if key in delivered and delivered[key] is None:
                    delivered[key] = self.seq
                pending = entries.get(key)
                if pending is not None and not pending.matched:
                    pending.matched, pending.seq = True, self.seq
                self.skipped += 1
                return
            if not self.lanes:
                delivered[key] = self.seq
                return
            entry = _Entry(self.seq, origin, key, incident, {ln.name for ln in self.lanes},
                           at=at)
            entries[key] = entry
            for lane in self.lanes:
                if lane.ordered:
                    heapq.heappush(lane.held, (at, entry.seq, entry))
                else:
                    lane.queue.append(entry)
            self._dirty[origin] = self._dirty.get(origin, 0) + 1
            self._cond.notify_all()
        self._ensure_started()

    def release(self, bound: float) -> None:
        """Hand ordered sinks the held changes emitted at watermarks up to ``bound``
        (no partition can emit an earlier one any more); ``math.inf``: all of them."""
        with self._cond:
            moved = False
            for lane in self.lanes:
                held = lane.held
                while held and held[0][0] <= bound:
                    lane.queue.append(heapq.heappop(held)[2])
                    moved = True
            if moved:
                self._cond.notify_all()

    # ---- ledger -----------------------------------------------------------
    def ledger(self, origin: str, captured_seq: int) -> tuple[bytes, int]:
        """(the origin's ledger as bytes, its change count) for a checkpoint captured at
        ``captured_seq``; pass the count to :meth:`saved` once stored."""
        with self._cond:
            # "replays": the restored pipeline will emit it again (it follows the cut).
            pending = [{"key": e.key, "sinks": sorted(e.waiting),
                        "replays": not e.matched or e.seq > captured_seq,
                        "incident": e.incident.model_dump(mode="json")}
                       for e in sorted(self._entries.get(origin, {}).values(),
                                       key=lambda e: e.seq)]
            done = [k for k, s in self._delivered.get(origin, {}).items()
                    if s is None or s > captured_seq]
            dirty = self._dirty.get(origin, 0)
        if not pending and not done:
            return b"", dirty
        return orjson.dumps({"v": LEDGER_VERSION, "pending": pending, "delivered": done}), dirty

    def changed(self, origin: str) -> bool:
        """Whether the origin's ledger changed since it was last saved."""
        with self._cond:
            return self._dirty.get(origin, 0) > 0

    def saved(self, origin: str, captured_seq: int, dirty: int) -> None:
        """The origin's checkpoint captured at ``captured_seq`` is stored: forget what
        no restart can re-emit any more."""
        with self._cond:
            d = self._delivered.get(origin, {})
            for k in [k for k, s in d.items() if s is not None and s <= captured_seq]:
                del d[k]
            self._dirty[origin] = max(0, self._dirty.get(origin, 0) - dirty)

    def restore(self, origin: str, data: bytes) -> None:
        """Take over a restored partition's ledger: re-deliver what was pending."""
        if not data:
            return
        doc = orjson.loads(data)
        names = {ln.name for ln in self.lanes}
        lost: dict[str, int] = {}
        with self._cond:
            entries = self._entries.setdefault(origin, {})
            delivered = self._delivered.setdefault(origin, {})
            for k in doc.get("delivered", []):
                delivered.setdefault(str(k), None)
            for p in doc.get("pending", []):
                want = set(p["sinks"])
                for gone in want - names:
                    lost[gone] = lost.get(gone, 0) + 1
                want &= names
                key = str(p["key"])
                if not want:
                    delivered.setdefault(key, None)
                    continue
                self.seq += 1
                entry = _Entry(self.seq, origin, key, Incident.model_validate(p["incident"]),
                               want, matched=not p.get("replays", True))
                entries[key] = entry
                for lane in self.lanes:
                    if lane.name in want:
                        lane.queue.append(entry)
            self._cond.notify_all()
        for name, n in lost.items():
            # The sink is no longer configured: say so, once, with the count.
            self.log("ledger names a sink not configured", level="warning", origin=origin,
                     sink=name, undelivered=n)
        self._ensure_started()

    def forget(self, origin: str) -> None:
        """The partition moved away: its new owner delivers from the saved ledger."""
        with self._cond:
            self._entries.pop(origin, None)
            self._delivered.pop(origin, None)
            self._dirty.pop(origin, None)
            for lane in self.lanes:
                lane.queue = deque(e for e in lane.queue if e.origin != origin)
                lane.held = [h for h in lane.held if h[2].origin != origin]
                heapq.heapify(lane.held)

    # ---- state ------------------------------------------------------------
    def pending(self) -> dict[str, int]:
        with self._cond:
            return {ln.name: ln.pending for ln in self.lanes}

    def over_bound(self) -> bool:
        # Changes held for ordering do not count: they wait for the other partitions to
        # move on, which pausing consumption would prevent.
        with self._cond:
            return any(ln.pending - len(ln.held) >= self.max_pending for ln in self.lanes)

    def failing(self, now: float | None = None) -> list[tuple[str, float, str]]:
        """(sink, seconds failing, last error) of sinks failing longer than the threshold."""
        now = time.monotonic() if now is None else now
        with self._cond:
            out = [(ln.name, *ln.trouble(now)) for ln in self.lanes]
        bad = [(name, secs, why) for name, secs, why in out
               if why and secs >= self.failing_after]
        names = {name for name, _, _ in bad}
        for name, secs, why in bad:
            if name not in self._reported:  # one line when a sink turns unhealthy
                self.log("sink unhealthy", level="error", sink=name, seconds=round(secs, 1),
                         error=why, pending=self.pending()[name])
        self._reported = names
        return bad

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until every sink has everything; True if so."""
        self.release(math.inf)  # the end: nothing is held back any more
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(ln.pending for ln in self.lanes):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def stop(self, timeout: float = 2.0) -> None:
        """Stop delivering; the undelivered stay in the ledger (a hung thread is left behind)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for ln in self.lanes:
            if ln.thread is not None:
                ln.thread.join(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        self.stop()
        for ln in self.lanes:
            try:
                ln.sink.close()
            except Exception as exc:
                self.log("sink close failed", level="warning", sink=ln.name,
                         error=f"{type(exc).__name__}: {exc}"[:300])

    # ---- delivery threads ---------------------------------------------------
    def _ensure_started(self) -> None:
        if self._started or self._stop.is_set():
            return
        self._started = True
        for ln in self.lanes:
            ln.thread = threading.Thread(target=self._deliver, args=(ln,),
                                         name=f"deliver-{ln.name}", daemon=True)
            ln.thread.start()

    def _deliver(self, ln: _Lane) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not ln.inflight and not ln.queue and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                while ln.queue and len(ln.inflight) < self.batch:
                    ln.inflight.append(ln.queue.popleft())
                batch = list(ln.inflight)
                handed = ln.handed
                ln.attempt_started = time.monotonic()
            try:
                for e in batch[handed:]:
                    ln.sink.write(e.incident)
                    handed += 1
                ln.sink.flush()
            except Exception as exc:
                self._failed(ln, handed, exc)
                continue
            self._done(ln, batch)

    def _failed(self, ln: _Lane, handed: int, exc: Exception) -> None:
        now = time.monotonic()
        with self._cond:
            # What write() accepted stays with the sink (it retries it itself);
            # the next attempt writes the rest and asks flush() again.
            ln.handed = handed
            ln.attempt_started = None
            ln.failures += 1
            ln.last_error = f"{type(exc).__name__}: {exc}"[:300]
            first = ln.failing_since is None
            if first:
                ln.failing_since = now
            attempt = ln.failures
        if first:
            self.log("sink failing", level="warning", sink=ln.name, pending=ln.pending,
                     error=ln.last_error)
        self._stop.wait(min(self.retry_max, self.retry_base * 2 ** min(attempt - 1, 16)))

    def _done(self, ln: _Lane, batch: list[_Entry]) -> None:
        with self._cond:
            recovered = ln.failing_since is not None
            ln.inflight = ln.inflight[len(batch):]
            ln.handed = 0
            ln.attempt_started = None
            ln.delivered += len(batch)
            ln.failures, ln.failing_since = 0, None
            for e in batch:
                e.waiting.discard(ln.name)
                if e.waiting:
                    continue
                entries = self._entries.get(e.origin)
                if entries is not None and entries.pop(e.key, None) is not None:
                    # Unmatched: kept (as None) until the replay re-emits it.
                    self._delivered.setdefault(e.origin, {})[e.key] = (
                        e.seq if e.matched else None)
                    self._dirty[e.origin] = self._dirty.get(e.origin, 0) + 1
            self._cond.notify_all()
        if recovered:
            self.log("sink recovered", sink=ln.name, delivered=len(batch))

    def _collect(self, m: Metrics) -> None:
        now = time.monotonic()
        with self._cond:
            rows: list[tuple[str, int, int, float, int]] = [
                (ln.name, ln.pending, ln.delivered, ln.trouble(now)[0], ln.failures)
                for ln in self.lanes]
            skipped = self.skipped
        for name, pending, delivered, failing, failures in rows:
            m.set("detector_sink_pending", "Incident changes not yet delivered to the sink.",
                  pending, sink=name)
            m.count("detector_sink_delivered_total", "Incident changes delivered (confirmed "
                    "by the sink's flush).", delivered, sink=name)
            m.set("detector_sink_failing_seconds", "Seconds the sink has been failing or "
                  "stuck in one delivery attempt (0: idle).", failing, sink=name)
            m.set("detector_sink_consecutive_failures", "Failed delivery attempts in a row.",
                  failures, sink=name)
        m.count("detector_sink_replays_skipped_total", "Changes re-emitted after a restore "
                "that the delivery ledger already had.", skipped)

