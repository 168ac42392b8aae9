"""The chunk decoders (``decode_batch``) against per-line decoding: the same events, or None.

A chunk decoder may refuse a chunk (None: it is then decoded line by line), never
answer differently. Chunks here mix records of each decoder's shape with hostile
ones: odd encodings, missing keys, wrong types, huge numbers, non-UTF-8 bytes, CRLF.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.decoding import DecodeError, make_decoder
from detector.decoding.base import MAX_LINE_BYTES
from detector.events import AccessEvent, DeploymentEvent

SETTINGS = settings(max_examples=int(os.environ.get("DECODE_EXAMPLES", "300")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
Line = bytes

# JSON texts of values no record of a chunk shape should hold, or that test the edges.
HOSTILE = ["true", "null", "[1]", '{"a": 1}', "18446744073709551616", "18446744073709551615",
           "-9223372036854775809", "1e400", "1e308", "-0", "-0.0", "0.0", '"\\ud800"',
           '"\\u0000"', '""', '"-"', '" "', '"\\u0661\\u0662"', '"1e3"', '"inf"', '"NaN"']
TIMES = ["2026-03-17T09:06:00Z", "2026-03-17T09:06:00.123Z", "2026-03-17T09:06:00.123456789Z",
         "2026-03-17T09:06:01.5Z", "2026-03-17T10:06:00+01:00", "2026-03-17T09:06:00+00:00",
         "2026-03-17T09:06:00.1234567891Z", "2026-03-17 09:06:00", "17/Mar/2026:09:06:00 +0000",
         "1773738360", "x", "", "1970-01-01T00:00:00Z", "2026-02-30T00:00:00Z"]
METHODS = ["GET", "get", "POST", "Delete", "BREW", "M-SEARCH", "G/T", "", "GET ", "ĞET"]
TARGETS = ["/a", "/a?b=1", "/", "/x/%zz?q=a b", "http://h:80/c?d", "https://h", "*", "", "-",
           "/é?é", "a", "/a?"]
ADDRS = ["1.2.3.4", "1.2.3.4:5678", "[::1]:80", "::1", "-", "", "unknown", "9.9.9.9, 1.1.1.1",
         "::ffff:1.2.3.4"]
TEXTS = ["curl/8", "-", "", 'say "hi"', "ünï", "a\\nb", '{"a":1}']


def text(values: list[str], good: int = 0) -> st.SearchStrategy[str]:
    """JSON strings of ``values``; three times in four one of the first ``good`` (if any)."""
    out = st.sampled_from(values)
    if good:
        usual = st.sampled_from(values[:good])
        out = st.one_of(usual, usual, usual, out)
    return out.map(lambda v: orjson.dumps(v).decode())


def number(lo: int, hi: int, floats: bool, only_floats: bool = False) -> st.SearchStrategy[str]:
    """JSON numbers (ints, floats) and numbers as strings between ``lo`` and ``hi``."""
    real = st.floats(lo, hi, allow_nan=False).map(lambda v: orjson.dumps(v).decode())
    if only_floats:
        return st.one_of(real, real, real, st.integers(lo, hi).map(str))
    out = st.integers(lo, hi).map(str) | st.integers(lo, hi).map(lambda v: f'"{v}"')
    return out | real if floats else out


def mostly(good: st.SearchStrategy[str], anything: st.SearchStrategy[str]
           ) -> st.SearchStrategy[str]:
    return st.one_of(good, good, good, anything)


INTS = st.integers(0, 10**6).map(str)
# Each format's keys, with the JSON texts of their usual values (a key may be left out).
SHAPES: dict[str, dict[str, st.SearchStrategy[str]]] = {
    "otel": {  # its chunk shape is the per-line fast path's: fewer odd values are usual
        "timestamp": text(TIMES, 6), "http.request.method": text(METHODS, 3),
        "url.path": text(TARGETS, 1),
        "http.response.status_code": mostly(st.integers(100, 599).map(str),
                                            number(95, 605, False)),
        "http.server.request.duration": number(-1, 100, True, True),
        "client.address": text(ADDRS, 4),
        "user_agent.original": text(TEXTS), "service.name": text(["shop", "", "-"], 1),
        "service.version": text(["1.2", "", "-"], 1),
        "http.response.body.size": mostly(INTS, number(-1, 10**6, False)),
        "url.query": text(["", "a=1", "-"]), "http.request.body.content": text(TEXTS),
        "network.peer.address": text(ADDRS), "http.request.header.x-forwarded-for": text(ADDRS),
    },
    "nginx_json": {
        "time_iso8601": text(TIMES, 6),
        "request": st.tuples(st.sampled_from(METHODS), st.sampled_from(TARGETS),
                             st.sampled_from(["HTTP/1.1", "", "HTTP/1.1 x"])).map(
            lambda p: orjson.dumps(" ".join(x for x in p if x)).decode()),
        "status": number(0, 700, False), "request_time": number(-1, 100, True),
        "upstream_response_time": text(["0.1", "0.1, 0.2", "-", "0.1 : x"]) | number(0, 9, True),
        "body_bytes_sent": number(-5, 10**6, False), "remote_addr": text(ADDRS),
        "http_x_forwarded_for": text(ADDRS), "http_user_agent": text(TEXTS),
        "request_body": text(TEXTS), "service": text(["shop", "", "-"]),
        "version": text(["1.2", "", "-"]),
    },
    "envoy": {
        "start_time": text(TIMES, 6), "method": text(METHODS, 6), "path": text(TARGETS, 6),
        "response_code": number(0, 700, False), "duration": number(-1, 10**5, True),
        "upstream_service_time": number(0, 10**5, True) | text(["-", ""]),
        "bytes_sent": number(-5, 10**6, False), "downstream_remote_address": text(ADDRS),
        "x_forwarded_for": text(ADDRS), "user_agent": text(TEXTS),
        "request_id": text(["r-1", "-"]) | number(0, 10**6, True),
        "service": text(["shop", "", "-"]), "version": text(["1.2", "", "-"]),
        "protocol": text(["HTTP/1.1"]), "response_flags": text(["-", "UF"]),
        "bytes_received": number(0, 9, False), "authority": text(["a.b"]),
        "upstream_host": text(["10.0.0.1:80"]) | st.just('{"x": [1, 2]}'),
    },
}
# Nested OTel: the same keys as objects in objects ("http.request.method" is
# {"http": {"request": {"method": ...}}}).
SHAPES["otel_nested"] = {
    **{k: v for k, v in SHAPES["otel"].items() if k not in (
        "network.peer.address", "http.request.header.x-forwarded-for")},
    "http.server.request.duration": number(-1, 100, True),
}
# Keys a usual record has (the others are left out one time in ten).
REQUIRED = {"otel": set(list(SHAPES["otel"])[:10]), "nginx_json": {"time_iso8601", "request"},
            "envoy": {"start_time", "method", "path"},
            "otel_nested": set(list(SHAPES["otel"])[:10]) - {"service.version"}}
DECODER = {"otel_nested": "otel"}
# Keys outside every chunk shape: request headers, deployments, other aliases.
EXTRA = ["type", "request_id", "http_referer", "x-tenant", "req_x_a", "url.query", "msec",
         "http.request.header.x-api-version", "body", "request_method", "duration", "service",
         "url.full", "source.ip", "event.duration", "http.request.header", "version"]


def nest(fields: list[tuple[str, str]]) -> str:
    """A JSON object of dotted keys as nested objects (the later of two values wins)."""
    tree: dict[str, Any] = {}
    for key, value in fields:
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[leaf] = value
    return render(tree)


def render(tree: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{orjson.dumps(k).decode()}: "
                           f"{render(v) if isinstance(v, dict) else v}"
                           for k, v in tree.items()) + "}"


@st.composite
def records(draw: st.DrawFn, fmt: str, hostile: bool) -> Line:
    """One line: a record of ``fmt``'s chunk shape, or (``hostile``) one bent out of it."""
    fields = []
    for key, usual in SHAPES[fmt].items():
        if (hostile or key not in REQUIRED[fmt]) and draw(st.integers(0, 9)) == 0:
            continue  # a key left out
        value = usual if not hostile or draw(st.integers(0, 11)) else st.sampled_from(HOSTILE)
        fields.append((key, draw(value)))
    if hostile and draw(st.integers(0, 3)) == 0:
        fields.append((draw(st.sampled_from(EXTRA + list(SHAPES[fmt]))),
                       draw(st.sampled_from(HOSTILE + ['"deployment"', '"2"']))))
    if fmt == "otel_nested":
        line = nest(fields).encode()
    else:
        line = ("{" + ", ".join(f"{orjson.dumps(k).decode()}: {v}" for k, v in fields)
                + "}").encode()
    if hostile and draw(st.integers(0, 2)) == 0:
        cut = draw(st.integers(0, len(line)))
        line = draw(st.sampled_from([
            line, line + b"\r\n", line + b"\n", b"\xef\xbb\xbf" + line, line[:cut],
            line[:cut] + b"\xff" + line[cut:], line + b" x", b"", b"  \n",
            b'{"type": "deployment", "service": "s", "version": "2", "timestamp": "%s"}'
            % TIMES[0].encode()]))
    return line


