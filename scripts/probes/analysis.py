"""Padding against the signature scan window, through ``detector replay``.

Only the first 64 Ki characters of a field used to be scanned: padding in front
of a payload hid it. Now every window of the field is scanned (overlapping) and
a field beyond the window is a size anomaly of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from probes import Probe, check, run_detector

XSS = "<script>alert(document.cookie)</script>"


def _replay(work: Path, queries: list[str]) -> list[dict[str, object]]:
    rows = [{"timestamp": f"2026-03-17T09:00:{i:02d}Z", "service.name": "shop",
             "http.request.method": "GET", "url.path": "/search", "url.query": q,
             "http.response.status_code": 200, "client.address": "203.0.113.66",
             "user_agent.original": "Mozilla/5.0"} for i, q in enumerate(queries)]
    log = work / "padded.log"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = work / "incidents.jsonl"
    res = run_detector(["replay", str(log), "--sink", f"jsonl:{out}"])
    check(res.returncode == 0, f"replay exit {res.returncode}: {res.stderr[-300:]!r}")
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _kinds(incidents: list[dict[str, object]]) -> set[object]:
    return {i["kind"] for i in incidents}


def padded_payload(work: Path) -> str:
    """64 KB, then 100 KB of padding (head, middle) before a payload, in 8 requests."""
    pads = [65_536, 100_000] * 4
    got = _replay(work, ["q=" + "a" * n + XSS + "b" * 100_000 for n in pads])
    check(_kinds(got) == {"attack_payload"}, f"expected one attack_payload, got {_kinds(got)}")
    return "attack_payload incident: payload found at 64 KB and 100 KB in 200 KB queries"


def padding_alone(work: Path) -> str:
    """8 queries of 300 KB of filler: nothing to match, the size is the finding."""
    got = _replay(work, ["q=" + "a" * 300_000] * 8)
    check(_kinds(got) == {"unusual_payload"}, f"expected unusual_payload, got {_kinds(got)}")
    reasons = got[0]["evidence"]["top_reasons"]  # type: ignore[index]
    check(any("exceeds the 65,536-character scan window" in r for r in reasons),
          f"no size reason in {reasons}")
    return "unusual_payload incident: 'query of 300,002 characters exceeds the scan window'"


PROBES: list[Probe] = [
    Probe("payload behind 64-100 KB of padding", padded_payload),
    Probe("300 KB of padding alone", padding_alone),
]
