"""Run an online detector (default: contextual = ContextualDetector) over the NAB v1.1
corpus and score it NAB's way.

    .venv/bin/python scripts/nab.py [--data ../shared/data/nab] [--json out.json]
                                    [--detector contextual|level_spike_range|
                                    level_spike_likelihood|level_spike|random|null|oracle]
                                    [--online-range] [--seeds N]
                                    [--optimizer exhaustive|twiddle] [--per-file]

Every file is streamed point by point (score_one, then learn_one) with one global parameter
set. A detector that takes ``input_min`` / ``input_max`` gets the file's minimum and maximum,
as NAB's own runner hands every detector (HTM and CAD OSE quantise with them);
``--online-range`` withholds them, so the detector learns the range as it goes (strictly
online). The threshold is then optimised over the whole corpus per profile (every distinct score,
or NAB v1.1's own hill climb; both are printed, see detector/online/nab_scoring.py), and the
0-100 scores are printed next to the published scoreboard rows (nab_scoreboard_v1.1.csv),
followed by each category's score at the corpus-wide threshold.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detector.online import DETECTORS  # noqa: E402
from detector.online.nab_scoring import (  # noqa: E402
    PROFILES,
    CostProfile,
    ProfileResult,
    ScoredFile,
    by_category,
    evaluate,
)


def _default_data() -> Path:
    """``../shared/data/nab`` next to the repo, or next to the main checkout of a git worktree
    (``.git`` is then a file naming the main repository's git directory)."""
    here = REPO.parent / "shared" / "data" / "nab"
    git = REPO / ".git"
    if not here.exists() and git.is_file():
        text = git.read_text().strip()
        if text.startswith("gitdir:"):
            main = Path(text.split(":", 1)[1].strip()).resolve().parents[2]
            return main.parent / "shared" / "data" / "nab"
    return here


DEFAULT_DATA = _default_data()
SHOWN = (
    "numenta",
    "earthgeckoSkyline",
    "knncad",
    "randomCutForest",
    "windowedGaussian",
    "random",
    "null",
)


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s.strip())


def load_corpus(root: Path) -> list[tuple[str, list[datetime], np.ndarray, list[tuple[int, int]]]]:
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    corpus = []
    for rel in sorted(labels):
        with (root / "data" / rel).open() as fh:
            rows = list(csv.DictReader(fh))
        ts = [_ts(r["timestamp"]) for r in rows]
        values = np.array([float(r["value"]) for r in rows])
        index = {t: i for i, t in enumerate(ts)}
        windows = [(index[_ts(a)], index[_ts(b)]) for a, b in labels[rel]]
        corpus.append((rel, ts, values, windows))
    return corpus


def takes_range(name: str) -> bool:
    """Whether the detector accepts NAB's ``input_min`` / ``input_max``."""
    factory = DETECTORS[name]
    return "input_min" in inspect.signature(factory).parameters


def run_detector(
    args: tuple[str, str, list[datetime], np.ndarray, dict[str, float], bool],
) -> np.ndarray:
    name, rel, ts, values, params, nab_range = args
    if nab_range and len(values) and takes_range(name):
        params = {"input_min": float(values.min()), "input_max": float(values.max()), **params}
    det = DETECTORS[name](**params)
    out = np.empty(len(values))
    for i, (t, x) in enumerate(zip(ts, values.tolist(), strict=True)):
        sec = t.timestamp()
        out[i] = det.score_one(x, sec)
        det.learn_one(x, sec)
    return out


def baseline_scores(
    kind: str, rel: str, n: int, windows: list[tuple[int, int]], seed: int
) -> np.ndarray:
    if kind == "null":
        return np.zeros(n)
    if kind == "oracle":
        s = np.zeros(n)
        for a, _ in windows:
            s[a] = 1.0
        return s
    rng = random.Random(f"{seed}:{rel}")  # seeded per file, like NAB's random detector
    return np.array([rng.random() for _ in range(n)])


def published(root: Path) -> dict[str, dict[str, float]]:
    path = root / "nab_scoreboard_v1.1.csv"
    if not path.exists():
        return {}
    with path.open() as fh:
        return {r["detector"]: {p: float(r[p]) for p in PROFILES} for r in csv.DictReader(fh)}


