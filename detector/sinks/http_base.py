"""What the HTTP sinks share: secrets, URL checks, the retry policy and
:class:`HttpSink`, a queue with one sender thread over :mod:`detector.sinks.guarded`.

``write()`` never blocks: it queues the change for the sender, which POSTs in
order. Timeouts, connection errors, 408, 425, 429 and 5xx are retried with
exponential backoff; for ever by default (the service: nothing is dropped while
the target is down, ``flush()`` raises a retriable error and the checkpoint
waits), or a few attempts per change in a finite run (``bound_retries()``,
called by ``replay``). A 3xx (redirects are never followed), another 4xx or a
refused target (loopback, private, link-local, metadata; see
:mod:`detector.sinks.guarded`) means the change cannot be delivered as
configured: it is given up and counted in :attr:`HttpSink.undelivered`.
Each distinct problem is logged once, not once per change.
"""

from __future__ import annotations

import http.client
import logging
import os
import random
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from detector import __version__
from detector.incidents.model import Incident
from detector.sinks import guarded
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError, change_key

log = logging.getLogger("detector.sinks")

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))


def resolve_secret(arg: str, scheme: str) -> str:
    """The value itself, or read from ``env:VARNAME`` / ``file:/path``.

    >>> import os; os.environ["DOCTEST_HOOK"] = "https://hooks.example/x"
    >>> resolve_secret("env:DOCTEST_HOOK", "webhook")
    'https://hooks.example/x'
    """
    source, _, rest = arg.partition(":")
    if source == "env" and rest:
        value = os.environ.get(rest, "").strip()
        if not value:
            raise SinkError(f"{scheme} sink: environment variable {rest} is not set")
        return value
    if source == "file" and rest and not rest.startswith("//"):
        try:
            value = Path(rest).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SinkError(f"{scheme} sink: cannot read {rest}: {exc.strerror}") from None
        if not value:
            raise SinkError(f"{scheme} sink: {rest} is empty")
        return value
    if not arg:
        raise SinkError(f"{scheme} sink needs a value: {scheme}:VALUE, {scheme}:env:VAR "
                        f"or {scheme}:file:PATH")
    return arg


