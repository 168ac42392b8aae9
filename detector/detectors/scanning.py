"""scanning: one client probing many distinct missing or sensitive paths."""

from __future__ import annotations

from typing import Any

from detector.config import DetectorSettings
from detector.detectors.base import Signal, score_from_p
from detector.windows.stats import C_404, C_COUNT, C_SAMPLES, C_SCANPATHS

DECAY = 0.8  # per window: a campaign slower than one window still adds up
MAX_TRACKED = 50_000


class ScanDetector:
    """Clients whose 404s spread over many distinct paths: a scanner, not a broken link.

    Per window a client's distinct missing paths are counted (capped set); a
    decayed count across windows catches low-and-slow scanners. Raised when
    enough distinct paths failed and failures dominate the client's traffic.

    >>> from detector.config import DetectorSettings
    >>> det = ScanDetector(DetectorSettings())
    >>> paths = {f"/p{i}" for i in range(40)}
    >>> sig = det.check_window({("web", "6.6.6.6"): [45, 0, 40, None, None, paths]}, 0.0, 60.0)
    >>> sig[0].kind, sig[0].client
    ('scanning', '6.6.6.6')
    """

    kinds: tuple[str, ...] = ("scanning",)

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self._decayed: dict[tuple[str, str], list[float]] = {}

    def check_window(
        self, clients: dict[tuple[str, str], list[Any]], start: float, end: float
    ) -> list[Signal]:
        decayed = self._decayed
        for key in list(decayed):
            d = decayed[key]
            d[0] *= DECAY
            d[1] *= DECAY
            if d[0] < 1.0:
                del decayed[key]
        out: list[Signal] = []
        min_paths = self.s.scan_min_paths
        for key, st in clients.items():
            paths = st[C_SCANPATHS]
            if not paths:
                continue
            distinct = len(paths)
            found = decayed.get(key)
            if found is None:
                if len(decayed) >= MAX_TRACKED:
                    continue
                found = decayed[key] = [0.0, 0.0]
            d = found
            d[0] += distinct
            d[1] += st[C_COUNT]
            share = st[C_404] / max(st[C_COUNT], 1)
            slow_share = d[0] / max(d[1], 1.0)
            if (distinct >= min_paths and share >= 0.5) or (
                d[0] >= 2 * min_paths and slow_share >= 0.5 and distinct >= 2
            ):
                p = min(1.0, 10.0 ** (-distinct / 5))
                samples = list(st[C_SAMPLES] or [])
                out.append(
                    Signal("scanning", key[0], None, None, key[1], start, end,
                           score_from_p(p), float(distinct), 0.0, int(st[C_COUNT]), p,
                           {"distinct_missing_paths": distinct,
                            "missing_share": round(share, 4),
                            "decayed_distinct_paths": round(d[0], 1),
                            "example_paths": sorted(paths)[:5],
                            "window_seconds": end - start},
                           samples)
                )  # fmt: skip
        return out
