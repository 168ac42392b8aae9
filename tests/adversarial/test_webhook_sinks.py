"""Hostile webhook targets (issue 8, item 2): redirects are not followed, private
and metadata targets are refused (after DNS, on every connection, connecting to
the checked address), answers are read up to a cap, every request has a deadline."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.sinks import guarded
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError
from detector.sinks.http_base import Retry
from detector.sinks.registry import make_sink
from detector.sinks.webhook import WebhookSink
from tests.sinks.incidents import incident

FAST = Retry(base_s=0.01, max_s=0.05, request_timeout_s=1.0, flush_timeout_s=10.0, attempts=2)


@dataclass
class Hostile:
    """A loopback server; ``seen`` records (method, path, headers) of every request."""

    port: int = 0
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(guarded.ALLOW_PRIVATE_ENV, raising=False)


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    state = Hostile()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            state.seen.append((self.command, self.path, dict(self.headers)))

        def do_GET(self) -> None:  # noqa: N802
            self._record()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            self._record()
            if self.path.startswith("/redirect"):
                code = int(self.path.removeprefix("/redirect"))
                self.send_response(code)
                self.send_header("Location", f"http://localhost:{state.port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/endless":  # 200 with a body that never ends
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(100_000):  # 6.5 GB if read to the end
                        self.wfile.write(chunk)
                except OSError:
                    return
            elif self.path == "/trickle":  # one byte at a time, never done
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for _ in range(600):
                        self.wfile.write(b"X")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    return
            else:
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _deliver(sink: WebhookSink, n: int = 3) -> None:
    sink.bound_retries()
    for i in range(n):
        sink.write(incident(f"inc-{i:012d}"))
    with contextlib.suppress(SinkDeliveryError):  # the counters tell what was delivered
        sink.close()


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_is_not_followed_and_not_delivered(hostile: Hostile, code: int) -> None:
    sink = WebhookSink(f"{hostile.url}/redirect{code}", retry=FAST, allow_private=True)
    _deliver(sink)
    assert sink.delivered == 0 and sink.undelivered == 3
    assert f"HTTP {code} redirect not followed" in sink.last_error
    # Only the three POSTs: no GET, no request to the Location, no key sent elsewhere.
    assert [(m, p) for m, p, _ in hostile.seen] == [("POST", f"/redirect{code}")] * 3


def test_endless_body_is_read_up_to_a_cap(hostile: Hostile) -> None:
    result: list[guarded.Response] = []
    worker = threading.Thread(target=lambda: result.append(guarded.post(
        f"{hostile.url}/endless", b"{}", {}, deadline_s=30.0, allow_private=True)), daemon=True)
    worker.start()
    worker.join(60.0)  # reading 6.5 GB would not end (and took 4 GB of memory)
    assert not worker.is_alive()
    assert result[0].status == 200 and len(result[0].body) == guarded.MAX_RESPONSE_BYTES


def test_trickling_server_hits_the_request_deadline(hostile: Hostile) -> None:
    sink = WebhookSink(f"{hostile.url}/trickle", retry=FAST, allow_private=True)
    done = threading.Event()

    def run() -> None:
        _deliver(sink, 1)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(30.0), "the sender was held by a server sending one byte at a time"
    assert sink.delivered == 0 and sink.undelivered == 1
    assert "no answer in time" in sink.last_error


REFUSED = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "0.0.0.0",
           "169.254.169.254", "::1", "fd00::1", "fd00:ec2::254", "fe80::1", "::ffff:127.0.0.1",
           "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a00:1::", "224.0.0.1"]


@pytest.mark.parametrize("addr", REFUSED)
def test_private_and_metadata_addresses_are_refused(addr: str) -> None:
    assert guarded.address_refusal(ipaddress.ip_address(addr), allow_private=False)


@pytest.mark.parametrize("addr", ["93.184.216.34", "2606:4700::1111"])
def test_public_addresses_are_allowed(addr: str) -> None:
    assert guarded.address_refusal(ipaddress.ip_address(addr), allow_private=False) is None


@given(st.integers(0, 2**32 - 1))
def test_any_non_global_ipv4_is_refused_also_when_mapped(n: int) -> None:
    v4 = ipaddress.IPv4Address(n)
    mapped = ipaddress.IPv6Address(f"::ffff:{v4}")
    refused = guarded.address_refusal(v4, allow_private=False) is not None
    assert refused == (not v4.is_global or v4.is_multicast)
    assert (guarded.address_refusal(mapped, allow_private=False) is not None) == refused


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/h", "http://[::1]/h", "http://localhost/h",
                                 "http://10.0.0.5/h", "http://[fd00::5]/h"])
def test_private_sink_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(SinkError, match="DETECTOR_SINKS__ALLOW_PRIVATE"):
        make_sink(f"webhook:{url}")


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "http://metadata.google.internal/computeMetadata/v1/",
                                 "http://[fe80::1]/h"])
def test_metadata_is_refused_even_when_private_targets_are_allowed(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(guarded.ALLOW_PRIVATE_ENV, "1")
    with pytest.raises(SinkError, match="refusing"):
        make_sink(f"webhook:{url}")


def test_bad_allow_value_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(guarded.ALLOW_PRIVATE_ENV, "maybe")
    with pytest.raises(SinkError, match="DETECTOR_SINKS__ALLOW_PRIVATE"):
        make_sink("webhook:https://hooks.example.com/x")


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """``hooks.example.com`` resolves to the next of ``answers`` at each lookup."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: str, port: int, *args: Any, **kw: Any) -> Any:
        if host != "hooks.example.com":
            return real(host, port, *args, **kw)
        asked.append(host)
        ip = answers[min(len(asked), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


def test_name_resolving_to_a_private_address_is_refused_at_delivery(
        hostile: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, ["127.0.0.1"])
    sink = WebhookSink(f"http://hooks.example.com:{hostile.port}/hook", retry=FAST)
    _deliver(sink, 2)
    assert sink.delivered == 0 and sink.rejected == 2
    assert "resolves to 127.0.0.1, a loopback address" in sink.last_error
    assert hostile.seen == []  # never connected


def test_each_connection_is_checked_and_pinned_to_the_checked_address(
        hostile: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    # DNS rebinding: a public-looking first answer, then loopback. Both lookups are
    # checked, and the request goes to the address that was checked (Host: the name).
    asked = _fake_dns(monkeypatch, ["127.0.0.1", "127.0.0.1"])
    sink = WebhookSink(f"http://hooks.example.com:{hostile.port}/hook", retry=FAST,
                       allow_private=True)
    for i in range(2):
        sink.write(incident(f"inc-{i:012d}"))
    sink.close()
    assert sink.delivered == 2 and len(asked) == 2  # one lookup per connection
    assert all(h["Host"] == f"hooks.example.com:{hostile.port}" for _, _, h in hostile.seen)
    sink2 = WebhookSink(f"http://hooks.example.com:{hostile.port}/hook", retry=FAST,
                        allow_private=False)
    _deliver(sink2, 1)
    assert sink2.rejected == 1 and len(hostile.seen) == 2
