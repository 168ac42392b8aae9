"""Renders a service's requests in its log format (CONTRACTS §1 field names).

``rows`` turns the columns into plain tuples once; each format is a small
function from a row to one line. Timestamps are cached per second because
datetime formatting would otherwise dominate the run time.
"""

from __future__ import annotations

import gzip as gz
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, NamedTuple, cast

import orjson

from detector.simulate.catalog import ServiceSpec
from detector.simulate.fillers import Fillers
from detector.simulate.traffic import Traffic

_MIX = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1


class Row(NamedTuple):
    """One request, ready to print."""

    ts: float
    method: str
    path: str
    query: str
    status: int
    dur: float
    nbytes: int
    client: int
    body: str | None
    version: str
    rnd: int


def rows(t: Traffic, fillers: Fillers, versions: list[str]) -> Iterator[Row]:
    """Rows in time order; pure given the columns, so it can be replayed for CLF."""
    spec = t.svc.routes
    path_fns = [fillers.path_fn(r.template) for r in spec]
    methods = [r.method for r in spec]
    qkinds = [r.query for r in spec]
    bkinds = [r.body for r in spec]
    query, body = fillers.query, fillers.body
    cols = zip(t.ts.tolist(), t.route.tolist(), t.client.tolist(), t.status.tolist(),
               t.dur.tolist(), t.nbytes.tolist(), t.rnd.tolist(), t.has_q.tolist(),
               t.has_b.tolist(), t.override.tolist(), t.version.tolist(), strict=True)
    for ts, r, c, st, dur, nb, rnd, hq, hb, over, v in cols:
        if over is not None:
            path, q, b = over
            if path is None:
                path = path_fns[r](rnd, c)
        else:
            path = path_fns[r](rnd, c)
            qk, bk = qkinds[r], bkinds[r]
            q = query(qk, rnd) if hq and qk else ""
            b = body(bk, rnd) if hb and bk else None
        yield Row(ts, methods[r], path, q, st, dur, nb, c, b, versions[v], rnd)


