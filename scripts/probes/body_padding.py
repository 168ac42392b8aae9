"""Padding a logged request body, through ``detector replay``.

The decoders used to keep only the first 4,096 characters of a body: 4 KB of
filler in front of a payload hid it from request analysis, silently. Bodies are
now kept whole (bounded by the 1 MiB record cap) and analysed like any field.
"""

from __future__ import annotations

import json
from pathlib import Path

from probes import Probe, check, run_detector

XSS = "<script>alert(1)</script>"


def _replay(work: Path, fmt: str, bodies: list[str]) -> list[dict[str, object]]:
    if fmt == "nginx_json":
        rows: list[dict[str, object]] = [
            {"time_iso8601": f"2026-03-17T09:00:{i:02d}+00:00",
             "request": "POST /comments HTTP/1.1", "status": "200", "request_time": "0.012",
             "remote_addr": "203.0.113.66", "http_user_agent": "Mozilla/5.0",
             "body_bytes_sent": "12", "request_body": b} for i, b in enumerate(bodies)]
    else:
        rows = [{"start_time": f"2026-03-17T09:00:{i:02d}.000Z", "method": "POST",
                 "path": "/comments", "response_code": 200, "duration": 12,
                 "downstream_remote_address": "203.0.113.66:5555",
                 "user_agent": "Mozilla/5.0", "body": b} for i, b in enumerate(bodies)]
    log = work / f"{fmt}.log"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = work / "incidents.jsonl"
    res = run_detector(["replay", str(log), "--format", fmt, "--sink", f"jsonl:{out}"])
    check(res.returncode == 0, f"replay exit {res.returncode}: {res.stderr[-300:]!r}")
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _kinds(incidents: list[dict[str, object]]) -> set[object]:
    return {i["kind"] for i in incidents}


def padded_body(work: Path) -> str:
    """nginx bodies with 4 KB to 60 KB of filler before a payload, 8 requests."""
    got = _replay(work, "nginx_json",
                  ["comment=" + "a" * (4_000 + 8_000 * i) + XSS for i in range(8)])
    check(_kinds(got) == {"attack_payload"}, f"expected one attack_payload, got {_kinds(got)}")
    return "attack_payload incident: payload found behind 4-60 KB of body padding"


def oversized_body(work: Path) -> str:
    """Envoy bodies of 500 KB of filler: nothing to match, the size is the finding."""
    got = _replay(work, "envoy", ["a" * 500_000] * 8)
    check(_kinds(got) == {"unusual_payload"}, f"expected unusual_payload, got {_kinds(got)}")
    reasons = got[0]["evidence"]["top_reasons"]  # type: ignore[index]
    check(any(r.startswith("body of 500,000 characters exceeds") for r in reasons),
          f"no size reason with the true length in {reasons}")
    return "unusual_payload incident: 'body of 500,000 characters exceeds the scan window'"


PROBES: list[Probe] = [
    Probe("payload behind 4-60 KB of body padding", padded_body),
    Probe("500 KB body of padding alone", oversized_body),
]
