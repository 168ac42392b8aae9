"""Issue 8 item 5, the body half: padding a logged request body must hide nothing.

Before the fix the decoders kept only the first 4,096 characters of a body, so
~4 KB of filler in front of a ``<script>`` hid it from request analysis, and the
cut was silent: the analyser never learnt the body had been longer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.findings import ATTACK, UNUSUAL
from detector.decoding import make_decoder
from detector.events import AccessEvent

XSS = "<script>alert(1)</script>"


def _nginx(i: int, body: str) -> dict[str, str]:
    return {"time_iso8601": f"2026-03-17T09:00:{i:02d}+00:00",
            "request": "POST /comments HTTP/1.1", "status": "200", "request_time": "0.012",
            "remote_addr": "203.0.113.66", "http_user_agent": "Mozilla/5.0",
            "body_bytes_sent": "12", "request_body": body, "service": "shop"}


def _envoy(i: int, body: str) -> dict[str, object]:
    return {"start_time": f"2026-03-17T09:00:{i:02d}.000Z", "method": "POST",
            "path": "/comments", "response_code": 200, "duration": 12,
            "downstream_remote_address": "203.0.113.66:5555", "user_agent": "Mozilla/5.0",
            "bytes_sent": 12, "body": body, "service": "shop"}


def _decode(fmt: str, rec: dict[str, object]) -> AccessEvent:
    ev = make_decoder(fmt, "shop").decode(json.dumps(rec).encode(), "t.log", 1)
    assert isinstance(ev, AccessEvent)
    return ev


@pytest.mark.parametrize(("fmt", "record"), [("nginx_json", _nginx), ("envoy", _envoy)])
def test_padded_body_through_replay_is_an_attack_incident(
    tmp_path: Path, fmt: str, record: object
) -> None:
    make = record  # one campaign: 8 requests, 4 KB to 60 KB of filler before the payload
    rows = [make(i, "comment=" + "a" * (4_000 + 8_000 * i) + XSS)  # type: ignore[operator]
            for i in range(8)]
    log = tmp_path / f"{fmt}.log"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "incidents.jsonl"
    res = subprocess.run([sys.executable, "-m", "detector", "replay", str(log), "--format", fmt,
                          "--sink", f"jsonl:{out}"], capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    kinds = {json.loads(line)["kind"] for line in out.read_text().splitlines()}
    assert kinds == {"attack_payload"}


@pytest.mark.parametrize(("fmt", "record"), [("nginx_json", _nginx), ("envoy", _envoy)])
def test_long_body_reaches_the_analyser_whole(fmt: str, record: object) -> None:
    body = "x" * 70_000 + XSS
    ev = _decode(fmt, record(0, body))  # type: ignore[operator]
    assert ev.body == body
    # A body past the scan window is a size anomaly naming its true length ...
    f = RequestAnalyzer().analyze(ev._replace(body="x" * 70_000), "/comments")
    assert f is not None and f.kind == UNUSUAL and f.score >= 0.5
    assert f.reasons == ("body of 70,000 characters exceeds the 65,536-character scan window",)
    # ... and a payload at its tail is still an attack, with the size reason attached.
    f = RequestAnalyzer().analyze(ev, "/comments")
    assert f is not None and f.kind == ATTACK and "xss" in f.attack_types
    assert "body of 70,025 characters exceeds the 65,536-character scan window" in f.reasons


def test_json_object_body_is_kept_whole() -> None:
    # nginx_json generic path and otel: a body logged as a JSON object is re-serialised whole.
    inner = {"comment": "a" * 20_000 + XSS}
    rec = _nginx(0, "") | {"request_body": inner, "version": "1.0"}  # type: ignore[dict-item]
    ev = _decode("nginx_json", rec)  # type: ignore[arg-type]
    assert ev.body is not None and ev.body.endswith(XSS + '"}')
    otel = {"timestamp": "2026-03-17T09:00:00Z", "service.name": "shop",
            "http.request.method": "POST", "url.path": "/c", "http.response.status_code": 200,
            "client.address": "203.0.113.66", "http.request.body.content": inner}
    assert _decode("otel", otel).body == ev.body


@settings(max_examples=20, deadline=None)
@given(pad=st.integers(4_000, 60_000), fmt=st.sampled_from(["nginx_json", "envoy"]))
def test_payload_after_any_padding_is_found(pad: int, fmt: str) -> None:
    make = _nginx if fmt == "nginx_json" else _envoy
    ev = _decode(fmt, make(0, "comment=" + "b" * pad + XSS))  # type: ignore[operator]
    f = RequestAnalyzer().analyze(ev, "/comments")
    assert f is not None and f.kind == ATTACK and "xss" in f.attack_types
