"""Deployments: who ships what when, version strings, rolling rollouts.

Versions are assigned once every deploy of a service is known, in time
order: a feature or bad deploy bumps the minor, a hotfix the patch, a
rollback returns to the version before the bad one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROLLOUT_S = 90.0  # rolling update: old and new pods serve side by side this long


@dataclass
class Deploy:
    """One deployment event of a service.

    >>> d = Deploy("payments", 100.0, "harmless")
    >>> assign_versions("2.31.0", [d]); d.version, d.previous
    ('2.32.0', '2.31.0')
    """

    service: str
    ts: float
    role: str  # harmless | bad | rollback | hotfix
    publish: bool = True  # written to deployments.jsonl
    version: str = ""
    previous: str = ""


def _bump(version: str, minor: bool) -> str:
    major, mi, patch = (int(x) for x in version.split("."))
    return f"{major}.{mi + 1}.0" if minor else f"{major}.{mi}.{patch + 1}"


def assign_versions(first: str, deploys: list[Deploy]) -> None:
    """Fill ``version``/``previous`` of one service's deploys, in time order."""
    current = first
    before_bad = first
    seen = {first}
    for d in sorted(deploys, key=lambda d: d.ts):
        if d.role == "rollback":
            new = before_bad
        elif d.role == "hotfix":
            new = _bump(current, minor=False)
        else:
            before_bad = current
            new = _bump(current, minor=True)
            # a minor already used (after a rollback) is skipped, never reused
            while new in seen:
                new = _bump(new, minor=True)
        seen.add(new)
        d.previous, d.version = current, new
        current = new


def version_index(ts: np.ndarray, deploys: list[Deploy], rng: np.random.Generator) -> np.ndarray:
    """Index into ``[first] + [d.version ...]`` of the version serving each request.

    During a rollout a request lands on the new version with probability
    growing linearly from 0 to 1 over ``ROLLOUT_S``: shifting each request's
    time back by a uniform share of the rollout does exactly that.
    """
    times = np.asarray(sorted(d.ts for d in deploys), dtype=np.float64)
    eff = ts - rng.random(len(ts)) * ROLLOUT_S
    return np.asarray(np.searchsorted(times, eff, side="right"), dtype=np.int16)
