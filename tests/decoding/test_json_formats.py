"""otel, nginx_json and envoy: field names, aliases, nested/ECS, XFF, odd numbers."""

from __future__ import annotations

import orjson
import pytest

from detector.decoding import BODY_CAP, MAX_LINE_BYTES, make_decoder
from tests.decoding.conftest import ISO, T, decode
from tests.decoding.samples import ENVOY, NGINX, OTEL


def test_otel_flat() -> None:
    e = decode("otel", OTEL)
    assert e == (
        T,
        "payments",
        "2.32.0",
        "POST",
        "/v2/payments/42/refunds",
        "a=1&b=2",
        502,
        0.25,
        120,
        "203.0.113.9",
        "curl/8",
        '{"amount": 5}',
        "r-1",
        "test.log",
        7,
        None,
    )


def test_otel_nested() -> None:
    rec = {
        "timestamp": ISO,
        "http": {
            "request": {"method": "GET", "body": {"content": "x=1"}},
            "response": {"status_code": 200, "body": {"size": 5}},
            "server": {"request": {"duration": 0.5}},
        },
        "url": {"path": "/a", "query": "q=1"},
        "client": {"address": "10.0.0.1"},
        "user_agent": {"original": "ua"},
        "service": {"name": "shop", "version": "1.0"},
    }
    e = decode("otel", rec)
    assert (e.method, e.path, e.query, e.status, e.duration, e.bytes) == (
        "GET",
        "/a",
        "q=1",
        200,
        0.5,
        5,
    )
    assert (e.client, e.user_agent, e.service, e.version, e.body) == (
        "10.0.0.1",
        "ua",
        "shop",
        "1.0",
        "x=1",
    )


def test_ecs() -> None:
    rec = {
        "@timestamp": "2026-03-17T09:06:00.500Z",
        "event": {"duration": 250_000_000},  # nanoseconds
        "http": {
            "request": {"method": "get", "body": {"content": "q"}},
            "response": {"status_code": 404, "body": {"bytes": 9}},
        },
        "url": {"original": "/search?q=x"},
        "source": {"ip": "198.51.100.7"},
        "user_agent": {"original": "Mozilla"},
    }
    e = decode("otel", rec)
    assert e.ts == T + 0.5 and e.duration == pytest.approx(0.25)
    assert (e.method, e.path, e.query, e.status, e.bytes) == ("GET", "/search", "q=x", 404, 9)
    assert (e.client, e.body, e.service) == ("198.51.100.7", "q", "svc")


def test_otel_url_full_and_aliases() -> None:
    e = decode(
        "otel",
        {
            "ts": int(T * 1000),
            "http.request.method": "GET",
            "url.full": "https://api.example:8443/items/1?x=2#frag",
            "service": "alias-svc",
            "version": "3",
            "body": {"k": [1, 2]},
        },
    )
    assert (e.ts, e.path, e.query, e.service, e.version) == (
        T,
        "/items/1",
        "x=2#frag",
        "alias-svc",
        "3",
    )
    assert e.body == '{"k":[1,2]}' and e.status is None and e.client == ""


def test_otel_client_address_beats_peer_and_path_query_split() -> None:
    e = decode(
        "otel",
        {
            "timestamp": ISO,
            "http.request.method": "GET",
            "url.path": "/a?b=c",
            "client.address": "[2001:db8::1]:443",
            "source.ip": "10.0.0.1",
        },
    )
    assert (e.path, e.query, e.client) == ("/a", "b=c", "2001:db8::1")
    e = decode(
        "otel",
        {
            "timestamp": ISO,
            "http.request.method": "GET",
            "url.path": "/a",
            "http.request.header.x-forwarded-for": ["1.1.1.1, 10.0.0.2"],
            "network.peer.address": "10.0.0.2",
        },
    )
    assert e.client == "1.1.1.1"


def test_nginx() -> None:
    e = decode("nginx_json", NGINX)
    assert e == (
        T,
        "svc",
        None,
        "GET",
        "/api/users/7",
        "expand=1",
        201,
        0.042,
        512,
        "203.0.113.5",
        "okhttp",
        None,
        None,
        "test.log",
        7,
        None,
    )


