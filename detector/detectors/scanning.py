"""scanning: one client probing many distinct missing or sensitive paths."""

from __future__ import annotations

from collections import deque
from typing import Any

from detector.config import DetectorSettings
from detector.detectors.base import ClientWindow, Signal, score_from_p
from detector.kinds import Kind
from detector.state.component import stamp, unstamp
from detector.windows.stats import C_404, C_COUNT, C_SAMPLES, C_SCANPATHS

HORIZON = 5  # windows over which a slow scanner's distinct paths add up
KEEP_PATHS = 64  # distinct paths remembered per client per window beyond the current one
MAX_TRACKED = 50_000


class ScanDetector:
    """Clients whose 404s spread over many distinct paths: a scanner, not a broken link.

    Raised when a client's distinct missing paths in one window, or in the
    union of its last five windows (a slow scanner), reach ``scan_min_paths``
    and failures dominate that client's traffic.

    >>> from detector.config import DetectorSettings
    >>> det = ScanDetector(DetectorSettings())
    >>> paths = {f"/p{i}" for i in range(40)}
    >>> sig = det.check_window({("web", "6.6.6.6"): [45, 0, 40, None, None, paths]}, 0.0, 60.0)
    >>> sig[0].kind, sig[0].client
    ('scanning', '6.6.6.6')
    """

    kinds: tuple[Kind, ...] = ("scanning",)

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        # (service, client) -> recent windows of (distinct missing paths, requests, misses)
        self._recent: dict[tuple[str, str], deque[tuple[frozenset[str], int, int]]] = {}

    def check_window(
        self, clients: dict[tuple[str, str], list[Any]], start: float, end: float,
        probing: dict[tuple[str, str], list[Any]] | None = None,
    ) -> list[Signal]:
        """The pipeline's step for one closed window: :meth:`check`, then :meth:`learn`.

        ``probing``: the window's clients with missing paths, in window order, when the
        caller already found them (pipeline.client_subsets)."""
        if probing is None:  # few clients probe: one pass finds them for both steps
            probing = {key: st for key, st in clients.items() if st[C_SCANPATHS]}
        out = self.check(ClientWindow(start, end, probing))
        self._learn(clients, probing)
        return out

    def check(self, x: ClientWindow) -> list[Signal]:
        """Signals for one window: its missing paths, with each client's recent ones."""
        recent = self._recent
        out: list[Signal] = []
        min_paths = self.s.scan_min_paths
        start, end = x.start, x.end
        for key, st in x.clients.items():
            paths = st[C_SCANPATHS]
            if not paths:
                continue
            distinct = len(paths)
            share = st[C_404] / max(st[C_COUNT], 1)
            union = set(paths)
            total, misses = int(st[C_COUNT]), int(st[C_404])
            hist = recent.get(key)
            if hist is not None:
                for old_paths, n, m in hist:
                    union |= old_paths
                    total += n
                    misses += m
            slow_share = misses / max(total, 1)
            if (distinct >= min_paths and share >= 0.5) or (
                len(union) >= min_paths and slow_share >= 0.5 and distinct >= 2
            ):
                p = min(1.0, 10.0 ** (-len(union) / 5))
                out.append(
                    Signal(kind="scanning", service=key[0], route=None, method=None,
                           client=key[1], start=start, end=end, score=score_from_p(p),
                           observed=float(distinct), baseline=0.0, requests=int(st[C_COUNT]),
                           p_value=p,
                           extra={"distinct_missing_paths": distinct,
                                  "missing_share": round(share, 4),
                                  "distinct_missing_paths_recent": len(union),
                                  "example_paths": sorted(paths)[:5],
                                  "window_seconds": end - start},
                           samples=list(st[C_SAMPLES] or []))
                )  # fmt: skip
        return out

    def learn(self, x: ClientWindow) -> None:
        """Add this window to the recent history of the clients that probe."""
        self._learn(x.clients, {key: st for key, st in x.clients.items() if st[C_SCANPATHS]})

    def _learn(self, clients: dict[tuple[str, str], list[Any]],
               probing: dict[tuple[str, str], list[Any]]) -> None:
        """:meth:`learn`, given the window's clients that probe (in window order)."""
        recent = self._recent
        for key in list(recent):
            st = clients.get(key)
            if st is None:
                past = recent[key]
                past.append((frozenset(), 0, 0))
                if not any(h[0] for h in past):
                    del recent[key]
            elif not st[C_SCANPATHS]:  # here, probing nothing this window
                recent[key].append((frozenset(), int(st[C_COUNT]), 0))
        for key, st in probing.items():
            paths = st[C_SCANPATHS]
            hist = recent.get(key)
            if hist is None:
                if len(paths) < 2 or len(recent) >= MAX_TRACKED:
                    continue
                hist = recent[key] = deque(maxlen=HORIZON - 1)
            hist.append((frozenset(sorted(paths)[:KEEP_PATHS]), int(st[C_COUNT]), int(st[C_404])))

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, {"recent": self._recent})

    def restore(self, data: Any) -> None:
        self._recent = unstamp(data, self.STATE_VERSION, {}, "scanner")["recent"]
