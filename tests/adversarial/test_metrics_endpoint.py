"""Item 13: the metrics endpoint against hostile clients (a 64 KiB+ request line,
slow clients, too many connections, junk), and JSON-only logs: library logging
goes through the JSON formatter, an unreachable broker is one JSON line per
attempt with a count, and ``--connect-timeout`` gives up with exit 2."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.kafka.broker import free_port
from detector.service.jsonlog import JsonLog, route_library_logging, unroute_library_logging
from detector.service.metrics import HttpEndpoints, Metrics


def json_lines(text: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        rec = orjson.loads(line)  # raises on any line that is not JSON
        assert isinstance(rec, dict)
        out.append(rec)
    return out


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[HttpEndpoints, io.StringIO]]:
    out = io.StringIO()
    log = JsonLog(out)
    handler = route_library_logging(log)  # asyncio's "unhandled exception" lines too
    m = Metrics()
    m.inc("detector_records_total", "Records consumed.", topic="access")
    http = HttpEndpoints(m, lambda: (True, "ok"), lambda: (True, "ok"), log=log,
                         deadline=1.0, max_connections=4)
    await http.start("127.0.0.1", 0)
    try:
        yield http, out
    finally:
        await http.stop()
        unroute_library_logging(handler)


async def request(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(raw)
        await w.drain()
    except ConnectionError:
        pass
    try:
        return await asyncio.wait_for(r.read(), timeout)
    except ConnectionError:
        return b""
    finally:
        w.close()


def code(resp: bytes) -> int:
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") else 0


async def test_request_line_over_64k_is_a_clean_414_and_no_traceback(
    endpoint: tuple[HttpEndpoints, io.StringIO],
) -> None:
    http, out = endpoint
    resp = await request(http.port, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
    assert code(resp) == 414
    assert code(await request(http.port, b"GET /metrics HTTP/1.1\r\n\r\n")) == 200
    assert "Traceback" not in out.getvalue()
    json_lines(out.getvalue())


@pytest.mark.parametrize(("raw", "expected"), [
    (b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),  # TLS hello bytes
    (b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431),
    (b"GET /metrics HTTP/1.1\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n", 431),
    (b"GET /nope HTTP/1.1\r\n\r\n", 404),
    (b"HEAD /healthz HTTP/1.1\r\n\r\n", 200),
])
async def test_junk_gets_a_clean_4xx(endpoint: tuple[HttpEndpoints, io.StringIO], raw: bytes,
                                     expected: int) -> None:
    http, out = endpoint
    assert code(await request(http.port, raw)) == expected
    assert "Traceback" not in out.getvalue()


async def test_a_slow_client_is_cut_off_at_the_deadline(
    endpoint: tuple[HttpEndpoints, io.StringIO],
) -> None:
    http, _ = endpoint
    r, w = await asyncio.open_connection("127.0.0.1", http.port)
    answer = asyncio.ensure_future(r.read())
    try:
        w.write(b"GET /metrics HTTP/1.1\r\n")
        # One header byte every 0.1 s for up to 10 s, with a 1 s deadline: each read
        # makes progress, so only a total deadline ends it.
        for _ in range(100):
            if answer.done():
                break
            await asyncio.sleep(0.1)
            with contextlib.suppress(ConnectionError):
                w.write(b"X")
        assert answer.done(), "the server still holds a trickling client"
        resp = answer.result() if not answer.exception() else b""
        assert resp == b"" or code(resp) == 408
    finally:
        answer.cancel()
        w.close()


async def test_connection_cap(endpoint: tuple[HttpEndpoints, io.StringIO]) -> None:
    http, _ = endpoint
    idle = [await asyncio.open_connection("127.0.0.1", http.port) for _ in range(4)]
    await asyncio.sleep(0.1)
    try:
        assert code(await request(http.port, b"GET /metrics HTTP/1.1\r\n\r\n")) == 503
    finally:
        for _, w in idle:
            w.close()
    await asyncio.sleep(1.5)  # the idle ones hit the deadline and free their slots
    assert code(await request(http.port, b"GET /metrics HTTP/1.1\r\n\r\n")) == 200


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000))
def test_hostile_bytes_never_crash_the_handler(raw: bytes) -> None:
    async def go() -> None:
        out = io.StringIO()
        http = HttpEndpoints(Metrics(), lambda: (True, "ok"), lambda: (True, "ok"),
                             log=JsonLog(out), deadline=0.3)
        await http.start("127.0.0.1", 0)
        try:
            resp = await request(http.port, raw + b"\r\n\r\n")
            assert resp == b"" or code(resp) in (200, 400, 404, 405, 408, 414, 431)
            assert out.getvalue() == ""  # no handler error
        finally:
            await http.stop()

    asyncio.run(go())


def test_library_logging_is_json() -> None:
    out = io.StringIO()
    handler = route_library_logging(JsonLog(out))
    try:
        logging.getLogger("aiokafka.consumer").error("Heartbeat failed: %s", "boom")
        try:
            raise ValueError("bad")
        except ValueError:
            logging.getLogger("asyncio").exception("Unhandled exception in client_connected_cb")
    finally:
        unroute_library_logging(handler)
    recs = json_lines(out.getvalue())
    assert [r["logger"] for r in recs] == ["aiokafka.consumer", "asyncio"]
    assert recs[1]["error"] == "ValueError: bad"


def test_unreachable_broker_json_lines_with_count_and_connect_timeout_exit_2() -> None:
    port = free_port()  # nothing listens there
    env = {**os.environ, "DETECTOR_SERVICE__REQUEST_TIMEOUT_MS": "2000"}
    proc = subprocess.run(
        [sys.executable, "-m", "detector", "run", "--bootstrap-servers", f"127.0.0.1:{port}",
         "--metrics-port", "0", "--connect-timeout", "2", "--sink", "stdout"],
        capture_output=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr.decode()[-500:]
    lines = proc.stderr.decode().splitlines()
    # Every line is a JSON log line, but the CLI's final one-line error (CONTRACTS §4).
    assert lines[-1].startswith("detector: error: cannot reach the broker")
    recs = json_lines("\n".join(lines[:-1]))
    attempts = [r["attempt"] for r in recs if r["event"] == "broker unreachable"]
    assert attempts and attempts == list(range(1, len(attempts) + 1))
    assert not [r for r in recs if r.get("logger", "").startswith("aiokafka")  # type: ignore[union-attr]
                and "Unable connect" in str(r["event"])]
    assert recs[-2]["event"] == "connect timeout" or any(
        r["event"] == "connect timeout" for r in recs)