def per_line(fmt: str, lines: list[Line], first: int) -> list[AccessEvent | DeploymentEvent
                                                              | DecodeError]:
    dec = make_decoder(DECODER.get(fmt, fmt), "svc")
    out: list[AccessEvent | DeploymentEvent | DecodeError] = []
    for no, raw in enumerate(lines, first):
        try:
            out.append(dec.decode(raw, "src", no))
        except DecodeError as exc:
            out.append(exc)
    return out


def check_chunk(fmt: str, lines: list[Line]) -> list[Any] | None:
    """``decode_batch`` of ``lines`` on a fresh decoder: None, or per-line decoding's events."""
    got = make_decoder(DECODER.get(fmt, fmt), "svc").decode_batch(lines, "src", 11)  # type: ignore[attr-defined]
    if got is not None:
        want = per_line(fmt, lines, 11)
        assert got == want, (lines, got, want)
        assert [type(e) for e in got] == [AccessEvent] * len(lines)
        assert [type(v) for e in got for v in (e.ts, e.method, e.path, e.query, e.client)] \
            == [float, str, str, str, str] * len(lines)
    return got


@pytest.mark.parametrize("fmt", list(SHAPES))
@SETTINGS
@given(data=st.data())
def test_hostile_chunks_decode_as_line_by_line(fmt: str, data: st.DataObject) -> None:
    check_chunk(fmt, data.draw(st.lists(records(fmt, hostile=True), min_size=1, max_size=4)))