def test_nginx_method_uri_upstream_sum_and_aliases() -> None:
    rec = {
        "msec": "1773738360.250",
        "request_method": "POST",
        "request_uri": "/login?next=/",
        "status": 401,
        "request_time": "-",
        "upstream_response_time": "0.1, 0.2",
        "remote_addr": "198.51.100.1",
        "http_x_forwarded_for": "-",
        "http_user_agent": "-",
        "body_bytes_sent": "-",
        "request_body": "user=a",
        "service": "auth",
        "version": "9",
    }
    e = decode("nginx_json", rec)
    assert (e.ts, e.method, e.path, e.query, e.status) == (
        T + 0.25,
        "POST",
        "/login",
        "next=/",
        401,
    )
    assert e.duration == pytest.approx(0.3) and e.bytes is None
    assert (e.client, e.user_agent, e.body, e.service, e.version) == (
        "198.51.100.1",
        "",
        "user=a",
        "auth",
        "9",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("time", ISO), ("time_local", "17/Mar/2026:09:06:00 +0000"), ("ts", T), ("@timestamp", T)],
)
def test_nginx_time_aliases(key: str, value: object) -> None:
    rec = {k: v for k, v in NGINX.items() if k != "time_iso8601"} | {key: value}
    assert decode("nginx_json", rec).ts == T


def test_nginx_upstream_dash() -> None:
    rec = {k: v for k, v in NGINX.items() if k != "request_time"} | {"upstream_response_time": "-"}
    assert decode("nginx_json", rec).duration is None


def test_envoy_strings() -> None:
    e = decode("envoy", ENVOY)
    assert e == (
        T,
        "svc",
        None,
        "DELETE",
        "/carts/3",
        "force=true",
        503,
        1.5,
        19,
        "192.0.2.44",
        "grpc-go",
        None,
        "abc-123",
        "test.log",
        7,
        None,
    )


def test_envoy_numbers_zero_and_peer() -> None:
    rec = ENVOY | {
        "response_code": 0,
        "duration": 12,
        "bytes_sent": 0,
        "x_forwarded_for": "-",
        "downstream_remote_address": "[::1]:8080",
    }
    e = decode("envoy", rec)
    assert (e.status, e.duration, e.bytes, e.client) == (None, 0.012, 0, "::1")
    rec = ENVOY | {"duration": "-", "upstream_service_time": "30", "x_forwarded_for": None}
    e = decode("envoy", rec)
    assert (e.duration, e.client) == (0.03, "10.1.1.1")


def test_long_body_kept_whole_and_negative_duration() -> None:
    # Bodies are bounded by the record (MAX_LINE_BYTES), never cut shorter (issue 8).
    assert BODY_CAP >= MAX_LINE_BYTES
    e = decode(
        "otel",
        OTEL
        | {
            "http.request.body.content": "x" * 100_000 + "<tail>",
            "http.server.request.duration": -1.0,
        },
    )
    assert e.body is not None and len(e.body) == 100_006 and e.duration is None


@pytest.mark.parametrize(
    ("fmt", "record"),
    [("otel", OTEL), ("nginx_json", NGINX), ("envoy", ENVOY)],
)
def test_fast_path_matches_generic(fmt: str, record: dict[str, object]) -> None:
    """The fast path is an optimisation only: both paths give the same event."""
    variants = [record] + [
        {k: v for k, v in record.items() if k != drop} for drop in record if drop != "timestamp"
    ]
    for rec in variants:
        dec = make_decoder(fmt, "svc")
        raw = orjson.dumps(rec)
        try:
            fast = dec.decode(raw, "f", 1)
        except ValueError as e:
            fast = e.args[0]  # type: ignore[assignment]
        try:
            slow = dec._slow(orjson.loads(raw), "f", 1)  # type: ignore[attr-defined]
        except ValueError as e:
            slow = e.args[0]  # type: ignore[assignment]
        assert fast == slow, rec


@pytest.mark.parametrize(
    ("fmt", "record"),
    [
        (
            "otel",
            {k: v for k, v in OTEL.items() if k not in ("request_id", "http.request.body.content")},
        ),
        ("nginx_json", NGINX),
    ],
)
def test_fast_path_is_taken_for_the_common_layout(fmt: str, record: dict[str, object]) -> None:
    dec = make_decoder(fmt, "svc")
    obj = orjson.loads(orjson.dumps(record))
    fast = dec._fast(dec._core(obj), obj, "f", 1)  # type: ignore[attr-defined]
    assert fast is not None
    assert fast == dec._slow(obj, "f", 1)  # type: ignore[attr-defined]