class _Clock:
    """Formats epoch seconds, caching the per-second prefix."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._sec = -1
        self._prefix = ""

    def prefix(self, ts: float) -> str:
        sec = int(ts)
        if sec != self._sec:
            self._sec = sec
            self._prefix = datetime.fromtimestamp(sec, UTC).strftime(self.fmt)
        return self._prefix


Formatter = Callable[[Row], bytes]


def otel_flat(svc: ServiceSpec, t: Traffic) -> Formatter:
    clock, pool = _Clock("%Y-%m-%dT%H:%M:%S"), t.pool
    ips, uas, peers, xffs = pool.ip, pool.ua, pool.peer, pool.xff

    def fmt(r: Row) -> bytes:
        rec: dict[str, object] = {
            "timestamp": f"{clock.prefix(r.ts)}.{int(r.ts * 1000) % 1000:03d}Z",
            "service.name": svc.name, "service.version": r.version,
            "http.request.method": r.method, "url.path": r.path,
        }
        if r.query:
            rec["url.query"] = r.query
        rec["http.response.status_code"] = r.status
        rec["http.server.request.duration"] = round(r.dur, 6)
        rec["client.address"] = ips[r.client]
        peer = peers[r.client]
        if peer is not None:
            rec["network.peer.address"] = peer
            rec["http.request.header.x-forwarded-for"] = [xffs[r.client]]
        rec["user_agent.original"] = uas[r.client]
        rec["http.response.body.size"] = r.nbytes
        if r.body is not None:
            rec["http.request.body.content"] = r.body
        return orjson.dumps(rec)

    return fmt


def otel_nested(svc: ServiceSpec, t: Traffic) -> Formatter:
    clock, pool = _Clock("%Y-%m-%dT%H:%M:%S"), t.pool
    ips, uas = pool.ip, pool.ua

    def fmt(r: Row) -> bytes:
        request: dict[str, object] = {"method": r.method}
        if r.body is not None:
            request["body"] = {"content": r.body}
        url: dict[str, str] = {"path": r.path}
        if r.query:
            url["query"] = r.query
        return orjson.dumps({
            "timestamp": f"{clock.prefix(r.ts)}.{int(r.ts * 1000) % 1000:03d}Z",
            "service": {"name": svc.name, "version": r.version},
            "http": {"request": request,
                     "response": {"status_code": r.status, "body": {"size": r.nbytes}},
                     "server": {"request": {"duration": round(r.dur, 6)}}},
            "url": url, "client": {"address": ips[r.client]},
            "user_agent": {"original": uas[r.client]},
        })

    return fmt


def nginx_json(svc: ServiceSpec, t: Traffic) -> Formatter:
    clock, pool = _Clock("%Y-%m-%dT%H:%M:%S+00:00"), t.pool
    ips, uas, peers, xffs = pool.ip, pool.ua, pool.peer, pool.xff

    def fmt(r: Row) -> bytes:
        uri = f"{r.path}?{r.query}" if r.query else r.path
        peer = peers[r.client]
        upstream = "-" if r.status == 502 and r.rnd & 1 else f"{max(r.dur - 0.001, 0.0):.3f}"
        return orjson.dumps({
            "time_iso8601": clock.prefix(r.ts),
            "remote_addr": peer if peer is not None else ips[r.client],
            "request": f"{r.method} {uri} HTTP/1.1", "status": r.status,
            "body_bytes_sent": r.nbytes, "request_time": round(r.dur, 3),
            "upstream_response_time": upstream,
            "http_x_forwarded_for": xffs[r.client] or "",
            "http_user_agent": uas[r.client], "request_body": r.body or "",
            "service": svc.name, "version": r.version,
        })

    return fmt


def envoy(svc: ServiceSpec, t: Traffic) -> Formatter:
    clock, pool = _Clock("%Y-%m-%dT%H:%M:%S"), t.pool
    ips, uas, peers, xffs = pool.ip, pool.ua, pool.peer, pool.xff
    flags = {503: "UF", 504: "UT"}

    def fmt(r: Row) -> bytes:
        peer = peers[r.client]
        port = 1024 + r.rnd % 60000
        if peer is not None:
            down, xff = f"{peer}:{port}", xffs[r.client]
        else:
            ip = ips[r.client]
            down, xff = (f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"), None
        h = f"{r.rnd:016x}{(r.rnd * _MIX) & _MASK:016x}"
        ms = int(r.dur * 1000)
        return orjson.dumps({
            "start_time": f"{clock.prefix(r.ts)}.{int(r.ts * 1000) % 1000:03d}Z",
            "method": r.method, "path": f"{r.path}?{r.query}" if r.query else r.path,
            "protocol": "HTTP/2" if r.rnd & 4 else "HTTP/1.1",
            "response_code": r.status, "response_flags": flags.get(r.status, "-"),
            "bytes_received": len(r.body) if r.body else 0, "bytes_sent": r.nbytes,
            "duration": ms,
            "upstream_service_time": None if r.status == 504 else str(max(ms - 1, 0)),
            "x_forwarded_for": xff, "user_agent": uas[r.client],
            "request_id": f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}",
            "authority": svc.authority or f"{svc.name}.internal",
            "upstream_host": f"10.1.{r.rnd % 7}.{10 + r.rnd % 3}:8080",
            "downstream_remote_address": down,
            "service": svc.name, "version": r.version,
        })

    return fmt


def clf(svc: ServiceSpec, t: Traffic) -> Formatter:
    clock, pool = _Clock("%d/%b/%Y:%H:%M:%S +0000"), t.pool
    ips, uas = pool.ip, pool.ua
    from detector.simulate.vocab import REFERERS

    def fmt(r: Row) -> bytes:
        uri = f"{r.path}?{r.query}" if r.query else r.path
        ua = uas[r.client]
        ref = REFERERS[r.rnd % len(REFERERS)] if ua.startswith("Mozilla/5.0 (") else "-"
        return (f'{ips[r.client]} - - [{clock.prefix(r.ts)}] "{r.method} {uri} HTTP/1.1" '
                f'{r.status} {r.nbytes} "{ref}" "{ua}" {r.dur:.3f}').encode()

    return fmt


FORMATTERS: dict[str, Callable[[ServiceSpec, Traffic], Formatter]] = {
    "otel": otel_flat, "otel_nested": otel_nested, "nginx_json": nginx_json,
    "envoy": envoy, "clf": clf,
}


def open_out(path: Path, compress: bool) -> IO[bytes]:
    """A binary writer; gzip with a zero mtime so reruns are byte-identical."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        raw = open(path, "wb")  # noqa: SIM115 - closed through the GzipFile below
        return cast(IO[bytes], gz.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                            compresslevel=5))
    return open(path, "wb")  # noqa: SIM115 - caller closes


def write_lines(path: Path, lines: Iterator[bytes], compress: bool) -> int:
    """Writes newline-terminated lines in batches; returns the count."""
    n = 0
    out = open_out(path, compress)
    try:
        batch: list[bytes] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= 20000:
                out.write(b"\n".join(batch) + b"\n")
                n += len(batch)
                batch = []
        if batch:
            out.write(b"\n".join(batch) + b"\n")
            n += len(batch)
    finally:
        fileobj = getattr(out, "fileobj", None)
        out.close()
        if fileobj is not None:
            fileobj.close()
    return n
