"""NAB v1.1 scoring, re-implemented from numenta/NAB (``nab/sweeper.py``, ``nab/optimizer.py``,
``nab/runner.py`` normalisation) so that our figures sit next to the published scoreboard.

What NAB does, and what this module reproduces row for row:

* Rows of the first ``min(floor(0.15 * n), 0.15 * 5000)`` of each file are probationary and
  ignored (neither FP nor TP, and a window only counts if it has a non-probationary row).
* A detection is a row whose anomaly score is ``>= threshold``.
* Inside a window ``[s, e]`` (width ``w = e - s + 1``) a row ``i`` is worth
  ``scaled_sigmoid(-(e - i + 1) / w) * tpWeight / scaled_sigmoid(-1)``; a window is worth the
  best (= earliest) of its detected rows, or ``-fnWeight`` when none is detected.
* Outside windows a detection costs ``fpWeight`` times ``scaled_sigmoid(|e_prev - i| / (w_prev -
  1))`` after a window (mild just after it), or ``-fpWeight`` before any window.
* The threshold is optimised once per profile over the whole corpus. NAB v1.1 does it with a
  hill climb (``twiddle`` from 0.5, ``nab/optimizer.py``), a local search; ``optimizer=
  "exhaustive"`` (the default here) tries every distinct score instead (ties go to the highest
  threshold) and so scores at least as high. ``optimizer="twiddle"`` reproduces NAB's.
* Check against the published board: NAB's random detector (``random.seed(42)`` per file, one
  ``random.random()`` per row) scored at the thresholds NAB v1.1 stored for it
  (``config/thresholds.json``) gives 16.83 / 5.76 / 25.88 here, as published.
* ``normalised = 100 * (S - S_null) / (S_perfect - S_null)`` with ``S_perfect = n_windows *
  tpWeight`` over all labelled windows and ``S_null`` the same pipeline run on all-zero scores.

Scores use row indices, not elapsed time, exactly as NAB does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PROFILES",
    "corpus_score",
    "CostProfile",
    "FileResult",
    "ProfileResult",
    "ScoredFile",
    "CategoryResult",
    "by_category",
    "evaluate",
    "optimize_threshold",
    "probation_length",
    "scaled_sigmoid",
    "score_file",
    "scores_by_threshold",
    "twiddle_threshold",
]

PROBATION_FRACTION = 0.15
_OUTSIDE = -1  # a scorable row outside every window
_PROBATION = -2  # a probationary row, never scored


@dataclass(frozen=True)
class CostProfile:
    """Weights of one NAB application profile (``config/profiles.json``)."""

    tp: float
    fp: float
    fn: float


PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostProfile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostProfile(tp=1.0, fp=0.11, fn=2.0),
}


@dataclass(frozen=True)
class ScoredFile:
    """One data file: the detector's anomaly scores and its label windows as inclusive row
    index pairs ``(start, end)``, sorted and disjoint."""

    name: str
    scores: NDArray[np.float64]
    windows: Sequence[tuple[int, int]]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def scaled_sigmoid(relative_position: float) -> float:
    """NAB's ``scaledSigmoid``: ~0.987 at the left edge of a window (-1), 0 at its right edge,
    negative after it, -1 beyond 3 window widths.

    >>> round(scaled_sigmoid(-1.0), 5), scaled_sigmoid(0.0), scaled_sigmoid(3.5)
    (0.98661, 0.0, -1.0)
    """
    if relative_position > 3.0:
        return -1.0
    return 2.0 * _sigmoid(-5.0 * relative_position) - 1.0


def probation_length(n_rows: int, fraction: float = PROBATION_FRACTION) -> float:
    """NAB's ``_getProbationaryLength``: rows with index below this are probationary."""
    return min(math.floor(fraction * n_rows), fraction * 5000)


def _scaled_sigmoid_array(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out = 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 3.0))) - 1.0
    return np.where(x > 3.0, -1.0, out)


