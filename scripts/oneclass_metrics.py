"""One-class metrics shared by the evaluation scripts (eval_oneclass.py, eval_tampering.py).

Scores are "higher = more anomalous". A threshold is always set on the normal
scores alone: :func:`detection_at` picks the most sensitive threshold whose
false-positive share on the normal requests is at most ``fpr``.

>>> import numpy as np
>>> n, a = np.array([0.0, 0.0, 0.1, 0.2]), np.array([0.2, 0.9])
>>> auroc(n, a)
0.9375
>>> detection_at(n, a, 0.25), detection_at(n, a, 0.0)
(1.0, 0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

__all__ = ["auroc", "detection_at"]

Scores = np.ndarray[Any, np.dtype[np.float64]]


def auroc(normal: Scores, anomalous: Scores) -> float:
    """Mann-Whitney AUROC with ties counted half (nan when either side is empty)."""
    n0, n1 = len(normal), len(anomalous)
    if n0 == 0 or n1 == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([normal, anomalous]), method="average")
    r = ranks[n0:].sum()
    return float((r - n1 * (n1 + 1) / 2) / (n1 * n0))


def detection_at(normal: Scores, anomalous: Scores, fpr: float = 0.01) -> float:
    """Share of anomalies scored above the lowest threshold with at most ``fpr`` false positives.

    The candidate thresholds are the distinct normal scores (a request counts as
    flagged when its score is strictly above the threshold); 0.0 when no
    candidate keeps the false positives at or below ``fpr``, or nan without
    anomalies.
    """
    if len(anomalous) == 0:
        return float("nan")
    n = len(normal)
    if n == 0:
        return 0.0
    cands = np.unique(normal)  # ascending
    above = n - np.searchsorted(np.sort(normal), cands, side="right")
    ok = np.flatnonzero(above / n <= fpr)
    if ok.size == 0:
        return 0.0
    return float((anomalous > cands[ok[0]]).mean())
