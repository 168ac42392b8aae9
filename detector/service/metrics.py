"""Prometheus text exposition (hand-written, no client library) and the HTTP endpoints.

``/metrics``, ``/healthz`` (the process, its loop and its sinks are alive) and
``/readyz`` (partitions restored and the broker answering), served with
asyncio's ``start_server``: one tiny request per connection, no keep-alive.
``POST /verdict`` answers Flagger's webhook (:mod:`detector.service.webhook`).

The port may be reachable by anyone on the network, so a connection is
bounded: a request line up to 8 KiB (else 414), headers up to 32 KiB and 100
lines (else 431), GET/HEAD only but for ``POST /verdict`` (else 405), a total
deadline per connection (a slow client gets 408 and is cut off), and a cap on
simultaneous connections (beyond it 503 at once). Rejections are counted in
``detector_http_rejected_total``, never logged per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detector.service.webhook import VerdictWebhook

Labels = tuple[tuple[str, str], ...]

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_esc(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


@dataclass
class _Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str
    values: dict[Labels, float] = field(default_factory=dict)
    buckets: tuple[float, ...] = ()
    hist: dict[Labels, list[float]] = field(default_factory=dict)  # bucket counts, sum, count


class Metrics:
    """A small metrics registry rendering the Prometheus text format.

    >>> m = Metrics()
    >>> m.inc("detector_records_total", "Records consumed.", topic="access")
    >>> m.observe("detector_checkpoint_seconds", "Checkpoint duration.", 0.02)
    >>> print(m.render().splitlines()[2])
    detector_records_total{topic="access"} 1
    """

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self.collectors: list[Callable[[Metrics], None]] = []  # refresh gauges before render

    def _family(self, name: str, kind: str, help_: str) -> _Family:
        f = self._families.get(name)
        if f is None:
            f = self._families[name] = _Family(name, kind, help_)
            if kind == "histogram":
                f.buckets = LATENCY_BUCKETS
        return f

    def inc(self, name: str, help_: str, amount: float = 1.0, **labels: str) -> None:
        f = self._family(name, "counter", help_)
        key = tuple(sorted(labels.items()))
        f.values[key] = f.values.get(key, 0.0) + amount

    def set(self, name: str, help_: str, value: float, **labels: str) -> None:
        f = self._family(name, "gauge", help_)
        f.values[tuple(sorted(labels.items()))] = value

    def count(self, name: str, help_: str, total: float, **labels: str) -> None:
        """Set a counter to a running total kept elsewhere (e.g. by a sink's thread)."""
        f = self._family(name, "counter", help_)
        f.values[tuple(sorted(labels.items()))] = total

    def declare(self, name: str, kind: str, help_: str) -> None:
        """Register a family before its first sample, so a scrape always names it
        (HELP and TYPE lines), even when it has no sample at that moment."""
        self._family(name, kind, help_)

    def value(self, name: str, **labels: str) -> float:
        """The current value of a counter or gauge (0 when never set)."""
        f = self._families.get(name)
        return f.values.get(tuple(sorted(labels.items())), 0.0) if f is not None else 0.0

    def clear(self, name: str) -> None:
        f = self._families.get(name)
        if f is not None:
            f.values.clear()

    def observe(self, name: str, help_: str, value: float, **labels: str) -> None:
        f = self._family(name, "histogram", help_)
        key = tuple(sorted(labels.items()))
        h = f.hist.get(key)
        if h is None:
            h = f.hist[key] = [0.0] * (len(f.buckets) + 2)
        for i, b in enumerate(f.buckets):
            if value <= b:
                h[i] += 1
        h[-2] += value
        h[-1] += 1

    def render(self) -> str:
        for collect in self.collectors:
            collect(self)
        out: list[str] = []
        for f in self._families.values():
            out.append(f"# HELP {f.name} {f.help}")
            out.append(f"# TYPE {f.name} {f.kind}")
            if f.kind != "histogram":
                for labels, v in f.values.items():
                    out.append(f"{f.name}{_labels(labels)} {_num(v)}")
                continue
            for labels, h in f.hist.items():
                for i, b in enumerate(f.buckets):
                    le = 'le="' + _num(b) + '"'
                    out.append(f"{f.name}_bucket{_labels(labels, le)} {_num(h[i])}")
                inf = 'le="+Inf"'
                out.append(f"{f.name}_bucket{_labels(labels, inf)} {_num(h[-1])}")
                out.append(f"{f.name}_sum{_labels(labels)} {_num(h[-2])}")
                out.append(f"{f.name}_count{_labels(labels)} {_num(h[-1])}")
        return "\n".join(out) + "\n"


Probe = Callable[[], tuple[bool, str]]

MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
CONNECTION_DEADLINE = 10.0  # seconds for a whole request and its response
MAX_CONNECTIONS = 32
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 411: "Length Required", 412: "Precondition Failed",
           413: "Content Too Large", 414: "URI Too Long",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


class _Reject(Exception):
    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code
        self.why = why


class HttpEndpoints:
    """Serves /metrics, /healthz, /readyz and POST /verdict on ``host:port`` (port 0 =
    any free port); ``verdict`` answers /verdict (503 for every call without one)."""

    def __init__(self, metrics: Metrics, healthy: Probe, ready: Probe, *,
                 log: Callable[..., None] | None = None,
                 deadline: float = CONNECTION_DEADLINE,
                 max_connections: int = MAX_CONNECTIONS,
                 verdict: VerdictWebhook | None = None) -> None:
        self.metrics = metrics
        self.healthy = healthy
        self.ready = ready
        self.verdict = verdict if verdict is not None else VerdictWebhook(None)
        self.log = log
        self.deadline = deadline
        self.max_connections = max_connections
        self.active = 0
        self._tasks: set[asyncio.Task[Any]] = set()  # connections being served
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        # limit: readuntil() refuses a line longer than this instead of buffering it.
        self._server = await asyncio.start_server(self._handle, host, port,
                                                  limit=MAX_REQUEST_LINE)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Open connections end now, quietly (a cancelled handler task would
            # otherwise be reported by asyncio at exit).
            for t in list(self._tasks):
                t.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def _rejected(self, reason: str) -> None:
        self.metrics.inc("detector_http_rejected_total",
                         "HTTP requests refused (malformed, too large, too slow, too many).",
                         reason=reason)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.active >= self.max_connections:
            self._rejected("too_many_connections")
            await self._answer(writer, 503, "too many connections\n", head=False, timeout=1.0)
            return
        self.active += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            try:
                async with asyncio.timeout(self.deadline):
                    code, body, ctype, head = await self._serve(reader)
            except asyncio.CancelledError:
                writer.transport.abort()  # the server is stopping
                return
            except _Reject as r:
                self._rejected(r.why)
                code, body, ctype, head = r.code, f"{REASONS[r.code].lower()}\n", None, False
            except TimeoutError:
                self._rejected("deadline")
                code, body, ctype, head = 408, "request timeout\n", None, False
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.transport.abort()  # the client went away
                return
            except Exception as exc:  # a bug: one JSON line, and the client gets a 500
                if self.log is not None:
                    self.log("http endpoint error", level="error",
                             error=f"{type(exc).__name__}: {exc}"[:300])
                code, body, ctype, head = 500, "internal error\n", None, False
            await self._answer(writer, code, body, ctype=ctype, head=head, timeout=self.deadline)
        finally:
            self.active -= 1
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader) -> tuple[int, str, str | None, bool]:
        line = await self._line(reader, 414, "request_line_too_long")
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _Reject(400, "malformed_request_line")
        total, count = 0, 0
        headers: dict[str, str] = {}
        while True:
            h = await self._line(reader, 431, "header_too_long")
            if h in (b"\r\n", b"\n"):
                break
            total += len(h)
            count += 1
            if total > MAX_HEADER_BYTES or count > MAX_HEADERS:
                raise _Reject(431, "headers_too_large")
            name, _, value = h.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        method, target = parts[0], parts[1]
        path = target.split("?")[0]
        if path == "/verdict":
            code, body = await self.verdict.serve(method, headers, reader)
            self.metrics.inc("detector_verdict_requests_total",
                             "POST /verdict calls (Flagger webhook), by answer.", code=str(code))
            return code, body, "application/json", False
        if method not in ("GET", "HEAD"):
            raise _Reject(405, "method_not_allowed")
        if path == "/metrics":
            return 200, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8", \
                method == "HEAD"
        if path in ("/healthz", "/readyz"):
            ok, why = (self.healthy if path == "/healthz" else self.ready)()
            return (200 if ok else 503), why + "\n", None, method == "HEAD"
        return 404, "not found\n", None, method == "HEAD"

    @staticmethod
    async def _line(reader: asyncio.StreamReader, code: int, why: str) -> bytes:
        try:
            return await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise _Reject(code, why) from None
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise _Reject(400, "truncated_request") from None
            raise

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, code: int, body: str, *,
                      ctype: str | None = None, head: bool = False,
                      timeout: float = CONNECTION_DEADLINE) -> None:
        data = body.encode()
        try:
            writer.write(
                f"HTTP/1.1 {code} {REASONS[code]}\r\n"
                f"Content-Type: {ctype or 'text/plain; charset=utf-8'}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + (b"" if head else data))
            # A client that does not read its answer does not hold the connection.
            await asyncio.wait_for(writer.drain(), timeout)
        except (TimeoutError, ConnectionError, OSError):
            writer.transport.abort()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
