"""Request headers in the event (AccessEvent.headers): per format, caps, old state."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from detector.decoding import FORMATS, detect_format, make_decoder
from detector.decoding.base import HEADER_CAP, MAX_HEADERS, MAX_LINE_BYTES
from detector.decoding.headers import CARRIED, HeaderKeys, header_value, nginx_header_name
from detector.events import HEADERS, AccessEvent
from detector.service.retrain import event_json
from detector.state import codec, loads
from tests.decoding.conftest import ISO, decode
from tests.decoding.samples import ALB, ENVOY, NGINX, OTEL, WSGI

FLAT_V1 = Path(__file__).parents[1] / "state" / "data" / "flat_v1_pipeline.snap"
DETSNAP1 = Path(__file__).parents[1] / "adversarial" / "data" / "detsnap1_pipeline.bin"
CLF_COMMON = '10.0.0.1 - - [17/Mar/2026:09:06:00 +0000] "GET /a HTTP/1.1" 200 5'
CLF_COMBINED = CLF_COMMON + ' "https://shop.example/cart?x=1" "curl/8" 0.01'
PLAIN = {
    "otel": orjson.dumps(OTEL),
    "nginx_json": orjson.dumps(NGINX),
    "envoy": orjson.dumps(ENVOY),
    "clf": CLF_COMMON.encode(),
    "alb": ALB.encode(),
    "wsgi": WSGI.encode(),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_event_without_headers_has_none(fmt: str) -> None:
    dec = make_decoder(fmt, "svc")
    for i in range(3):  # the first record teaches the decoder its keys; later ones use them
        e = dec.decode(PLAIN[fmt], "f", i)
        assert isinstance(e, AccessEvent)
        assert e.headers is None and e[HEADERS] is None
        assert len(e) == len(AccessEvent._fields)  # every decoder writes every field


def test_the_field_defaults_to_none_for_positional_constructors() -> None:
    e = AccessEvent(1.0, "s", None, "GET", "/", "", 200, None, None, "c", "", None, None, "f", 1)
    assert e.headers is None and AccessEvent._fields[HEADERS] == "headers"


def test_otel_flat_headers() -> None:
    e = decode("otel", OTEL | {
        "http.request.header.x-api-version": "2024-01-01",
        "http.request.header.Accept": ["application/json", "text/plain"],
        "http.request.header.cookie": ["a=1", "b=2"],
        "http.request.header.x-forwarded-for": "1.2.3.4",  # the client, not a header here
        "http.request.header.user-agent": "other",  # user_agent.original has it
        "http.request.header.x-empty": [],
        "http.request.header.x-none": None,
        "http.request.header.x-num": 3,
    })
    assert e.headers == (
        ("accept", "application/json, text/plain"),
        ("cookie", "a=1; b=2"),
        ("x-api-version", "2024-01-01"),
        ("x-num", "3"),
    )
    assert e.user_agent == "curl/8" and e.client == "203.0.113.9"


def test_otel_headers_on_the_fast_path() -> None:
    rec = {k: v for k, v in OTEL.items() if k not in ("request_id", "http.request.body.content")}
    rec["http.request.header.x-api-version"] = "2"
    rec["http.request.header.x-forwarded-for"] = "9.9.9.9"
    dec = make_decoder("otel", "svc")
    obj = orjson.loads(orjson.dumps(rec))
    fast = dec._fast(dec._core(obj), obj, "f", 1)  # type: ignore[attr-defined]
    assert fast is not None and fast.headers == (("x-api-version", "2"),)
    assert fast == dec._slow(obj, "f", 1)  # type: ignore[attr-defined]
    # Any other unknown key still sends the record to the generic path.
    obj["other"] = 1
    assert dec._fast(dec._core(obj), obj, "f", 1) is None  # type: ignore[attr-defined]
    assert dec.decode(orjson.dumps(obj), "f", 1).headers == (("x-api-version", "2"),)


def test_otel_nested_headers() -> None:
    rec = {
        "timestamp": ISO,
        "http": {"request": {"method": "GET",
                             "header": {"X-Api-Version": "3", "cookie": ["a=1", "b=2"],
                                        "user-agent": "x"}}},
        "url": {"path": "/a"},
        "http.request.header.x-top": "t",
    }
    assert decode("otel", rec).headers == (
        ("cookie", "a=1; b=2"), ("x-api-version", "3"), ("x-top", "t"))


def test_nginx_headers() -> None:
    dec = make_decoder("nginx_json", "svc")
    rec = NGINX | {
        "http_referer": "https://shop.example/",
        "http_x_api_version": "2",
        "http_cookie": "-",
        "http_accept_language": "",
        "http_version": "HTTP/1.1",  # a name for another variable, not a header
    }
    for _ in range(2):  # learning the keys, then knowing them
        e = dec.decode(orjson.dumps(rec), "f", 1)
        assert e.headers == (("referer", "https://shop.example/"), ("x-api-version", "2"))
        assert e.client == "203.0.113.5" and e.user_agent == "okhttp"
    e = dec.decode(orjson.dumps(rec | {"http_referer": "-", "http_x_api_version": "-"}), "f", 1)
    assert e.headers is None
    obj = orjson.loads(orjson.dumps(rec))
    fast = dec._fast(dec._core(obj), obj, "f", 1)  # type: ignore[attr-defined]
    assert fast is not None and fast == dec._slow(obj, "f", 1)  # type: ignore[attr-defined]


def test_envoy_headers() -> None:
    e = decode("envoy", ENVOY | {
        "request_headers": {"X-Tenant": "acme", "User-Agent": "dup", "x-empty": "-"},
        "req_x_api_version": "2",
        "request_header_x_client": "ios",
        "X-Request-Priority": "u=1",
        "referer": "https://a/",
        "cookie": ["a=1", "b=2"],
        "upstream_host": "10.0.0.1:80",  # Envoy's own fields are not headers
        "x_forwarded_proto": "https",
    })
    assert e.headers == (
        ("cookie", "a=1; b=2"),
        ("referer", "https://a/"),
        ("x-api-version", "2"),
        ("x-client", "ios"),
        ("x-request-priority", "u=1"),
        ("x-tenant", "acme"),
    )
    assert decode("envoy", ENVOY | {"request_headers": ["not", "an object"]}).headers is None


def test_clf_combined_referer_and_text_formats() -> None:
    assert decode("clf", CLF_COMBINED).headers == (("referer", "https://shop.example/cart?x=1"),)
    assert decode("clf", CLF_COMMON + ' "-" "curl/8"').headers is None
    assert decode("alb", ALB).headers is None and decode("wsgi", WSGI).headers is None


def test_at_most_max_headers_sorted_by_name() -> None:
    many = {f"http.request.header.x-h{i:02d}": str(i) for i in range(MAX_HEADERS + 8)}
    e = decode("otel", OTEL | many)
    assert e.headers is not None and len(e.headers) == MAX_HEADERS
    assert [n for n, _ in e.headers] == sorted(n for n, _ in e.headers)
    assert e.headers[0] == ("x-h00", "0") and e.headers[-1] == ("x-h31", "31")


def test_a_value_longer_than_the_cap_keeps_its_prefix() -> None:
    # Values are kept whole (no longer than their record): only a joined list, or numbers
    # written longer than in the record, can pass HEADER_CAP; the value keeps that much.
    assert HEADER_CAP >= MAX_LINE_BYTES
    n = MAX_LINE_BYTES // 4 - 1000  # "1.0," in the record, "1.0, " in the value
    e = decode("otel", OTEL | {"http.request.header.x-list": [1.0] * n})
    assert e.headers is not None
    name, value = e.headers[0]
    assert name == "x-list" and len(value) == HEADER_CAP and value.startswith("1.0, 1.0")
    big = "v" * 200_000  # long, but within its record: whole
    assert decode("nginx_json", NGINX | {"http_x_big": big}).headers == (("x-big", big),)


def test_header_value_forms() -> None:
    assert header_value("-") is None and header_value("") is None and header_value(None) is None
    assert header_value([None, "-", ""]) is None
    assert header_value(True) == "true" and header_value(1.5) == "1.5"
    assert header_value({"a": 1}) == '{"a":1}' and header_value(["a", 2]) == "a, 2"
    assert header_value(["a=1", "b=2"], "; ") == "a=1; b=2"


def test_header_keys_are_learned_and_bounded() -> None:
    hk = HeaderKeys(nginx_header_name)
    for i in range(3000):
        hk.headers({f"k{i}": "1", f"http_x_{i}": "v"})
    assert len(hk.known) <= 1100 and len(hk.names) <= 1100
    got = hk.headers({"k2999": "1", "http_x_2999": "v", "http_x_a": "1"})
    assert got == (("x-2999", "v"), ("x-a", "1"))  # past the bound: walked, still right


@pytest.mark.parametrize(
    ("fmt", "rec"),
    [
        ("otel", OTEL | {"http.request.header.x-api-version": "2"}),
        ("nginx_json", NGINX | {"http_referer": "https://a/", "http_x_api_version": "2"}),
        ("envoy", ENVOY | {"request_headers": {"x-api-version": "2"}, "x-tenant": "a"}),
    ],
)
def test_detection_verdicts_do_not_change_with_headers(fmt: str, rec: dict[str, object]) -> None:
    assert detect_format([orjson.dumps(rec)] * 3) == fmt
    assert detect_format([orjson.dumps(rec), PLAIN[fmt]]) == fmt


def test_detection_of_combined_clf_with_a_referer() -> None:
    assert detect_format([CLF_COMBINED.encode()] * 3) == "clf"


def test_events_with_headers_round_trip_through_state_and_retraining() -> None:
    e = decode("otel", OTEL | {"http.request.header.x-api-version": "2",
                               "http.request.header.cookie": ["a=1", "b=2"]})
    assert codec.decode(orjson.loads(orjson.dumps(codec.encode(e)))) == e
    back = decode("otel", event_json(e))
    assert back.headers == e.headers == (("cookie", "a=1; b=2"), ("x-api-version", "2"))
    plain = decode("otel", OTEL)
    assert b"http.request.header" not in event_json(plain)


def test_an_event_saved_without_headers_restores() -> None:
    # A snapshot written before the field existed holds 15 fields per event.
    old = {"$x": ["events.AccessEvent", [1.0, "s", None, "GET", "/", "", 200, 0.1, 5, "c", "ua",
                                         None, None, "f", 7]]}
    e = codec.decode(old)
    assert type(e) is AccessEvent and e.headers is None and e.offset == 7
    assert codec.encode(e)["$x"][1][-1] is None  # written back with the field


def test_carried_headers_never_appear() -> None:
    for fmt, rec in (("otel", OTEL | {"http.request.header.User-Agent": "u",
                                      "http.request.header.X-Forwarded-For": "1.1.1.1"}),
                     ("nginx_json", NGINX), ("envoy", ENVOY | {"user-agent": "u"})):
        e = decode(fmt, rec)
        assert not any(n in CARRIED for n, _ in e.headers or ())


def _events(tree: object) -> list[AccessEvent]:
    out: list[AccessEvent] = []
    stack = [tree]
    while stack:
        t = stack.pop()
        if type(t) is AccessEvent:
            out.append(t)
        elif isinstance(t, dict):
            stack.extend(t.values())
        elif isinstance(t, (list, tuple, set, frozenset)):
            stack.extend(t)
    return out


@pytest.mark.parametrize("fixture", [FLAT_V1, DETSNAP1])
def test_old_snapshot_files_restore_their_events_without_headers(fixture: Path) -> None:
    events = _events(loads(fixture.read_bytes()))
    assert events  # the fixtures hold events waiting in open windows
    assert all(e.headers is None and len(e) == len(AccessEvent._fields) for e in events)
