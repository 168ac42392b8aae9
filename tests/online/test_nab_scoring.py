"""NAB scorer: NAB's own threshold search, the per-category split, and the published random
detector's scores reproduced from NAB's stored thresholds (when the data is present)."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import numpy as np
import pytest

from detector.online.nab_scoring import (
    PROFILES,
    ScoredFile,
    by_category,
    corpus_score,
    evaluate,
    optimize_threshold,
    twiddle_threshold,
)

STANDARD = PROFILES["standard"]
REPO = Path(__file__).resolve().parents[2]


def _nab_root() -> Path:
    """Where ``scripts/nab.py`` looks for the data (also from a git worktree)."""
    spec = importlib.util.spec_from_file_location("nab_script", REPO / "scripts" / "nab.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root: Path = module.DEFAULT_DATA
    return root


NAB = _nab_root()


def _file(name: str, hits: dict[int, float], windows: list[tuple[int, int]]) -> ScoredFile:
    scores = np.zeros(200)
    for i, s in hits.items():
        scores[i] = s
    return ScoredFile(name, scores, windows)


def test_corpus_score_counts_first_detection_and_false_positives() -> None:
    f = _file("a/x.csv", {50: 0.9, 55: 0.95, 150: 0.8}, [(50, 69)])
    # 0.9 and 0.95 detect the window at its first row; 0.8 adds a false positive after it
    at_85 = corpus_score([f], STANDARD, 0.85)
    at_75 = corpus_score([f], STANDARD, 0.75)
    assert at_85 == pytest.approx(1.0)
    assert at_75 < at_85
    assert corpus_score([f], STANDARD, 1.5) == float("-inf")


def test_twiddle_finds_a_local_optimum_the_exhaustive_search_beats() -> None:
    # the best threshold (0.05: both windows) lies far below 0.5, behind a worse plateau
    f = _file("a/x.csv", {40: 0.05, 120: 0.6, 180: 0.3, 185: 0.3}, [(35, 49), (115, 129)])
    t_hill, s_hill = twiddle_threshold([f], STANDARD)
    t_all, s_all = optimize_threshold([f], STANDARD)
    assert s_all > s_hill and t_hill >= 0.3
    assert t_all == pytest.approx(0.05)
    assert evaluate([f], optimizer="twiddle")["standard"].normalized < (
        evaluate([f])["standard"].normalized
    )
    with pytest.raises(ValueError):
        evaluate([f], optimizer="grid")


def test_by_category_normalises_each_category_on_its_own() -> None:
    good = _file("good/a.csv", {50: 1.0}, [(50, 69)])
    bad = _file("bad/b.csv", {}, [(50, 69)])
    quiet = _file("quiet/c.csv", {100: 1.0}, [])
    result = evaluate([good, bad, quiet])["standard"]
    cats = {c.category: c for c in by_category([good, bad, quiet], result, STANDARD)}
    assert cats["good"].normalized == pytest.approx(100.0)
    assert cats["bad"].normalized == pytest.approx(0.0)
    assert cats["quiet"].normalized is None
    assert cats["quiet"].raw == pytest.approx(-STANDARD.fp)


@pytest.mark.skipif(not NAB.exists(), reason="NAB data absent (../shared/data/nab)")
def test_random_detector_reproduces_the_published_board() -> None:
    # NAB's random detector: random.seed(42) per file, one random() per row, scored at the
    # thresholds NAB v1.1 stored for it (config/thresholds.json) -> 16.83 / 5.76 / 25.88
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    stored = {"standard": 0.9984497070312507, "reward_low_FP_rate": 0.9995117187500009}
    published = {"standard": 16.83, "reward_low_FP_rate": 5.76}
    files = []
    for rel in sorted(labels):
        lines = (NAB / "data" / rel).read_text().splitlines()[1:]
        stamps = [line.split(",", 1)[0] for line in lines]
        index = {s: i for i, s in enumerate(stamps)}
        windows = [(index[a.split(".")[0]], index[b.split(".")[0]]) for a, b in labels[rel]]
        rng = random.Random(42)
        files.append(ScoredFile(rel, np.array([rng.random() for _ in stamps]), windows))
    n_windows = sum(len(f.windows) for f in files)
    for name, threshold in stored.items():
        profile = PROFILES[name]
        raw = corpus_score(files, profile, threshold)
        null = -profile.fn * n_windows
        score = 100.0 * (raw - null) / (n_windows * profile.tp - null)
        assert round(score, 2) == published[name]