def _row_weights(
    n_rows: int, windows: Sequence[tuple[int, int]], profile: CostProfile, fraction: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per-row NAB sweep score (value if detected) and window id (or _OUTSIDE / _PROBATION)."""
    max_tp = scaled_sigmoid(-1.0)
    idx = np.arange(n_rows, dtype=np.float64)
    sweep = np.full(n_rows, -profile.fp, dtype=np.float64)
    wid = np.full(n_rows, _OUTSIDE, dtype=np.int64)
    for k, (start, end) in enumerate(windows):
        width = float(end - start + 1)
        inside = slice(start, end + 1)
        sweep[inside] = (
            _scaled_sigmoid_array(-(end - idx[inside] + 1) / width) * profile.tp / max_tp
        )
        wid[inside] = k
        nxt = windows[k + 1][0] if k + 1 < len(windows) else n_rows
        after = slice(end + 1, nxt)
        # NAB divides by (width - 1): a one-row window followed by rows is undefined there too.
        denom = float(width - 1) if width > 1 else float("nan")
        sweep[after] = _scaled_sigmoid_array(np.abs(end - idx[after]) / denom) * profile.fp
    wid[: int(math.ceil(probation_length(n_rows, fraction)))] = _PROBATION
    return sweep, wid


@dataclass
class _Corpus:
    scores: NDArray[np.float64]
    sweep: NDArray[np.float64]
    window: NDArray[np.int64]  # global window id, _OUTSIDE, never _PROBATION (filtered)
    n_windows: int  # windows with at least one scorable row
    file_of_window: list[int] = field(default_factory=list)


def _build(files: Sequence[ScoredFile], profile: CostProfile, fraction: float) -> _Corpus:
    scores, sweeps, wins = [], [], []
    offset = 0
    for f in files:
        sweep, wid = _row_weights(len(f.scores), f.windows, profile, fraction)
        keep = wid != _PROBATION
        wid = np.where(wid >= 0, wid + offset, wid)
        scores.append(np.asarray(f.scores, dtype=np.float64)[keep])
        sweeps.append(sweep[keep])
        wins.append(wid[keep])
        offset += len(f.windows)
    window = np.concatenate(wins) if wins else np.empty(0, dtype=np.int64)
    return _Corpus(
        scores=np.concatenate(scores) if scores else np.empty(0),
        sweep=np.concatenate(sweeps) if sweeps else np.empty(0),
        window=window,
        n_windows=len(np.unique(window[window >= 0])),
    )


def scores_by_threshold(
    files: Sequence[ScoredFile], profile: CostProfile, fraction: float = PROBATION_FRACTION
) -> list[tuple[float, float]]:
    """NAB's ``calcScoreByThreshold`` over a corpus: ``(threshold, raw score)`` pairs in
    decreasing threshold order, starting at 1.1 (nothing detected)."""
    c = _build(files, profile, fraction)
    order = np.argsort(-c.scores, kind="stable")
    s_sorted = c.scores[order].tolist()
    sweep_sorted = c.sweep[order].tolist()
    win_sorted = c.window[order].tolist()
    best: dict[int, float] = {}
    fp_total = 0.0
    win_total = -profile.fn * c.n_windows
    out: list[tuple[float, float]] = []
    cur = 1.1
    for score, sweep, w in zip(s_sorted, sweep_sorted, win_sorted, strict=True):
        if score != cur:
            out.append((cur, fp_total + win_total))
            cur = score
        if w < 0:
            fp_total += sweep
        else:
            old = best.get(w, -profile.fn)
            if sweep > old:
                best[w] = sweep
                win_total += sweep - old
    out.append((cur, fp_total + win_total))
    return out


def optimize_threshold(
    files: Sequence[ScoredFile], profile: CostProfile, fraction: float = PROBATION_FRACTION
) -> tuple[float, float]:
    """Best ``(threshold, corpus raw score)``; ties go to the highest threshold like NAB."""
    rows = scores_by_threshold(files, profile, fraction)
    best = max(range(len(rows)), key=lambda i: (rows[i][1], -i))
    return rows[best]


def _score_at(c: _Corpus, profile: CostProfile, threshold: float) -> float:
    det = c.scores >= threshold
    total = float(c.sweep[det & (c.window < 0)].sum()) - profile.fn * c.n_windows
    hit = det & (c.window >= 0)
    if hit.any():
        best = np.full(int(c.window.max()) + 1, -np.inf)
        np.maximum.at(best, c.window[hit], c.sweep[hit])
        found = best[np.isfinite(best)]
        total += float((found + profile.fn).sum())
    return total


def corpus_score(
    files: Sequence[ScoredFile],
    profile: CostProfile,
    threshold: float,
    fraction: float = PROBATION_FRACTION,
) -> float:
    """Raw corpus score at one threshold (NAB's ``objectiveFunction``; -inf outside [0, 1])."""
    if not 0.0 <= threshold <= 1.0:
        return float("-inf")
    return _score_at(_build(files, profile, fraction), profile, threshold)


def twiddle_threshold(
    files: Sequence[ScoredFile],
    profile: CostProfile,
    fraction: float = PROBATION_FRACTION,
    tolerance: float = 1e-7,
) -> tuple[float, float]:
    """NAB v1.1's optimiser: a hill climb on the threshold from 0.5 with step 0.1, doubling the
    step after a gain and halving it after two failed probes, until it is below ``tolerance``.
    Returns the best ``(threshold, raw score)`` it visited: a local optimum.

    >>> f = ScoredFile("a.csv", np.r_[np.zeros(20), 0.55, np.zeros(79)], [(20, 29)])
    >>> twiddle_threshold([f], PROFILES["standard"])[1] > 0
    True
    """
    seen: dict[float, float] = {}
    corpus = _build(files, profile, fraction)

    def score(th: float) -> float:
        if th not in seen:
            seen[th] = _score_at(corpus, profile, th) if 0.0 <= th <= 1.0 else float("-inf")
        return seen[th]

    x, delta = 0.5, 0.1
    best = score(x)
    while delta > tolerance:
        x += delta
        if score(x) > best:
            best, delta = score(x), delta * 2.0
            continue
        x -= 2.0 * delta
        if score(x) > best:
            best, delta = score(x), delta * 2.0
        else:
            x += delta
            delta *= 0.5
    th = max(seen, key=lambda k: seen[k])
    return th, seen[th]


def score_file(
    f: ScoredFile, profile: CostProfile, threshold: float, fraction: float = PROBATION_FRACTION
) -> tuple[float, dict[str, int]]:
    """Raw NAB score of one file at a threshold, with row counts (tp, fp, fn, tn)."""
    sweep, wid = _row_weights(len(f.scores), f.windows, profile, fraction)
    det = np.asarray(f.scores, dtype=np.float64) >= threshold
    scorable = wid != _PROBATION
    outside = wid == _OUTSIDE
    total = float(sweep[det & outside].sum())
    for k in np.unique(wid[wid >= 0]).tolist():
        hits = np.flatnonzero(det & (wid == k))
        total += float(sweep[hits[0]]) if hits.size else -profile.fn
    inside = scorable & ~outside
    counts = {
        "tp": int((det & inside).sum()),
        "fp": int((det & outside).sum()),
        "fn": int((~det & inside).sum()),
        "tn": int((~det & outside).sum()),
    }
    return total, counts


@dataclass(frozen=True)
class FileResult:
    name: str
    raw: float
    counts: Mapping[str, int]


@dataclass(frozen=True)
class ProfileResult:
    """Outcome for one profile: chosen threshold, raw, null and perfect totals, 0-100 score."""

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    normalized: float
    files: tuple[FileResult, ...]


def _raw_total(
    files: Sequence[ScoredFile], profile: CostProfile, fraction: float, optimizer: str
) -> tuple[float, float, list[FileResult]]:
    if optimizer == "twiddle":
        threshold, _ = twiddle_threshold(files, profile, fraction)
    elif optimizer == "exhaustive":
        threshold, _ = optimize_threshold(files, profile, fraction)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r} (exhaustive or twiddle)")
    per_file = []
    for f in files:
        raw, counts = score_file(f, profile, threshold, fraction)
        per_file.append(FileResult(f.name, raw, counts))
    return threshold, sum(r.raw for r in per_file), per_file


def evaluate(
    files: Sequence[ScoredFile],
    profiles: Mapping[str, CostProfile] = PROFILES,
    fraction: float = PROBATION_FRACTION,
    optimizer: str = "exhaustive",
) -> dict[str, ProfileResult]:
    """Optimise, score and normalise like NAB's ``optimize``/``score``/``normalize`` steps
    (``optimizer``: ``"exhaustive"`` or NAB's own ``"twiddle"``).

    >>> f = ScoredFile("a.csv", np.r_[np.zeros(20), 1.0, np.zeros(79)], [(20, 29)])
    >>> round(evaluate([f])["standard"].normalized, 6)
    100.0
    """
    null_files = [ScoredFile(f.name, np.zeros(len(f.scores)), f.windows) for f in files]
    n_windows = sum(len(f.windows) for f in files)
    out = {}
    for name, profile in profiles.items():
        threshold, raw, per_file = _raw_total(files, profile, fraction, optimizer)
        _, null, _ = _raw_total(null_files, profile, fraction, "exhaustive")
        perfect = n_windows * profile.tp
        out[name] = ProfileResult(
            profile=name,
            threshold=threshold,
            raw=raw,
            null=null,
            perfect=perfect,
            normalized=100.0 * (raw - null) / (perfect - null),
            files=tuple(per_file),
        )
    return out


@dataclass(frozen=True)
class CategoryResult:
    """One category's share of a profile result, at the corpus-wide threshold: raw, null and
    perfect totals of its files; ``normalized`` is None when it has no windows (then only the
    false positives' cost, ``raw``, says anything)."""

    category: str
    files: int
    windows: int
    raw: float
    null: float
    perfect: float
    normalized: float | None


def by_category(
    files: Sequence[ScoredFile],
    result: ProfileResult,
    profile: CostProfile,
    fraction: float = PROBATION_FRACTION,
) -> list[CategoryResult]:
    """Split a profile result by category (the folder of each file's name), each normalised on
    its own null and perfect totals; the threshold stays the corpus-wide one.

    >>> f = ScoredFile("cat/a.csv", np.r_[np.zeros(20), 1.0, np.zeros(79)], [(20, 29)])
    >>> r = evaluate([f])["standard"]
    >>> [(c.category, c.normalized) for c in by_category([f], r, PROFILES["standard"])]
    [('cat', 100.0)]
    """
    raw_of = {fr.name: fr.raw for fr in result.files}
    groups: dict[str, list[ScoredFile]] = {}
    for f in files:
        groups.setdefault(f.name.split("/", 1)[0] if "/" in f.name else "", []).append(f)
    out = []
    for cat in sorted(groups):
        members = groups[cat]
        raw = sum(raw_of[f.name] for f in members)
        null = sum(
            score_file(
                ScoredFile(f.name, np.zeros(len(f.scores)), f.windows), profile, 1.1, fraction
            )[0]
            for f in members
        )
        windows = sum(len(f.windows) for f in members)
        perfect = windows * profile.tp
        norm = 100.0 * (raw - null) / (perfect - null) if perfect > null else None
        out.append(CategoryResult(cat, len(members), windows, raw, null, perfect, norm))
    return out
