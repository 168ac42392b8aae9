"""Bad input gives DecodeError with a short reason; deployment records in every stream."""

from __future__ import annotations

import orjson
import pytest

from detector.decoding import FORMATS, MAX_LINE_BYTES, DecodeError, make_decoder, parse_deployment
from detector.events import DeploymentEvent
from tests.decoding.conftest import ISO, T, decode_any
from tests.decoding.samples import DEPLOY

JSON_FORMATS = ("otel", "nginx_json", "envoy")
TEXT_FORMATS = ("clf", "alb", "wsgi")


def reason(fmt: str, raw: bytes) -> str:
    with pytest.raises(DecodeError) as info:
        make_decoder(fmt).decode(raw, "f", 1)
    r = info.value.reason
    assert len(r) <= 200 and "\n" not in r
    return r


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_utf8(fmt: str) -> None:
    assert reason(fmt, b'{"a": "\xff\xfe"}') == "invalid UTF-8"
    assert reason(fmt, b"1.2.3.4 - - \xc3\x28 GET") == "invalid UTF-8"


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_bad_json(fmt: str) -> None:
    assert reason(fmt, b'{"timestamp": "2026-') == "invalid JSON: unexpected end of data"
    assert reason(fmt, b"[1, 2]").startswith("JSON value is not an object")
    assert reason(fmt, b'"text"').startswith("JSON value is not an object")
    assert reason(fmt, b"").startswith("invalid JSON")


@pytest.mark.parametrize("fmt", FORMATS)
def test_oversized_line_is_not_parsed(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import detector.decoding._json as json_mod

    def boom(raw: bytes) -> object:
        raise AssertionError("parsed an oversized line")

    monkeypatch.setattr(json_mod, "loads", boom)
    raw = b'{"x": "' + b"a" * MAX_LINE_BYTES + b'"}\n'
    assert reason(fmt, raw) == f"line exceeds {MAX_LINE_BYTES} bytes"


@pytest.mark.parametrize(
    ("fmt", "record", "expected"),
    [
        ("otel", {"timestamp": ISO, "url.path": "/a"}, "missing http.request.method"),
        ("otel", {"timestamp": ISO, "http.request.method": "GET"}, "missing url.path"),
        ("otel", {"http.request.method": "GET", "url.path": "/a"}, "missing timestamp"),
        (
            "otel",
            {"timestamp": "1970-01-02T00:00:00Z", "http.request.method": "GET", "url.path": "/"},
            "absurd timestamp",
        ),
        (
            "otel",
            {
                "timestamp": ISO,
                "http.request.method": "GET",
                "url.path": "/",
                "http.response.status_code": 999,
            },
            "bad status: 999",
        ),
        ("otel", {"timestamp": ISO, "http.request.method": "G E T", "url.path": "/"}, "bad method"),
        ("nginx_json", {"time": ISO, "status": "200"}, "missing request_method"),
        ("nginx_json", {"time": ISO, "request_method": "GET"}, "missing request_uri"),
        (
            "nginx_json",
            {"time": ISO, "request": "GET /a HTTP/1.1", "status": "abc"},
            "bad status: abc",
        ),
        ("nginx_json", {"time": ISO, "request": "garbage"}, "bad request line: garbage"),
        ("envoy", {"start_time": ISO, "path": "/"}, "missing method"),
        ("envoy", {"start_time": ISO, "method": "GET"}, "missing path"),
        (
            "envoy",
            {"start_time": ISO, "method": "GET", "path": "/", "response_code": "42"},
            "bad status: 42",
        ),
    ],
)
def test_json_field_errors(fmt: str, record: dict[str, object], expected: str) -> None:
    assert reason(fmt, orjson.dumps(record)).startswith(expected)


@pytest.mark.parametrize(
    ("fmt", "line", "expected"),
    [
        ("clf", "just some text", "not a clf line"),
        (
            "clf",
            '1.2.3.4 - - [17/Mar/2026:09:06:00 +0000] "GET / HTTP/1.1" 999 1',
            "bad status: 999",
        ),
        ("clf", '1.2.3.4 - - [17/Mar/2026:09:06:00 +0000] "-" 400 1', "bad request line"),
        ("clf", '1.2.3.4 - - [31/Foo/2026:09:06:00 +0000] "GET / HTTP/1.1" 200 1', "bad timestamp"),
        ("alb", "https 2026 not enough fields", "not an alb line"),
        (
            "wsgi",
            "nova-compute.log 2017-05-16 00:00:04.500 2931 INFO nova.compute.manager "
            "[req-3 - - - - -] [instance: b9] VM Started (Lifecycle Event)",
            "not an access record",
        ),
        ("clf", '{"not": "a deployment"}', "not a clf record"),
    ],
)
def test_text_errors(fmt: str, line: str, expected: str) -> None:
    assert reason(fmt, line.encode()).startswith(expected)


@pytest.mark.parametrize("fmt", FORMATS)
def test_deployment_line_in_every_format(fmt: str) -> None:
    event = decode_any(fmt, orjson.dumps(DEPLOY) + b"\n")
    assert event == DeploymentEvent(T, "payments", "2.32.0", "prod", "9f1c2ab", True, "test.log", 7)


@pytest.mark.parametrize(
    "record",
    [
        {
            "type": "deployment",
            "ts": ISO,
            "service": "payments",
            "version": "2.32.0",
            "environment": "prod",
            "commit": "9f1c2ab",
        },
        {
            "type": "deployment",
            "time": T,
            "service": {"name": "payments", "version": "2.32.0"},
            "deployment": {"environment": {"name": "prod"}},
            "vcs": {"revision": "9f1c2ab"},
        },
        {
            "type": "deployment",
            "@timestamp": ISO,
            "service": "payments",
            "version": "2.32.0",
            "environment": "prod",
            "revision": "9f1c2ab",
        },
    ],
)
def test_deployment_aliases(record: dict[str, object]) -> None:
    e = parse_deployment(record, "deploys.jsonl", 3)
    assert e == DeploymentEvent(
        T, "payments", "2.32.0", "prod", "9f1c2ab", True, "deploys.jsonl", 3
    )


@pytest.mark.parametrize(
    ("drop", "expected"),
    [
        ("service.name", "deployment: missing service"),
        ("service.version", "deployment: missing version"),
        ("timestamp", "deployment: missing timestamp"),
    ],
)
def test_deployment_missing_fields(drop: str, expected: str) -> None:
    with pytest.raises(DecodeError, match=expected):
        parse_deployment({k: v for k, v in DEPLOY.items() if k != drop})


def test_unknown_format_name() -> None:
    with pytest.raises(DecodeError, match="unknown format"):
        make_decoder("syslog")
