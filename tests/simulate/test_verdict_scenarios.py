"""Release-verdict scenarios: the list, its splits, determinism (effects: test_verdict_effects)."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from detector.simulate.verdict_scenarios import (
    EFFECTS,
    NAMES,
    REAL,
    SYNTHETIC,
    generate_one,
    seed_of,
)

REGRESSIONS = ("error_surge", "latency_shift", "old_clients_broken", "debug_endpoint",
               "injection", "permissions_loosened", "size_tripled", "canary_errors",
               "canary_latency")


def test_the_list_has_thirty_deploys_each_regression_twice_on_different_services() -> None:
    assert len(NAMES) >= 30 and len(set(NAMES)) == len(NAMES)
    services: dict[str, set[str]] = defaultdict(set)
    for case in SYNTHETIC:
        services[case.effect].add(case.service.name)
    for effect in REGRESSIONS:
        assert len(services[effect]) >= 2, effect
    assert len(services["daily_growth"]) >= 2 and len(REAL) >= 4
    verdicts = Counter(EFFECTS[c.effect].verdict for c in SYNTHETIC)
    verdicts.update(c.verdict for c in REAL)
    assert verdicts["pass"] >= 7 and verdicts["inconclusive"] >= 3


def test_the_splits_share_names_never_seeds() -> None:
    tune = {seed_of("tune", n) for n in NAMES}
    heldout = {seed_of("heldout", n) for n in NAMES}
    assert len(tune) == len(NAMES) and not tune & heldout
    with pytest.raises(ValueError, match="unknown split"):
        seed_of("train", NAMES[0])


def test_a_scenario_is_the_same_bytes_twice_and_another_split_differs(tmp_path: Path) -> None:
    for d, split_name in (("a", "tune"), ("b", "tune"), ("c", "heldout")):
        generate_one("errors-payments", split_name, tmp_path / d, scale=0.02)
    for f in ("access.log", "deployments.jsonl", "expected.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "access.log").read_bytes() != (
        tmp_path / "c" / "access.log").read_bytes()
