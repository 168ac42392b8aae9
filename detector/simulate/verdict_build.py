"""One simulated release scenario: history of the previous version, the deploy, its effect.

The traffic is the simulator's (``Traffic``: daily curve, Zipf routes and
clients, status, latency and size mixes, log formats); the release is one
deployment of version V, published in ``deployments.jsonl`` and carried as
``service.version`` by every request it serves. ``build`` writes
``access.log`` and ``deployments.jsonl`` into one folder and returns the
expected verdict.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from detector.simulate.catalog import ServiceSpec
from detector.simulate.clients import ClientPool
from detector.simulate.deploys import Deploy, assign_versions
from detector.simulate.fillers import Fillers
from detector.simulate.rates import expected_rates
from detector.simulate.traffic import Traffic
from detector.simulate.verdict_effects import NEW, Release, ReleaseEffect
from detector.simulate.writers import FORMATTERS, rows, write_lines

FIRST_DAY = datetime(2026, 3, 17, tzinfo=UTC)  # a Tuesday: scenarios fall on Tue-Thu
HISTORY_MIN = (120, 180)  # minutes of the previous version before the deploy
AFTER_MIN = (45, 60)  # minutes after it
POOL_USERS = 20_000


@dataclass(frozen=True)
class Case:
    """One scenario of the list: which service, in which format, at what rate, which effect.

    >>> from detector.simulate.catalog import PAYMENTS
    >>> Case("errors-payments", "error_surge", PAYMENTS, "otel", 8.0).start_hours
    (8.0, 14.0)
    """

    name: str
    effect: str  # a key of verdict_scenarios.EFFECTS
    service: ServiceSpec
    fmt: str  # otel | otel_nested | nginx_json | envoy
    rate: float  # daily-mean req/s (the curve puts the afternoon about 1.5x higher)
    start_hours: tuple[float, float] = (8.0, 14.0)  # UTC hour of the first request
    history: tuple[int, int] = HISTORY_MIN  # minutes before the deploy (range)
    after: tuple[int, int] = AFTER_MIN  # minutes after it (range)


def iso(ts: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of epoch seconds (floored)."""
    return datetime.fromtimestamp(math.floor(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per component of one scenario."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def build(case: Case, effect: ReleaseEffect, seed: int, out: Path,
          scale: float = 1.0) -> dict[str, object]:
    """Write the scenario into ``out``; returns what its expected.json says.

    ``scale`` multiplies the request rate (tests use small ones).
    """
    draw = stream(seed, "timeline")
    svc = effect.extend(replace(case.service, rate=case.rate * scale, format=case.fmt))
    day = FIRST_DAY + timedelta(days=int(draw.integers(0, 3)))
    t0 = float(math.floor(day.timestamp() + float(draw.uniform(*case.start_hours)) * 3600.0))
    history = int(draw.integers(case.history[0], case.history[1] + 1))
    minutes = history + int(draw.integers(case.after[0], case.after[1] + 1))
    deploy = Deploy(svc.name, t0 + history * 60.0 + int(draw.integers(0, 60)),
                    "harmless" if effect.verdict == "pass" else "bad")
    assign_versions(svc.first_version, [deploy])
    rel = Release(svc, deploy, t0 + minutes * 60.0, stream(seed, "effect"))

    lam = expected_rates(svc, t0, minutes, 1.0, stream(seed, "rates"))
    effect.shape_rates(rel, lam, t0)
    effect.plan(rel, lam[history:].mean(axis=0))
    pool = ClientPool(stream(seed, "clients"), POOL_USERS)
    t = Traffic(svc, t0, lam, pool, stream(seed, "traffic"))
    t.baseline()
    effect.arrivals(rel, t)
    t.assign([deploy])
    if effect.canary_share:
        canary(t, deploy.ts, effect.canary_share)
    effect.effects(rel, t)

    out.mkdir(parents=True, exist_ok=True)
    fillers = Fillers(stream(seed, "fillers"), pool)
    versions = [deploy.previous, deploy.version]
    lines = write_lines(out / "access.log",
                        map(FORMATTERS[svc.format](svc, t), rows(t, fillers, versions)), False)
    write_deployment(out / "deployments.jsonl", svc.name, deploy)
    expected: dict[str, object] = {
        "scenario": case.name, "seed": seed, "kind": effect.name, "service": svc.name,
        "version": deploy.version, "previous_version": deploy.previous,
        "deployed_at": iso(deploy.ts), "verdict": effect.verdict,
        "route": rel.key if effect.verdict == "fail" else None,
        "checks": list(effect.checks) if effect.verdict == "fail" else [],
        "mode": effect.mode, "effect": effect.describe(rel),
        "format": "otel" if svc.format == "otel_nested" else svc.format,
        "requests": lines, "requests_per_minute": round(lines / minutes, 1),
        "released_share": round(float((t.version == NEW).sum()) / max(lines, 1), 3),
        "params": {**rel.params, **rel.words},
    }
    return expected


def canary(t: Traffic, since: float, share: float) -> None:
    """From ``since`` on, each request lands on the new version with probability ``share``."""
    after = t.ts >= since
    t.version[after] = np.where(t.rng.random(int(after.sum())) < share, NEW, NEW - 1)


def write_deployment(path: Path, service: str, deploy: Deploy) -> None:
    """The release's deployment event (CONTRACTS §2), one line."""
    rev = f"{zlib.crc32(f'{service}{deploy.version}{deploy.ts}'.encode()):08x}"[:7]
    path.write_bytes(orjson.dumps({
        "type": "deployment", "timestamp": iso(deploy.ts), "service.name": service,
        "service.version": deploy.version, "deployment.environment.name": "prod",
        "vcs.revision": rev}) + b"\n")
