"""``kafka:TOPIC``: incident changes as CloudEvents (Kafka binary mode).

Each change is one record: key = service (an incident's changes stay in
order on one partition), value = the incident JSON (CONTRACTS §3), headers
``ce_specversion`` 1.0, ``ce_id`` = the incident id (as the issue that
defines this sink specifies), ``ce_subject`` = the incident id too,
``ce_type`` ``detector.incident.opened|updated|resolved``, ``ce_source``
``detector/<service>``, ``ce_time`` = detected_at, ``content-type``
application/json, and the extension ``ce_incidentchange`` = the change key
(incident id, status, end, severity).

CloudEvents lets a consumer treat two events with the same source and id as
duplicates, and an incident has many changes (``update`` repeats): consumers
that dedupe must use ``ce_incidentchange`` (or ce_id + ce_type + the value's
``end``), not ce_id alone. A record re-sent after a lost acknowledgement has
the same change key, so it is a true duplicate.

The sink protocol is synchronous: an aiokafka producer runs on a private event
loop thread. ``write()`` only queues; ``flush()`` sends the queue and waits
until the broker acknowledged everything (acks=all), up to ``flush_timeout_s``;
past that it raises a retriable :class:`SinkDeliveryError` and keeps every
unacknowledged change for the next flush (records already handed to the
producer are not sent twice by the sink; the producer retries them itself).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
import urllib.parse
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    UnknownError,
    UnsupportedVersionError,
)

from detector.incidents.model import Incident
from detector.kafka.config import DEFAULT_BOOTSTRAP, KafkaConnection
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError, change_key

log = logging.getLogger("detector.sinks")

BOOTSTRAP_ENV = "DETECTOR_KAFKA__BOOTSTRAP_SERVERS"
CE_TYPES = {"open": "detector.incident.opened", "update": "detector.incident.updated",
            "resolved": "detector.incident.resolved"}
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
# The broker answered InitProducerId but cannot give a producer id: it does not
# support idempotent producers (Tansu 0.6 answers UnknownError).
_NO_IDEMPOTENCE = (UnknownError, UnsupportedVersionError, ClusterAuthorizationFailedError)


def cloudevent_headers(incident: Incident) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binary-mode headers of one incident change.

    >>> from detector.incidents.model import Incident
    >>> inc = Incident(id="inc-1", status="open", kind="error_surge", severity="high",
    ...                service="pay", route="/r", method="GET", client=None,
    ...                start="2026-03-17T09:07:00Z", end="2026-03-17T09:08:00Z",
    ...                detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
    ...                evidence={}, deployment=None)
    >>> h = dict(cloudevent_headers(inc))
    >>> h["ce_id"], h["ce_incidentchange"]
    (b'inc-1', b'inc-1/open/2026-03-17T09:08:00Z/high')
    """
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", incident.id.encode()),
        ("ce_incidentchange", change_key(incident).encode()),
        ("ce_source", f"detector/{incident.service}".encode()),
        ("ce_type", CE_TYPES[incident.status].encode()),
        ("ce_subject", incident.id.encode()),
        ("ce_time", incident.detected_at.encode()),
        ("content-type", b"application/json"),
    ]


def _split_spec(arg: str) -> tuple[str, str]:
    """``TOPIC[?bootstrap=HOST:PORT]`` -> (topic, the spec's own bootstrap servers or '')."""
    topic, _, query = arg.partition("?")
    if not _TOPIC.match(topic):
        raise SinkError(f"kafka sink needs a topic name: kafka:TOPIC, not kafka:{arg}")
    params = urllib.parse.parse_qs(query, keep_blank_values=True) if query else {}
    unknown = set(params) - {"bootstrap"}
    if unknown:
        raise SinkError(f"kafka sink: unknown option {sorted(unknown)[0]!r} (bootstrap)")
    return topic, (params.get("bootstrap") or [""])[-1].strip()


