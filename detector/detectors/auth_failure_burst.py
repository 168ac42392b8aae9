"""auth_failure_burst: 401/403 bursts per route (share) and per client (count)."""

from __future__ import annotations

from typing import Any

from detector.config import DetectorSettings
from detector.detectors.base import Signal, score_from_p
from detector.detectors.ratio_surge import RatioSurgeDetector
from detector.state.component import stamp, unstamp
from detector.windows.stats import C_AUTH, C_COUNT, C_ROUTES, SAUTH


def auth_route_detector(s: DetectorSettings) -> RatioSurgeDetector:
    """Route-keyed: the 401/403 share of a route (distributed credential stuffing).

    >>> from detector.config import DetectorSettings
    >>> auth_route_detector(DetectorSettings()).kinds
    ('auth_failure_burst',)
    """
    return RatioSurgeDetector(
        "auth_failure_burst",
        SAUTH,
        min_increase=s.auth_min_increase,
        warmup=s.warmup_windows,
        min_requests=s.ratio_min_requests,
        min_hits=max(s.ratio_min_hits, 10),
        alpha=s.alpha,
        prior=0.05,
        relearn_after=s.relearn_after_windows,
    )


class ClientAuthDetector:
    """Client-keyed: one client failing authentication many times.

    A decayed per-client failure count (half-life of about two windows) also
    catches a campaign slower than one window's threshold. Only clients with
    failures are tracked, in a bounded table.

    >>> from detector.config import DetectorSettings
    >>> det = ClientAuthDetector(DetectorSettings())
    >>> sig = det.check_window({("shop", "10.0.0.9"): [120, 118, 0, {"/login": 118}]}, 0.0, 60.0)
    >>> sig[0].client, sig[0].route
    ('10.0.0.9', '/login')
    """

    kinds: tuple[str, ...] = ("auth_failure_burst",)
    MAX_TRACKED = 50_000

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self._decayed: dict[tuple[str, str], list[float]] = {}

    def check_window(
        self, clients: dict[tuple[str, str], list[Any]], start: float, end: float
    ) -> list[Signal]:
        out: list[Signal] = []
        decayed = self._decayed
        for key in list(decayed):
            d = decayed[key]
            d[0] *= 0.7
            d[1] *= 0.7
            if d[0] < 1.0:
                del decayed[key]
        min_f = self.s.auth_client_min_failures
        for key, st in clients.items():
            fails = st[C_AUTH]
            if not fails:
                continue
            found = decayed.get(key)
            if found is None:
                if len(decayed) >= self.MAX_TRACKED:
                    continue
                found = decayed[key] = [0.0, 0.0]
            d = found
            d[0] += fails
            d[1] += st[C_COUNT]
            share = d[0] / max(d[1], 1.0)
            if (
                (fails >= min_f or d[0] >= 2 * min_f)
                and share >= self.s.auth_client_min_share
                and fails >= 3
            ):
                routes: dict[str, int] = st[C_ROUTES] or {}
                route = max(sorted(routes), key=lambda r: routes[r]) if routes else None
                p = min(1.0, 10.0 ** (-fails / 4))
                out.append(
                    Signal(
                        "auth_failure_burst",
                        key[0],
                        route,
                        None,
                        key[1],
                        start,
                        end,
                        score_from_p(p),
                        float(fails),
                        0.0,
                        int(st[C_COUNT]),
                        p,
                        {
                            "failures": fails,
                            "share": round(fails / max(st[C_COUNT], 1), 4),
                            "decayed_failures": round(d[0], 1),
                            "window_seconds": end - start,
                        },
                        [],
                    )
                )
        return out

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, {"decayed": self._decayed})

    def restore(self, data: Any) -> None:
        self._decayed = unstamp(data, self.STATE_VERSION, {}, "client_auth")["decayed"]
