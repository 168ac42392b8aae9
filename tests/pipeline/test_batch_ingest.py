"""The batch path (column-wise decoding, pipeline.batch_ingest) against the per-event
path: the same items, window state, counters and incidents, on every format."""

from __future__ import annotations

import heapq
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.decoding import stage
from detector.decoding.otel import OtelDecoder
from detector.decoding.stage import LineDecoder
from detector.events import BadRecord, DeploymentEvent, Item
from detector.simulate import simulate
from detector.sources.files import FileSource, merged, merged_chunks
from detector.sources.files import _key as files_key
from detector.sources.timeguard import plausible_times
from tests.pipeline.batch_compare import assert_same

T0 = datetime(2026, 3, 20, tzinfo=UTC).timestamp()
PATHS = ["/v1/items/{n}", "/v1/orders/{n}/lines", "/health", "/v1/search", "/admin/.env",
         "/v1/users/{n}", "/static/app.js"]
STATUSES = [200] * 30 + [201, 204, 301, 304, 400, 401, 403, 404, 404, 409, 429, 500, 502, 503]
AGENTS = ["okhttp/4.9", "Mozilla/5.0 (X11)", "curl/8.1", "python-requests/2.31", "sqlmap/1.7"]


def _iso(t: float, digits: int = 3) -> str:
    whole = datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{int(t % 1 * 10**digits):0{digits}d}Z"


def _clf_time(t: float) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _line(fmt: str, t: float, rng: random.Random) -> str:
    path = rng.choice(PATHS).format(n=rng.randrange(500))
    status = rng.choice(STATUSES)
    ua = rng.choice(AGENTS)
    client = f"10.0.{rng.randrange(4)}.{rng.randrange(40)}"
    dur = round(rng.lognormvariate(-3.5, 1.0), 6)
    size = rng.choice([0, 12, 512, 4096, 70_000])
    query = rng.choice(["", "", "", "q=shoes", "id=1%27%20OR%201=1"])
    version = "2.1.0" if t < T0 + 900 else rng.choice(["2.1.0", "2.2.0"])
    if fmt == "otel":
        rec = {"timestamp": _iso(t), "http.request.method": rng.choice(["GET", "get", "POST"]),
               "url.path": path, "http.response.status_code": status,
               "http.server.request.duration": dur, "client.address": client,
               "user_agent.original": ua, "service.name": rng.choice(["shop", "pay"]),
               "service.version": version, "http.response.body.size": size}
        if query:
            rec["url.query"] = query
        if rng.random() < 0.1:
            rec["http.request.body.content"] = '{"amount": 5}'
        if rng.random() < 0.1:
            rec["network.peer.address"] = "10.9.9.9"
            rec["http.request.header.x-forwarded-for"] = client
        if rng.random() < 0.03:
            rec["http.request.header.x-api-version"] = "3"
        return orjson.dumps(rec).decode()
    target = path + (f"?{query}" if query else "")
    if fmt == "nginx_json":
        return orjson.dumps({
            "time_iso8601": _iso(t, 0)[:19] + "+00:00", "remote_addr": "10.1.1.1",
            "http_x_forwarded_for": client, "request": f"GET {target} HTTP/1.1",
            "status": str(status), "body_bytes_sent": str(size), "request_time": str(dur),
            "http_user_agent": ua, "service": "shop", "version": version}).decode()
    if fmt == "envoy":
        return orjson.dumps({
            "start_time": _iso(t), "method": "GET", "path": target,
            "response_code": str(status if rng.random() > 0.02 else 0),
            "duration": str(int(dur * 1000)), "x_forwarded_for": client, "user_agent": ua,
            "bytes_sent": str(size), "authority": "cart",
            "downstream_remote_address": "10.1.1.1:4000"}).decode()
    if fmt == "clf":
        return (f'{client} - - [{_clf_time(t)}] "GET {target} HTTP/1.1" {status} {size} "-" '
                f'"{ua}" {dur}')
    if fmt == "alb":
        return (f"https {_iso(t, 6)} app/lb/50dc {client}:2817 10.0.0.1:80 0.001 {dur} 0.000 "
                f'{status} {status} 34 {size} "GET https://shop.example.com:443{target} '
                f'HTTP/1.1" "{ua}" ECDHE TLSv1.2 arn:tg "Root=1-5" "shop.example.com" "-" 1 '
                f'{_iso(t, 6)} "forward" "-" "-" "10.0.0.1:80" "{status}" "-" "-"')
    assert fmt == "wsgi"
    when = datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%d %H:%M:%S")
    return (f"nova-api.log {when}.{int(t % 1 * 1000):03d} 25746 INFO nova.osapi_compute.wsgi"
            f".server [req-38 113d 54fa - - -] {client} \"GET {target} HTTP/1.1\" status: "
            f"{status} len: {size} time: {dur}")