def redact(url: str) -> str:
    """Scheme and host only: the path and query of a webhook URL are its secret.

    >>> redact("https://hooks.slack.com/services/T0/B0/XYZ")
    'https://hooks.slack.com/...'
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<url>"
    if not parts.scheme or not parts.netloc:
        return "<url>"
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}/..."


def check_url(url: str, scheme: str, allow_private: bool) -> str:
    """``url`` when it is an http(s) URL to a target the sinks may use, else SinkError."""
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # a non-numeric port raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise SinkError(f"{scheme} sink needs an http(s) URL, not {redact(url)!r}")
    why = guarded.host_refusal(parts.hostname, allow_private)
    if why:
        raise SinkError(f"{scheme} sink: refusing {redact(url)}: {parts.hostname} is {why}"
                        + ("" if allow_private else
                           f" (set {guarded.ALLOW_PRIVATE_ENV}=1 to allow private targets)"))
    return url


@dataclass(frozen=True)
class Retry:
    """Backoff and time bounds of an HTTP sink (seconds).

    ``request_timeout_s`` is the deadline of one whole request (resolve,
    connect, send, answer); ``attempts`` the tries per change once retries are
    bounded (:meth:`HttpSink.bound_retries`).
    """

    base_s: float = 0.5
    max_s: float = 30.0
    request_timeout_s: float = 10.0
    flush_timeout_s: float = 30.0
    attempts: int = 3

    def delay(self, attempt: int) -> float:
        """Exponential with jitter: about base * 2**attempt, capped at max."""
        cap = min(self.max_s, self.base_s * 2 ** min(attempt, 30))
        return float(cap * random.uniform(0.5, 1.0))


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: dict[str, str]


class _Failure(Exception):
    """One failed request; ``reason`` is stable across changes (logged once)."""

    def __init__(self, reason: str, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.retry_after = retry_after


class _Retriable(_Failure):
    pass


class _Rejected(_Failure):
    pass


class HttpSink:
    """Base of the HTTP sinks: a bounded queue and one sender thread.

    Subclasses pass the target URL and turn an incident into requests
    (:meth:`requests`). ``max_pending`` bounds the queue softly: past it,
    changes superseded by a later change of the same incident are dropped (the
    latest state of every incident is kept, so memory is bounded by the open
    incidents). ``allow_private`` (default: ``DETECTOR_SINKS__ALLOW_PRIVATE``)
    lets the sink send to loopback and private addresses.
    """

    scheme = "http"
    url = ""

    def __init__(self, url: str, *, retry: Retry | None = None, max_pending: int = 10_000,
                 allow_private: bool | None = None) -> None:
        self.allow_private = _allow_private(allow_private, self.scheme)
        self.url = check_url(url, self.scheme, self.allow_private)
        self.retry = retry or Retry()
        self.max_pending = max_pending
        self.delivered = 0
        self.rejected = 0  # given up: 3xx, 4xx, refused target, payload bug
        self.failed = 0  # given up after the bounded retries
        self.superseded = 0  # dropped from an overfull queue, a later change was kept
        self.withheld = 0  # suppressed changes (CONTRACTS §7): kept by stores, never paged
        self.last_error = ""
        self._logged = ""  # the problem last logged, so each one is logged once
        self._bounded = False
        self._down = False  # bounded: the last change failed every attempt
        self._flush_expired = False
        self._queue: deque[Incident] = deque()
        self._compact_at = max_pending
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.scheme}",
                                        daemon=True)
        self._thread.start()

    @property
    def label(self) -> str:
        """The sink as it may be shown: scheme and host, never the URL's secret parts."""
        return f"{self.scheme}:{redact(self.url)}"

    @property
    def _who(self) -> str:
        return f"{self.scheme} sink {redact(self.url)}"

    def requests(self, incident: Incident) -> list[HttpRequest]:
        raise NotImplementedError

    def bound_retries(self) -> None:
        """A finite run (``replay``): give a change up after ``retry.attempts``
        tries, and once the target failed every attempt of a change, try each
        following change once until one goes through; ``close()`` does not wait
        again after a ``flush()`` ran out of time."""
        with self._cond:
            self._bounded = True
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def undelivered(self) -> int:
        """Changes written that were not delivered (given up, superseded or still queued)."""
        with self._cond:
            return self.rejected + self.failed + self.superseded + len(self._queue)

    def write(self, incident: Incident) -> None:
        if incident.suppressed:  # a paging sink: what a rule says is fine pages nobody
            self.withheld += 1
            return
        with self._cond:
            self._queue.append(incident)
            if len(self._queue) > self._compact_at:
                self._compact()
            self._cond.notify_all()

    def _compact(self) -> None:
        # Keep the head (maybe in flight) and the last change of every incident.
        head = self._queue.popleft()
        seen: set[str] = set()
        kept: list[Incident] = []
        for inc in reversed(self._queue):
            if inc.id in seen:
                self.superseded += 1
                continue
            seen.add(inc.id)
            kept.append(inc)
        kept.reverse()
        self._queue = deque([head, *kept])
        self._compact_at = max(self.max_pending, 2 * len(self._queue))
        log.warning("%s sink: %d changes queued (target down?); superseded changes dropped, "
                    "latest state of each incident kept", self.scheme, len(self._queue))

    def flush(self) -> None:
        """Wait until every queued change is delivered or given up, up to
        ``retry.flush_timeout_s``; else raise a retriable SinkDeliveryError."""
        deadline = time.monotonic() + self.retry.flush_timeout_s
        with self._cond:
            while self._queue:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    self._flush_expired = True
                    n = len(self._queue)
                    raise SinkDeliveryError(
                        f"{self._who}: {n} incident changes not delivered yet "
                        f"({self.last_error or 'sender stopped'})", pending=n)
                self._cond.wait(left)
            self._flush_expired = False

    def close(self) -> None:
        try:
            if self._bounded and self._flush_expired and self._queue:
                n = len(self._queue)  # waited once already: do not hold the run again
                raise SinkDeliveryError(f"{self._who}: {n} incident changes not "
                                        f"delivered ({self.last_error})", pending=n)
            self.flush()
        finally:
            self._stop.set()
            with self._cond:
                self._cond.notify_all()
            self._thread.join(self.retry.request_timeout_s + 1.0)

    def _note(self, reason: str, how: str) -> None:
        """Remember ``reason``; log it (with ``how``) only when it is a new one."""
        self.last_error = reason
        if reason != self._logged:
            self._logged = reason
            log.warning("%s: %s%s", self._who, reason, how)

    def _limit(self) -> int | None:
        """Attempts the head change gets, None for unbounded."""
        if not self._bounded:
            return None
        return 1 if self._down else max(1, self.retry.attempts)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                incident = self._queue[0]
            try:
                for req in self.requests(incident):
                    self._post(req)
            except _Retriable as exc:
                attempt += 1
                limit = self._limit()
                tries = "" if limit is None else f", {limit} attempts per change"
                self._note(exc.reason, f" (retrying{tries})")
                if limit is None or attempt < limit:
                    wait = self.retry.delay(attempt - 1)
                    if exc.retry_after is not None:
                        wait = min(self.retry.max_s, max(wait, exc.retry_after))
                    self._stop.wait(wait)
                    continue
                self.failed += 1
                self._down = True  # the next changes get one attempt until one goes through
            except _Rejected as exc:
                self.rejected += 1
                self.last_error = str(exc)
                if exc.reason != self._logged:
                    self._logged = exc.reason
                    log.warning("%s: gave up on %s: %s", self._who,
                                change_key(incident), exc)
            except Exception as exc:  # a bug building the payload: do not spin on it
                self.rejected += 1
                log.error("%s: gave up on %s: %s: %s", self._who, change_key(incident),
                          type(exc).__name__, exc)
            else:
                self.delivered += 1
                if self._down or self._logged:
                    self._down = False
                    self._logged = ""
                    log.info("%s: delivering again", self._who)
            attempt = 0
            with self._cond:
                if self._queue and self._queue[0] is incident:
                    self._queue.popleft()
                self._cond.notify_all()

    def _post(self, req: HttpRequest) -> None:
        where = redact(req.url)
        headers = {"Content-Type": "application/json",
                   "User-Agent": f"detector/{__version__}", **req.headers}
        try:
            resp = guarded.post(req.url, req.body, headers,
                                deadline_s=self.retry.request_timeout_s,
                                allow_private=self.allow_private)
        except guarded.TargetRefused as exc:
            hint = "" if self.allow_private else f"; {guarded.ALLOW_PRIVATE_ENV}=1 allows private"
            raise _Rejected(f"refused target: {exc}{hint}") from None
        except TimeoutError as exc:
            raise _Retriable(f"no answer in time: {exc or 'timed out'}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Retriable(f"cannot reach it: {exc or type(exc).__name__}") from None
        status = resp.status
        if 200 <= status < 300:
            return
        detail = resp.body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
        if 300 <= status < 400:  # following would resend (or drop) the change elsewhere
            to = resp.headers.get("Location") or "?"
            raise _Rejected(f"HTTP {status} redirect not followed (to "
                            f"{redact(to) if '://' in to else 'a relative URL'}): "
                            "configure the final URL")
        if status in RETRY_STATUS:
            raise _Retriable(f"HTTP {status}",
                             retry_after=_retry_after(resp.headers.get("Retry-After")))
        raise _Rejected(f"HTTP {status} from {where}", detail[:200])


def _allow_private(value: bool | None, scheme: str) -> bool:
    if value is not None:
        return value
    try:
        return guarded.allow_private_from_env()
    except ValueError as exc:
        raise SinkError(f"{scheme} sink: {exc}") from None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