def parse_spec(arg: str) -> tuple[str, str]:
    """``TOPIC[?bootstrap=HOST:PORT]`` -> (topic, bootstrap servers).

    >>> parse_spec("incidents?bootstrap=k1:9092,k2:9092")
    ('incidents', 'k1:9092,k2:9092')
    """
    topic, bootstrap = _split_spec(arg)
    bootstrap = bootstrap or os.environ.get(BOOTSTRAP_ENV, "").strip()
    return topic, bootstrap or DEFAULT_BOOTSTRAP


def spec_connection(arg: str, cluster: KafkaConnection | None = None
                    ) -> tuple[str, KafkaConnection]:
    """(topic, connection) of ``kafka:<arg>``. Without ``?bootstrap=`` the sink publishes to
    ``cluster`` (``detector run`` passes its own: same brokers, same security settings),
    else as :func:`parse_spec` says. A ``?bootstrap=`` of its own is another cluster:
    nothing of ``cluster`` (credentials included) goes there.

    >>> svc = KafkaConnection(bootstrap_servers="k1:9092")
    >>> spec_connection("incidents", svc) == ("incidents", svc)
    True
    >>> spec_connection("incidents?bootstrap=k2:9092", svc)[1].bootstrap_servers
    'k2:9092'
    """
    topic, bootstrap = _split_spec(arg)
    if bootstrap or cluster is None:
        topic, bootstrap = parse_spec(arg)
        return topic, KafkaConnection(bootstrap_servers=bootstrap)
    return topic, cluster


def sink_from_spec(arg: str, cluster: KafkaConnection | None = None) -> KafkaSink:
    """The sink of ``kafka:<arg>``, connected as :func:`spec_connection` says."""
    return KafkaSink(*spec_connection(arg, cluster))


