"""scripts/eval_campaigns.py counts every incident of a campaign label's kind on its service."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import orjson

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_campaigns",
                                                  ROOT / "scripts" / "eval_campaigns.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _inc(i: int, client: str | None, start: str) -> dict[str, object]:
    return {"id": f"inc-{i:012d}", "status": "open", "kind": "auth_failure_burst",
            "severity": "high", "service": "accounts", "route": "/v1/auth/login",
            "method": "POST", "client": client, "start": start, "end": start,
            "detected_at": start, "score": 0.9, "summary": "s", "evidence": {},
            "deployment": None}


def test_a_campaign_split_per_client_counts_every_incident(tmp_path: Path) -> None:
    labels = [
        {"id": "lbl-1", "service": "accounts", "kind": "auth_failure_burst",
         "route": "/v1/auth/login", "start": "2026-03-20T10:00:00Z",
         "end": "2026-03-20T11:00:00Z", "params": {"shape": "slow_stuffing"}},
        {"id": "lbl-2", "service": "accounts", "kind": "auth_failure_burst",
         "route": "/v1/auth/login", "start": "2026-03-20T15:00:00Z",
         "end": "2026-03-20T16:00:00Z", "params": {"shape": "slow_stuffing"}},
        {"id": "lbl-3", "service": "accounts", "kind": "auth_failure_burst",
         "route": "/v1/auth/login", "start": "2026-03-20T18:00:00Z",
         "end": "2026-03-20T18:10:00Z", "params": {}},  # not a campaign shape
    ]
    incs = [_inc(1, None, "2026-03-20T10:05:00Z"),  # the first: one route incident
            _inc(2, "1.2.3.4", "2026-03-20T15:10:00Z"),  # the second: split per client
            _inc(3, "1.2.3.5", "2026-03-20T15:20:00Z"),
            _inc(4, None, "2026-03-20T13:00:00Z")]  # between them: neither's
    (tmp_path / "labels.jsonl").write_bytes(b"\n".join(orjson.dumps(x) for x in labels))
    (tmp_path / "incidents.jsonl").write_bytes(b"\n".join(orjson.dumps(x) for x in incs))
    assert _script().per_campaign(tmp_path) == [("lbl-1", "slow_stuffing", 1),
                                                ("lbl-2", "slow_stuffing", 2)]