def _lines(fmt: str, n: int, seed: int) -> list[bytes]:
    """``n`` lines over some 40 minutes: windows close mid-batch, a few arrive late."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = T0 + i * 2400 / n + rng.random()
        if rng.random() < 0.02:
            t -= rng.choice([30, 200, 4000])  # late, or too late to count
        out.append((_line(fmt, t, rng) + "\n").encode())
        if rng.random() < 0.002:
            out.append(b"not a log line\n")
    return out


def _decoded(path: Path, fmt: str = "auto") -> list[Item]:
    return list(merged([FileSource(str(path), fmt=fmt, service="web")]))


@pytest.mark.parametrize("fmt", ["otel", "nginx_json", "envoy", "clf", "alb", "wsgi"])
def test_every_format_gives_the_same_windows_and_incidents(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / f"access.{fmt}.log"
    path.write_bytes(b"".join(_lines(fmt, 3000, seed=len(fmt))))
    items = _decoded(path, fmt)
    assert sum(isinstance(i, BadRecord) for i in items) >= 1
    out = assert_same(items)
    assert out["counts"][0] > 2000 and out["counts"][1] > 0  # events, late events
    assert len(out["closed"]) >= 30


def _per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OtelDecoder, "decode_batch", lambda self, raws, source, first: None)


def test_bench_profile_slice_decodes_and_counts_alike(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    simulate(tmp_path, profile="bench", lines=12_000, hours=0.5, seed=11)
    files = sorted(tmp_path.glob("access-*.log"))
    assert len(files) == 5
    batch = list(merged([FileSource(str(f)) for f in files]))
    with monkeypatch.context() as m:
        _per_line(m)
        lines = list(merged([FileSource(str(f)) for f in files]))
    assert batch == lines  # the same events, positions and order
    out = assert_same(batch)
    assert out["counts"][0] == len(batch)


def test_bench_slice_in_chunks_merges_and_counts_as_item_by_item(tmp_path: Path) -> None:
    """Replay's chunk path (decoder lists, time guard, merge and batch ingest by list)
    against the item-by-item one, on five inputs with bad lines, late lines and absurd
    times spliced in."""
    simulate(tmp_path, profile="bench", lines=12_000, hours=0.5, seed=12)
    files = sorted(tmp_path.glob("access-*.log"))
    rng = random.Random(5)
    for f in files:
        lines = f.read_bytes().splitlines(keepends=True)
        for _ in range(6):
            at = rng.randrange(20, len(lines))
            rec = orjson.loads(lines[at])
            then = datetime.fromisoformat(rec["timestamp"]) - timedelta(hours=1)  # late
            rec["timestamp"] = rng.choice(["2031-01-01T00:00:00Z", then.isoformat()])
            lines.insert(at, orjson.dumps(rec) + b"\n")
            lines.insert(rng.randrange(len(lines)), b"not a log line\n")
        f.write_bytes(b"".join(lines))
    sources = [FileSource(str(f)) for f in files]
    by_item = list(heapq.merge(*(plausible_times(iter(s)) for s in sources),
                               key=files_key))
    chunked = [it for chunk in merged_chunks([FileSource(str(f)) for f in files])
               for it in chunk]
    assert chunked == by_item
    reasons = {r.reason.split(":")[0] for r in chunked if isinstance(r, BadRecord)}
    assert "timestamp far outside the input's time range" in reasons
    out = assert_same(chunked, sizes=(4096, 97), chunks=(1024, 1, 3000, 17))
    assert out["counts"][1] > 0  # late events counted alike


def test_deployments_and_version_changes_keep_their_place() -> None:
    from detector.events import AccessEvent

    items: list[Item] = []
    rng = random.Random(3)
    for i in range(4000):
        t = T0 + i * 0.6
        if i % 700 == 350:
            items.append(DeploymentEvent(t, "shop", f"3.{i}.0"))
        if i % 900 == 10:
            items.append(BadRecord("f", i, "invalid JSON", b"{"))
        ver = f"3.{i // 700 * 700 - 350}.0" if i >= 350 else "2.0.0"
        items.append(AccessEvent(t, "shop", ver if rng.random() < 0.9 else "2.0.0", "GET",
                                 f"/v1/items/{rng.randrange(90)}", "", rng.choice(STATUSES),
                                 rng.random() / 5, rng.randrange(3000), f"c{rng.randrange(60)}",
                                 rng.choice(AGENTS), None, None, "f", i))
    out = assert_same(items)
    assert out["counts"][4] == 6  # deployments


HOSTILE = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"", b"\n", b"[]", b"null", b'{"type": "deployment"}', b"\xff\xfe",
                     b'{"timestamp": "2026-03-20T00:00:00.5Z"}', b'"\\ud800"', b"{" * 50,
                     b'{"http.response.status_code": 1e999}']),
    st.builds(lambda k, v: orjson.dumps({k: v}),
              st.sampled_from(["timestamp", "url.path", "http.response.status_code",
                               "service.version", "http.request.method"]),
              st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(),
                        st.text(max_size=8))),
)


def _mutate(line: bytes, key: str, value: object) -> bytes:
    rec = orjson.loads(line)
    big = isinstance(value, int) and not -(2**63) <= value < 2**64
    rec[key] = "BIG" if big else value
    out = orjson.dumps(rec)
    if big:  # beyond what orjson writes (it reads such a number as a float)
        out = out.replace(b'"BIG"', str(value).encode())
    return out + b"\n"


MUTATION = st.tuples(
    st.sampled_from(["timestamp", "url.path", "http.response.status_code", "url.query",
                     "http.server.request.duration", "http.response.body.size",
                     "service.version", "client.address", "http.request.method",
                     "http.request.body.content", "network.peer.address"]),
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
              st.sampled_from(["", "-", "2026-03-20T00:00:01.1234567890Z", "1:2:3",
                               "/a?b", "2026-13-20T00:00:01.5Z", "2026-03-20t00:00:01.5z"])),
)


@settings(max_examples=int(os.environ.get("BATCH_EXAMPLES", "20")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(hostile=st.lists(st.tuples(st.integers(0, 799), HOSTILE), max_size=8),
       mutations=st.lists(st.tuples(st.integers(0, 799), MUTATION), max_size=8))
def test_hostile_lines_are_bad_records_as_line_by_line(
        hostile: list[tuple[int, bytes]], mutations: list[tuple[int, tuple[str, object]]]
) -> None:
    lines = _lines("otel", 800, seed=5)
    for at, (key, value) in mutations:
        if lines[at].startswith(b"{"):  # _lines puts a few bad lines of its own in
            lines[at] = _mutate(lines[at], key, value)
    for at, raw in sorted(hostile, reverse=True):
        lines.insert(at, raw + b"\n")

    def decode(batch: bool) -> list[Item]:
        saved = OtelDecoder.decode_batch, stage.CHUNK_LINES
        if not batch:
            OtelDecoder.decode_batch = lambda self, raws, source, first: None  # type: ignore[method-assign]
        stage.CHUNK_LINES = 50  # chunks taken whole next to chunks that fall back
        try:
            return list(LineDecoder("f.log").decode(iter(lines)))
        finally:
            OtelDecoder.decode_batch, stage.CHUNK_LINES = saved  # type: ignore[method-assign]

    items = decode(batch=True)
    assert items == decode(batch=False)
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert all(b.reason for b in bad)
    assert len(bad) >= sum(1 for _, raw in hostile if raw.strip())  # none is an event
    assert_same(items, sizes=(64,), analyze=False)