class KafkaSink:
    """Publishes incident changes to a Kafka topic as CloudEvents::

        sink = KafkaSink("incidents", "127.0.0.1:9092")
        sink.write(incident)
        sink.flush()   # acknowledged by the broker, or SinkDeliveryError (retriable)
        sink.close()

    ``idempotence``: True requires an idempotent producer, False never asks for
    one, None (default) asks and falls back to a plain acks=all producer with
    one warning when the broker cannot give producer ids. Without it, a retry
    after a lost acknowledgement may duplicate a record: consumers dedupe by
    ``ce_incidentchange``. ``producer_options`` go to ``AIOKafkaProducer`` as is.
    """

    def __init__(
        self,
        topic: str,
        connection: KafkaConnection | str | None = None,
        *,
        flush_timeout_s: float = 30.0,
        idempotence: bool | None = None,
        max_backoff_s: float = 30.0,
        producer_options: dict[str, Any] | None = None,
    ) -> None:
        if not _TOPIC.match(topic):
            raise SinkError(f"kafka sink: invalid topic name {topic!r}")
        if connection is None:
            connection = os.environ.get(BOOTSTRAP_ENV) or DEFAULT_BOOTSTRAP
        self.connection = (KafkaConnection(bootstrap_servers=connection)
                           if isinstance(connection, str) else connection)
        self.topic = topic
        self.flush_timeout_s = flush_timeout_s
        self.idempotence = idempotence
        self.max_backoff_s = max_backoff_s
        self.producer_options = dict(producer_options or {})
        self.delivered = 0
        self.idempotent: bool | None = None  # known once the producer started
        self._queue: list[Incident] = []  # not yet handed to the producer
        self._queue_lock = threading.Lock()
        # Only touched on the loop thread:
        self._inflight: list[tuple[Incident, asyncio.Future[Any]]] = []
        self._producer: AIOKafkaProducer | None = None
        self._failures = 0
        self._next_start = 0.0
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sink-kafka",
                                        daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Changes written but not yet acknowledged."""
        with self._queue_lock:
            return len(self._queue) + len(self._inflight)

    def write(self, incident: Incident) -> None:
        if self._closed:
            raise SinkError("kafka sink is closed")
        with self._queue_lock:
            self._queue.append(incident)

    def flush(self) -> None:
        if self._closed:
            return
        deadline = time.monotonic() + self.flush_timeout_s
        fut = asyncio.run_coroutine_threadsafe(self._flush(deadline), self._loop)
        # _flush keeps to the deadline itself; the margin only guards a stuck loop.
        error = fut.result(self.flush_timeout_s + 5.0)
        if error:
            raise SinkDeliveryError(
                f"kafka sink {self.topic}@{self.connection.bootstrap_servers}: {self.pending} "
                f"incident changes not acknowledged yet ({error})", pending=self.pending)

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            stop = asyncio.run_coroutine_threadsafe(self._stop_producer(), self._loop)
            try:
                stop.result(10.0)
            except Exception as exc:  # closing anyway
                log.warning("kafka sink: producer did not stop cleanly: %s", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)
            if not self._thread.is_alive():
                self._loop.close()

    # -- loop thread --------------------------------------------------------

    async def _flush(self, deadline: float) -> str:
        """Send and wait; '' when everything is acknowledged, else why not."""
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                producer = await self._started(deadline)
                while True:
                    with self._queue_lock:
                        if not self._queue:
                            break
                        incident = self._queue[0]
                    fut = await producer.send(
                        self.topic, orjson.dumps(incident.model_dump(mode="json")),
                        key=incident.service.encode(), headers=cloudevent_headers(incident))
                    with self._queue_lock:
                        self._queue.pop(0)
                        self._inflight.append((incident, fut))
                if self._inflight:
                    await asyncio.wait([f for _, f in self._inflight])
        except TimeoutError:
            self._settle()
            return "timed out waiting for the broker"
        except Exception as exc:
            self._settle()
            return f"{type(exc).__name__}: {exc}".rstrip(": ")
        return self._settle()

    def _settle(self) -> str:
        """Drop acknowledged changes, requeue failed ones (first, in order)."""
        keep: list[tuple[Incident, asyncio.Future[Any]]] = []
        failed: list[Incident] = []
        error = ""
        for incident, fut in self._inflight:
            if not fut.done():
                keep.append((incident, fut))
            elif fut.cancelled() or fut.exception() is not None:
                failed.append(incident)
                exc = fut.exception() if not fut.cancelled() else None
                error = f"{type(exc).__name__}: {exc}" if exc else "cancelled"
            else:
                self.delivered += 1
        with self._queue_lock:
            self._inflight = keep
            self._queue[:0] = failed
        if keep and not error:
            error = f"{len(keep)} records awaiting acknowledgement"
        return error

    async def _started(self, deadline: float) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        wait = self._next_start - time.monotonic()
        if wait > 0:
            await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))
        try:
            self._producer = await self._start(self.idempotence is not False)
        except _NO_IDEMPOTENCE as exc:
            if self.idempotence:
                self._backoff()
                raise
            log.warning("kafka sink: broker %s gives no producer ids (%s): idempotence off, "
                        "consumers dedupe by ce_incidentchange", self.connection.bootstrap_servers,
                        type(exc).__name__)
            try:
                self._producer = await self._start(False)
            except Exception:
                self._backoff()
                raise
        except Exception:
            self._backoff()
            raise
        self._failures = 0
        return self._producer

    async def _start(self, idempotent: bool) -> AIOKafkaProducer:
        options = {"acks": "all", **self.producer_options, "enable_idempotence": idempotent}
        producer = AIOKafkaProducer(**self.connection.client_kwargs(), **options)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self.idempotent = idempotent
        return producer

    def _backoff(self) -> None:
        self._failures += 1
        delay = min(self.max_backoff_s, 0.2 * 2 ** min(self._failures, 20))
        self._next_start = time.monotonic() + delay

    async def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
