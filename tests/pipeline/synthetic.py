"""A tiny deterministic traffic generator for pipeline tests (the simulator is tested apart)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from detector.events import AccessEvent

T0 = 1_773_740_000.0  # 2026-03-17T09:33:20Z


def traffic(
    minutes: int,
    *,
    rate: float = 5.0,
    seed: int = 0,
    service: str = "pay",
    version: Callable[[float], str | None] = lambda t: None,
    status: Callable[[float, np.random.Generator], int] = lambda t, r: 200,
    latency: Callable[[float, np.random.Generator], float] = lambda t, r: 0.05,
    rate_at: Callable[[float], float] | None = None,
) -> list[AccessEvent]:
    rng = np.random.default_rng(seed)
    out: list[AccessEvent] = []
    t = T0
    end = T0 + minutes * 60
    i = 0
    while t < end:
        r = rate_at(t - T0) if rate_at else rate
        t += rng.exponential(1.0 / max(r, 1e-3))
        if t >= end:
            break
        i += 1
        rel = t - T0
        out.append(
            AccessEvent(
                t,
                service,
                version(rel),
                "POST",
                f"/v2/payments/{rng.integers(1, 10**6)}/refunds",
                "",
                status(rel, rng),
                latency(rel, rng) * float(rng.lognormal(0, 0.2)),
                100,
                f"10.0.{rng.integers(0, 50)}.{rng.integers(1, 255)}",
                "app/1.0",
                None,
                None,
                "test.log",
                i,
            )
        )
    return out


# A deploy at 90 min whose new version answers 503 to 20 % of requests for 20 min
# (shared by the pipeline and snapshot tests).
DEPLOY_AT = 90 * 60.0


def _bad_deploy_status(t: float, rng: np.random.Generator) -> int:
    if DEPLOY_AT + 30 <= t < DEPLOY_AT + 20 * 60:
        return 503 if rng.random() < 0.2 else 200
    return 500 if rng.random() < 0.002 else 200