@pytest.mark.parametrize("fmt", list(SHAPES))
@SETTINGS
@given(data=st.data())
def test_usual_chunks_decode_as_line_by_line(fmt: str, data: st.DataObject) -> None:
    check_chunk(fmt, data.draw(st.lists(records(fmt, hostile=False), min_size=1, max_size=6)))


def test_the_chunk_path_takes_the_writers_records() -> None:
    """The simulator's nginx, envoy and nested OTel records go through the chunk path."""
    nginx = (b'{"time_iso8601":"2026-03-17T06:00:00+00:00","remote_addr":"90.150.172.5",'
             b'"request":"POST /v1/auth/refresh HTTP/1.1","status":200,"body_bytes_sent":751,'
             b'"request_time":0.06,"upstream_response_time":"0.059","http_x_forwarded_for":"",'
             b'"http_user_agent":"curl/8","request_body":"{\\"a\\":1}","service":"accounts",'
             b'"version":"3.2.7"}\n')
    envoy = (b'{"start_time":"2026-03-17T06:00:00.114Z","method":"GET","path":"/v1/p?q=1",'
             b'"protocol":"HTTP/2","response_code":504,"response_flags":"UT",'
             b'"bytes_received":0,"bytes_sent":587,"duration":61,"upstream_service_time":null,'
             b'"x_forwarded_for":"203.0.113.9","user_agent":"curl/8","request_id":"ab-1",'
             b'"authority":"catalog.internal","upstream_host":"10.1.3.11:8080",'
             b'"downstream_remote_address":"10.0.0.7:1234","service":"catalog",'
             b'"version":"1.0"}\n')
    nested = (b'{"timestamp":"2026-03-17T06:00:00.070Z","service":{"name":"accounts",'
              b'"version":"3.2.7"},"http":{"request":{"method":"POST","body":{"content":'
              b'"{\\"a\\":1}"}},"response":{"status_code":200,"body":{"size":751}},"server":'
              b'{"request":{"duration":0.059923}}},"url":{"path":"/v1/auth/refresh"},'
              b'"client":{"address":"90.150.172.5"},"user_agent":{"original":"curl/8"}}\n')
    for fmt, line in (("nginx_json", nginx), ("envoy", envoy), ("otel_nested", nested)):
        got = check_chunk(fmt, [line, line.replace(b"\n", b"\r\n")])
        assert got is not None and got[1].offset == 12
    got = check_chunk("envoy", [envoy])
    assert got is not None and (got[0].status, got[0].duration, got[0].client) == (
        504, 0.061, "203.0.113.9")


@pytest.mark.parametrize("fmt", list(SHAPES))
def test_an_overlong_line_sends_the_chunk_line_by_line(fmt: str) -> None:
    pad = {"otel": "user_agent.original", "nginx_json": "http_user_agent", "envoy": "user_agent",
           "otel_nested": "timestamp"}
    line = b'{"%s": "%s"}' % (pad[fmt].encode(), b"x" * MAX_LINE_BYTES)
    decoder = make_decoder(DECODER.get(fmt, fmt))
    assert decoder.decode_batch([line], "src", 1) is None  # type: ignore[attr-defined]


def test_a_learned_time_key_sends_chunks_line_by_line() -> None:
    """A source whose records taught the decoder another time key keeps its per-line reading."""
    dec = make_decoder("nginx_json")
    dec.decode(b'{"msec": "1773738360.5", "request": "GET / HTTP/1.1"}', "src", 1)
    line = b'{"time_iso8601": "2026-03-17T09:06:00+00:00", "request": "GET / HTTP/1.1"}'
    assert dec.decode_batch([line], "src", 2) is None  # type: ignore[attr-defined]
    assert make_decoder("nginx_json").decode_batch([line], "src", 2) is not None  # type: ignore[attr-defined]
