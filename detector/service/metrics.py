"""Prometheus text exposition (hand-written, no client library) and the HTTP endpoints.

``/metrics``, ``/healthz`` (the process and its loop are alive) and ``/readyz``
(partitions restored and the broker answering), served with asyncio's
``start_server``: one tiny request per connection, no keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

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


class HttpEndpoints:
    """Serves /metrics, /healthz and /readyz on ``host:port`` (port 0 = any free port)."""

    def __init__(self, metrics: Metrics, healthy: Probe, ready: Probe) -> None:
        self.metrics = metrics
        self.healthy = healthy
        self.ready = ready
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            ctype = "text/plain; charset=utf-8"
            if path == "/metrics":
                code, body = 200, self.metrics.render()
                ctype = "text/plain; version=0.0.4; charset=utf-8"
            elif path in ("/healthz", "/readyz"):
                ok, why = (self.healthy if path == "/healthz" else self.ready)()
                code, body = (200 if ok else 503), why + "\n"
            else:
                code, body = 404, "not found\n"
            data = body.encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            writer.write(
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
