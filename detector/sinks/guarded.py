"""Outgoing HTTP for the webhook-style sinks, guarded against hostile targets.

A sink URL is configuration, but what it points at can still be hostile or
wrong: a redirect to another host, a name that resolves to the cloud metadata
service, an endless response, a server that trickles one byte at a time. So
:func:`post`:

- never follows a redirect (the caller sees the 3xx and reports it);
- resolves the host itself, checks every address (loopback, private,
  unique-local, shared, link-local, metadata, multicast, reserved are refused
  unless private targets are allowed) and connects to a checked address, never
  re-resolving between check and connect (no DNS rebinding); TLS still
  verifies the certificate against the host name;
- reads at most :data:`MAX_RESPONSE_BYTES` of the response;
- holds the whole request (resolve, connect, TLS, send, headers, body) to one
  deadline: a watchdog shuts the socket down when it passes.

Proxy variables (``HTTPS_PROXY``…) are not used: the connection goes to the
checked address directly.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

ALLOW_PRIVATE_ENV = "DETECTOR_SINKS__ALLOW_PRIVATE"
MAX_RESPONSE_BYTES = 64 * 1024
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
# Names of cloud metadata services: refused whatever they resolve to (here or there).
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata",
                            "instance-data", "instance-data.ec2.internal"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Connector = Callable[[], socket.socket]


class TargetRefused(Exception):
    """The target is not one the sinks may send to (see :func:`address_refusal`)."""


def allow_private_from_env() -> bool:
    """``DETECTOR_SINKS__ALLOW_PRIVATE``: 1/true/yes/on allow private targets.

    >>> os.environ.pop(ALLOW_PRIVATE_ENV, None) and None; allow_private_from_env()
    False
    """
    value = os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{ALLOW_PRIVATE_ENV}={value!r}: use 1 or 0")


def _embedded_v4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), else ``ip``."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why the sinks may not connect to ``ip``, or None when they may.

    Link-local (where cloud metadata lives, 169.254.169.254, fe80::/10) is
    refused even when private targets are allowed.

    >>> address_refusal(ipaddress.ip_address("169.254.169.254"), True)
    'a link-local address (cloud metadata lives there)'
    >>> address_refusal(ipaddress.ip_address("10.1.2.3"), False)
    'a private address'
    >>> address_refusal(ipaddress.ip_address("10.1.2.3"), True) is None
    True
    """
    ip = _embedded_v4(ip)
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_multicast or ip.is_unspecified:
        return "not a unicast address"
    if allow_private:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.ip_network("fc00::/7"):
        return "a unique-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def host_refusal(host: str, allow_private: bool) -> str | None:
    """What can be said of a host before resolving it: literal addresses,
    metadata names and ``localhost`` names."""
    name = host.rstrip(".").lower()
    if name in METADATA_NAMES:
        return "a cloud metadata service"
    ip = _literal(name)
    if ip is not None:
        return address_refusal(ip, allow_private)
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        return "a loopback address"
    return None


def _resolve(host: str, port: int, timeout: float) -> list[tuple[int, tuple[str, int]]]:
    """getaddrinfo within ``timeout`` (it has no timeout of its own)."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            box.append(exc)

    thread = threading.Thread(target=run, name="sink-resolve", daemon=True)
    thread.start()
    thread.join(max(timeout, 0.0))
    if not box:
        raise TimeoutError(f"resolving {host} took longer than {timeout:.1f} s")
    if isinstance(box[0], OSError):
        raise box[0]
    infos = box[0]
    assert isinstance(infos, list)
    return [(family, (str(addr[0]), int(addr[1]))) for family, _, _, _, addr in infos]


class _Watchdog:
    """Shuts the request's socket down when the deadline passes, which ends
    any blocked connect, TLS handshake or read in the sending thread."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                self._kill(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                self._kill(self._sock)

    @staticmethod
    def _kill(sock: socket.socket) -> None:
        # The plain socket's shutdown, also under an SSLSocket (same descriptor).
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


@dataclass(frozen=True)
class Response:
    """Status, headers and at most :data:`MAX_RESPONSE_BYTES` of the body."""

    status: int
    headers: Message
    body: bytes


def post(url: str, body: bytes, headers: dict[str, str], *, deadline_s: float,
         allow_private: bool, max_body: int = MAX_RESPONSE_BYTES) -> Response:
    """POST ``body`` to ``url`` under the guards of this module.

    Raises :class:`TargetRefused` for a refused target, ``OSError`` (including
    ``TimeoutError``) when the target cannot be reached in time, and
    ``http.client.HTTPException`` for a malformed answer. 3xx is returned, not
    followed.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    why = host_refusal(host, allow_private)
    if why:
        raise TargetRefused(f"{host} is {why}")
    start = time.monotonic()
    watchdog = _Watchdog(deadline_s)
    try:
        addrs = _resolve(host, port, deadline_s)
        allowed: list[tuple[int, tuple[str, int], str | None]] = []
        refused: list[tuple[int, tuple[str, int], str | None]] = []
        for family, sockaddr in addrs:
            ip = _literal(sockaddr[0].split("%", 1)[0])
            reason = address_refusal(ip, allow_private) if ip is not None else "unparseable"
            (refused if reason else allowed).append((family, sockaddr, reason))
        if not allowed:
            first = refused[0] if refused else None
            raise TargetRefused(f"{host} resolves to {first[1][0]}, {first[2]}" if first
                                else f"{host} resolves to no address")

        def connect() -> socket.socket:
            last: OSError = OSError(f"cannot connect to {host}")
            for family, sockaddr, _ in allowed:
                left = deadline_s - (time.monotonic() - start)
                if left <= 0 or watchdog.expired:
                    break
                sock = socket.socket(family, socket.SOCK_STREAM)
                watchdog.watch(sock)
                try:
                    sock.settimeout(left)
                    sock.connect(sockaddr)
                    return sock
                except OSError as exc:
                    sock.close()
                    last = exc
            if watchdog.expired:
                raise TimeoutError(f"no answer within {deadline_s:.1f} s")
            raise last

        conn = _pinned_connection(parts.scheme, host, port, deadline_s, connect, watchdog)
        try:
            path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read(max_body)
            if watchdog.expired:  # the answer was cut by the deadline: its status means nothing
                raise TimeoutError(f"no complete answer within {deadline_s:.1f} s")
            return Response(resp.status, resp.headers, data)
        except OSError as exc:
            if watchdog.expired:
                raise TimeoutError(f"no complete answer within {deadline_s:.1f} s") from None
            raise exc
        finally:
            conn.close()  # never reused: every request resolves and checks again
    finally:
        watchdog.cancel()


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, timeout: float,
                 connect: _Connector) -> None:
        super().__init__(host, port, timeout=timeout)
        self._connector = connect

    def connect(self) -> None:
        self.sock = self._connector()


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, timeout: float, connect: _Connector,
                 watchdog: _Watchdog) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._connector = connect
        self._watchdog = watchdog

    def connect(self) -> None:
        tls = self._tls.wrap_socket(self._connector(), server_hostname=self.host,
                                    do_handshake_on_connect=False)
        self._watchdog.watch(tls)  # the plain socket is detached now: watch this one
        self.sock = tls
        tls.do_handshake()


def _pinned_connection(scheme: str, host: str, port: int, timeout: float,
                       connect: _Connector, watchdog: _Watchdog) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPS(host, port, timeout, connect, watchdog)
    return _PinnedHTTP(host, port, timeout, connect)
