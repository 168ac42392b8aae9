"""Release records for tests: the shape CONTRACTS §6 gives, with a failing and a marginal check."""

from __future__ import annotations

from typing import Any

KEY = b"test-record-key-0123456789abcdef"


def sample_record(service: str = "payments", version: str = "2.32.0",
                  **overrides: Any) -> dict[str, Any]:
    """An unsealed record; ``overrides`` replace top-level fields."""
    record: dict[str, Any] = {
        "schema": 1, "service": service, "version": version, "previous_version": "2.31.0",
        "deployed_at": "2026-03-17T09:06:00Z",
        "windows": {"baseline": ["2026-03-17T08:34:00Z", "2026-03-17T09:04:00Z"],
                    "candidate": ["2026-03-17T09:08:00Z", "2026-03-17T09:38:00Z"],
                    "mode": "previous"},
        "traffic": {"baseline_requests": 41230, "candidate_requests": 40112},
        "checks": [
            {"check": "error_share", "route": "POST /v2/payments/{id}/refunds",
             "baseline": 0.004, "candidate": 0.118, "interval": [0.09, 0.14], "mde": 0.01,
             "result": "fail", "critical": True, "incidents": ["inc-7f3a9c2e41d0"],
             "p_value": 1e-12},
            {"check": "latency_p95", "route": "*", "baseline": 0.21, "candidate": 0.24,
             "interval": [0.01, 0.05], "mde": 0.02, "result": "marginal", "critical": False,
             "incidents": [], "unit": "s"},
            {"check": "request_rate", "route": "*", "baseline": 22.9, "candidate": 22.3,
             "interval": [-1.1, 0.2], "mde": 1.5, "result": "pass", "critical": False,
             "incidents": []},
            {"check": "new_endpoints", "route": "GET /debug/vars", "baseline": None,
             "candidate": 14.0, "interval": None, "mde": None, "result": "inconclusive",
             "critical": False, "incidents": [], "needed_requests": 5000},
        ],
        "not_evaluated": ["attack_findings"],
        "score": 12, "verdict": "fail",
        "producer": {"detector": "0.1.0", "models": {"request": "20260317T080000Z-0a1b2c3d"}},
    }
    record.update(overrides)
    return record