def _print_categories(
    files: list[ScoredFile], result: dict[str, ProfileResult], profiles: dict[str, CostProfile]
) -> dict[str, dict[str, float | None]]:
    """Per-category scores at each profile's corpus-wide threshold; a category without windows
    (artificialNoAnomaly) shows its raw score, the false positives' cost, in brackets."""
    table: dict[str, dict[str, float | None]] = {}
    for p, profile in profiles.items():
        for c in by_category(files, result[p], profile):
            table.setdefault(c.category, {})[p] = c.normalized
            if c.normalized is None:
                table[c.category][p + "_raw"] = c.raw
    print("per category (corpus-wide threshold):")
    for cat, row in table.items():
        cells = []
        for p in profiles:
            v = row[p]
            cells.append(
                f"{'(' + format(row[p + '_raw'] or 0.0, '.2f') + ')':>20}"
                if v is None
                else f"{v:>20.2f}"
            )
        print(f"  {cat:<28}" + "".join(cells))
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="NAB root (default %(default)s)"
    )
    ap.add_argument(
        "--detector",
        default="contextual",
        help=f"one of {sorted(DETECTORS)} or random / null / oracle",
    )
    ap.add_argument("--params", default="{}", help="JSON dict of detector parameters")
    ap.add_argument(
        "--online-range",
        action="store_true",
        help="do not hand the detector the file's min/max (NAB's inputMin/inputMax)",
    )
    ap.add_argument("--seeds", type=int, default=1, help="seeds to average (random detector)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--optimizer",
        choices=("exhaustive", "twiddle"),
        default="exhaustive",
        help="threshold search of the headline row: every distinct score, or NAB v1.1's own "
        "hill climb from 0.5 (a local optimum, what the published board used); the other "
        "one is printed below it",
    )
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--per-file", action="store_true", help="print per-file standard scores")
    a = ap.parse_args(argv)

    root: Path = a.data
    if not (root / "labels" / "combined_windows.json").exists():
        print(
            f"NAB data not found under {root} (expected labels/combined_windows.json and "
            "data/<category>/*.csv; pass --data, see ../shared/data/README.md)",
            file=sys.stderr,
        )
        return 2
    profiles: dict[str, CostProfile] = dict(PROFILES)
    pf = root / "config" / "profiles.json"
    if pf.exists():
        raw = json.loads(pf.read_text())
        profiles = {
            k: CostProfile(
                tp=v["CostMatrix"]["tpWeight"],
                fp=v["CostMatrix"]["fpWeight"],
                fn=v["CostMatrix"]["fnWeight"],
            )
            for k, v in raw.items()
        }

    t_start = time.perf_counter()
    corpus = load_corpus(root)
    t_load = time.perf_counter()
    params = json.loads(a.params)
    runs: list[list[ScoredFile]] = []
    if a.detector in DETECTORS:
        nab_range = not a.online_range
        jobs = [(a.detector, rel, ts, v, params, nab_range) for rel, ts, v, _ in corpus]
        with ProcessPoolExecutor(max_workers=a.jobs) as pool:
            scores = list(pool.map(run_detector, jobs))
        runs.append(
            [ScoredFile(rel, s, w) for (rel, _, _, w), s in zip(corpus, scores, strict=True)]
        )
    else:
        score_of: Callable[[int], list[ScoredFile]] = lambda seed: [  # noqa: E731
            ScoredFile(rel, baseline_scores(a.detector, rel, len(v), w, seed), w)
            for rel, _, v, w in corpus
        ]
        runs = [score_of(seed) for seed in range(a.seeds)]
    t_detect = time.perf_counter()
    other = "twiddle" if a.optimizer == "exhaustive" else "exhaustive"
    results = [evaluate(files, profiles, optimizer=a.optimizer) for files in runs]
    alt = evaluate(runs[0], profiles, optimizer=other)
    t_score = time.perf_counter()

    names = list(profiles)
    mean = {p: float(np.mean([r[p].normalized for r in results])) for p in names}
    board = published(root)
    print(f"{'detector':<30}" + "".join(f"{p:>20}" for p in names))
    label = a.detector if len(results) == 1 else f"{a.detector} (mean of {len(results)})"
    if a.detector in DETECTORS and takes_range(a.detector):
        label += " (online range)" if a.online_range else " (NAB range)"
    print(f"{label:<30}" + "".join(f"{mean[p]:>20.2f}" for p in names))
    if len(results) > 1:
        lo = {p: min(r[p].normalized for r in results) for p in names}
        hi = {p: max(r[p].normalized for r in results) for p in names}
        print(f"{'  range':<30}" + "".join(f"{lo[p]:>9.2f} ..{hi[p]:>7.2f}" for p in names))
    thresholds = {p: results[0][p].threshold for p in names}
    print(f"{'  threshold':<30}" + "".join(f"{thresholds[p]:>20.6f}" for p in names))
    print(
        f"{'  ' + other + ' optimizer':<30}" + "".join(f"{alt[p].normalized:>20.2f}" for p in names)
    )
    for d in SHOWN:
        if d in board:
            print(f"{'  published ' + d:<30}" + "".join(f"{board[d][p]:>20.2f}" for p in names))
    categories = _print_categories(runs[0], results[0], profiles)
    if a.per_file:
        for fr in results[0]["standard"].files:
            print(f"  {fr.name:<60} {fr.raw:>8.3f}  {dict(fr.counts)}")
    print(
        f"runtime: load {t_load - t_start:.1f}s, detect {t_detect - t_load:.1f}s, "
        f"score {t_score - t_detect:.1f}s, total {t_score - t_start:.1f}s"
    )

    if a.json:
        out = {
            "detector": a.detector,
            "nab_input_range": a.detector in DETECTORS
            and takes_range(a.detector)
            and not a.online_range,
            "params": params,
            "scores": mean,
            "runs": [{p: r[p].normalized for p in names} for r in results],
            "thresholds": thresholds,
            "optimizer": a.optimizer,
            other: {p: alt[p].normalized for p in names},
            "categories": categories,
            "raw": {p: results[0][p].raw for p in names},
            "null": {p: results[0][p].null for p in names},
            "perfect": {p: results[0][p].perfect for p in names},
            "per_file_standard": {fr.name: fr.raw for fr in results[0]["standard"].files},
            "published": board,
            "runtime_s": round(t_score - t_start, 2),
        }
        a.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
