"""Hostile input: only DecodeError may escape a decoder, and events that come out are sane."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.decoding import FORMATS, DecodeError, make_decoder
from detector.decoding.headers import CARRIED, MAX_HEADERS
from detector.events import AccessEvent, DeploymentEvent
from tests.decoding.samples import ENVOY, NGINX, OTEL

DECODERS = {fmt: make_decoder(fmt) for fmt in FORMATS}  # shared: memo state must not matter
SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("DECODE_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "-",
            "",
            "GET",
            "/a?b",
            "0.1, 0.2",
            "2026-03-17T09:06:00Z",
            "1.2.3.4:80",
            "[::1]:1",
            "deployment",
            "200",
            "0",
            "1773738360000",
            "10/Oct/2000:13:55:36 -0700",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = sorted(
    {
        *OTEL,
        *NGINX,
        *ENVOY,
        "type",
        "service",
        "version",
        "ts",
        "time",
        "@timestamp",
        "body",
        "http",
        "url",
        "source.ip",
        "event.duration",
        "url.full",
        "url.original",
        "request_method",
        "request_uri",
        "msec",
        "time_local",
        # request headers, as each format carries them
        "http.request.header.x-api-version",
        "http.request.header.cookie",
        "http.request.header.user-agent",
        "http_referer",
        "http_x_api_version",
        "http_version",
        "request_headers",
        "req_x_tenant",
        "x-api-version",
        "cookie",
    }
)
records = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=14),
    st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    st.builds(
        lambda base, extra: {**base, **extra},
        st.sampled_from([OTEL, NGINX, ENVOY]),
        st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3),
    ),
)


def check(fmt: str, raw: bytes) -> None:
    try:
        event = DECODERS[fmt].decode(raw, "prop", 1)
    except DecodeError as e:
        assert not e.reason.startswith("internal error"), e.reason
        assert len(e.reason) <= 200 and "\n" not in e.reason
        return
    if isinstance(event, DeploymentEvent):
        assert isinstance(event.service, str) and isinstance(event.version, str)
        assert math.isfinite(event.ts)
        return
    assert type(event) is AccessEvent
    assert type(event.ts) is float and math.isfinite(event.ts)
    assert type(event.method) is str and event.method and event.method == event.method.upper()
    assert type(event.path) is str and event.path and "?" not in event.path
    assert type(event.query) is str
    assert event.status is None or (type(event.status) is int and 100 <= event.status <= 599)
    assert event.duration is None or (
        type(event.duration) is float and 0 <= event.duration < math.inf
    )
    assert event.bytes is None or (type(event.bytes) is int and event.bytes >= 0)
    for text in (event.service, event.client, event.user_agent):
        assert type(text) is str
    for opt in (event.version, event.body, event.request_id):
        assert opt is None or type(opt) is str
    assert event.body is None or len(event.body) <= 4096
    headers = event.headers
    assert len(event) == len(AccessEvent._fields)
    if headers is not None:
        assert type(headers) is tuple and 0 < len(headers) <= MAX_HEADERS
        assert list(headers) == sorted(headers)
        for name, value in headers:
            assert type(name) is str and name and name == name.lower() and name not in CARRIED
            assert type(value) is str and value not in ("", "-")


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(raw=st.binary(max_size=300))
def test_random_bytes(fmt: str, raw: bytes) -> None:
    check(fmt, raw)


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(record=records)
def test_random_json_objects(fmt: str, record: dict[str, Any]) -> None:
    try:
        raw = orjson.dumps(record)
    except TypeError:  # integers beyond 64 bits cannot be written as orjson input here
        raw = repr(record).encode()
    check(fmt, raw)


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(line=st.text(max_size=200))
def test_random_unicode_lines(fmt: str, line: str) -> None:
    check(fmt, line.encode("utf-8", "surrogatepass"))


TEMPLATES = [
    '{h} - - [17/Mar/2026:09:06:00 +0000] "{m} {p} HTTP/1.1" {s} {b} "-" "{u}" {d}',
    "https 2026-03-17T09:06:00Z app/lb/1 {h}:1 - {d} {d} {d} {s} - 1 {b} "
    '"{m} https://x{p} HTTP/1.1" "{u}"',
    "a.log 2017-05-16 00:00:00.008 1 INFO x.wsgi [req-1 - -] {h} "
    '"{m} {p} HTTP/1.1" status: {s} len: {b} time: {d}',
]
field = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@pytest.mark.parametrize("fmt", ["clf", "alb", "wsgi"])
@SETTINGS
@given(h=field, m=field, p=field, s=field, b=field, u=field, d=field)
def test_mutated_text_lines(
    fmt: str, h: str, m: str, p: str, s: str, b: str, u: str, d: str
) -> None:
    template = TEMPLATES[["clf", "alb", "wsgi"].index(fmt)]
    check(fmt, template.format(h=h, m=m, p=p, s=s, b=b, u=u, d=d).encode())
