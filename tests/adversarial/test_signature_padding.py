"""Issue 8 item 5: padding a field past the 64 Ki scan window must hide nothing.

Before the fix only the first 65,536 characters of a field were decoded and
scanned, so 64 KB of filler in front of a ``<script>`` made it invisible, and
the oversized field itself raised nothing.
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
from detector.analysis.normalize import MAX_FIELD_CHARS
from detector.analysis.signatures import WINDOW_OVERLAP, SignatureEngine
from detector.events import AccessEvent

XSS = "<script>alert(document.cookie)</script>"
ENCODED_XSS = "%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E"


@pytest.fixture(scope="module")
def engine() -> SignatureEngine:
    return SignatureEngine.default()


def _event(query: str, ua: str = "Mozilla/5.0") -> AccessEvent:
    return AccessEvent(0.0, "shop", None, "GET", "/search", query, 200, None, None,
                       "203.0.113.9", ua, None, None, "t.log", 1)


def test_payload_behind_64k_of_padding_is_an_attack() -> None:
    f = RequestAnalyzer().analyze(_event("q=" + "a" * MAX_FIELD_CHARS + XSS), "/search")
    assert f is not None and f.kind == ATTACK and "xss" in f.attack_types
    assert any("exceeds the 65,536-character scan window" in r for r in f.reasons)


def test_padding_alone_is_a_size_anomaly() -> None:
    f = RequestAnalyzer().analyze(_event("q=" + "a" * 69_998), "/search")
    assert f is not None and f.kind == UNUSUAL and f.score >= 0.5
    assert f.reasons == ("query of 70,000 characters exceeds the 65,536-character scan window",)
    ua = RequestAnalyzer().analyze(_event("", ua="Mozilla/5.0 " + "x" * 70_000), "/search")
    assert ua is not None and ua.kind == UNUSUAL and ua.reasons[0].startswith("user_agent of")


@settings(max_examples=25, deadline=None)
@given(offset=st.integers(0, 200_000), encoded=st.booleans())
def test_payload_anywhere_in_a_200k_field_is_found(
    engine: SignatureEngine, offset: int, encoded: bool
) -> None:
    payload = ENCODED_XSS if encoded else XSS
    text = "q=" + "b" * offset + payload + "c" * (200_000 - offset)
    assert "xss" in {h.category for h in engine.scan_text(text, "query")}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_payload_straddling_each_window_boundary(engine: SignatureEngine, k: int) -> None:
    step = engine.max_field_chars - WINDOW_OVERLAP
    end_of_window = (k - 1) * step + engine.max_field_chars
    for at in (end_of_window - len(XSS) // 2, k * step - 3, k * step + 1):
        text = "z" * at + XSS + "z" * 200_000
        assert engine.scan_text(text, "query"), at


def test_oversized_lists_only_the_long_fields(engine: SignatureEngine) -> None:
    assert engine.oversized({"path": "/", "query": "a=1", "body": None}) == []
    got = engine.oversized({"path": "/" + "p" * 70_000, "body": "b" * 65_536})
    assert got == ["path of 70,001 characters exceeds the 65,536-character scan window"]


def test_padded_campaign_through_replay_is_an_attack_incident(tmp_path: Path) -> None:
    rows = [
        {"timestamp": f"2026-03-17T09:00:{i:02d}Z", "service.name": "shop",
         "http.request.method": "GET", "url.path": "/search",
         "url.query": "q=" + "a" * 70_000 + XSS, "http.response.status_code": 200,
         "client.address": "203.0.113.66", "user_agent.original": "Mozilla/5.0"}
        for i in range(8)
    ]
    log = tmp_path / "padded.log"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "incidents.jsonl"
    res = subprocess.run([sys.executable, "-m", "detector", "replay", str(log),
                          "--sink", f"jsonl:{out}"], capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    kinds = {json.loads(line)["kind"] for line in out.read_text().splitlines()}
    assert kinds == {"attack_payload"}
