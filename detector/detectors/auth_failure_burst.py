"""auth_failure_burst: 401/403 bursts per route (share) and per client (count)."""

from __future__ import annotations

from typing import Any

from detector.config import DetectorSettings
from detector.detectors.auth_route import AuthRouteDetector
from detector.detectors.base import ClientWindow, Signal, score_from_p
from detector.kinds import Kind
from detector.state.component import stamp, unstamp
from detector.windows.stats import C_AUTH, C_COUNT, C_ROUTES, SAUTH

DECAY = 0.7  # per window: a client's failure count halves in about two windows


def auth_route_detector(s: DetectorSettings) -> AuthRouteDetector:
    """Route-keyed: the 401/403 share of a route (distributed credential stuffing, or a
    deploy that breaks authentication: :mod:`detector.detectors.auth_route`).

    >>> from detector.config import DetectorSettings
    >>> auth_route_detector(DetectorSettings()).kinds
    ('auth_failure_burst',)
    """
    return AuthRouteDetector(
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

    kinds: tuple[Kind, ...] = ("auth_failure_burst",)
    MAX_TRACKED = 50_000

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self._decayed: dict[tuple[str, str], list[float]] = {}

    def check_window(
        self, clients: dict[tuple[str, str], list[Any]], start: float, end: float,
        failing: dict[tuple[str, str], list[Any]] | None = None,
    ) -> list[Signal]:
        """The pipeline's step for one closed window: :meth:`check`, then :meth:`learn`.

        ``failing``: the window's clients with failures, in window order, when the caller
        already found them (pipeline.client_subsets)."""
        # Both steps pass over clients without failures: one pass drops them for both
        # (their room for new clients cannot differ: see :meth:`_room`).
        if failing is None:
            failing = {key: st for key, st in clients.items() if st[C_AUTH]}
        x = ClientWindow(start, end, failing)
        out = self.check(x)
        self.learn(x)
        return out

    def _room(self, x: ClientWindow) -> int:
        """How many new clients the table takes once this window's decay has pruned it.

        Never fewer than the window's failing clients when the table cannot fill up,
        so a window holding only those gets the same room as the whole window.
        """
        decayed = self._decayed
        if len(decayed) + len(x.clients) < self.MAX_TRACKED:
            return len(x.clients)  # cannot fill up: no need to count the survivors
        alive = sum(1 for d in decayed.values() if d[0] * DECAY >= 1.0)
        return self.MAX_TRACKED - alive

    def check(self, x: ClientWindow) -> list[Signal]:
        """Signals for one window, from the failure counts :meth:`learn` would keep."""
        out: list[Signal] = []
        decayed = self._decayed
        room = self._room(x)
        min_f = self.s.auth_client_min_failures
        start, end = x.start, x.end
        for key, st in x.clients.items():
            fails = st[C_AUTH]
            if not fails:
                continue
            d = decayed.get(key)
            if d is not None and d[0] * DECAY >= 1.0:  # still tracked after the decay
                failed, seen = d[0] * DECAY + fails, d[1] * DECAY + st[C_COUNT]
            elif room > 0:
                room -= 1
                failed, seen = 0.0 + fails, 0.0 + st[C_COUNT]
            else:
                continue
            share = failed / max(seen, 1.0)
            if (
                (fails >= min_f or failed >= 2 * min_f)
                and share >= self.s.auth_client_min_share
                and fails >= 3
            ):
                routes: dict[str, int] = st[C_ROUTES] or {}
                route = max(sorted(routes), key=lambda r: routes[r]) if routes else None
                p = min(1.0, 10.0 ** (-fails / 4))
                out.append(
                    Signal(
                        kind="auth_failure_burst",
                        service=key[0],
                        route=route,
                        method=None,
                        client=key[1],
                        start=start,
                        end=end,
                        score=score_from_p(p),
                        observed=float(fails),
                        baseline=0.0,
                        requests=int(st[C_COUNT]),
                        p_value=p,
                        extra={
                            "failures": fails,
                            "share": round(fails / max(st[C_COUNT], 1), 4),
                            "decayed_failures": round(failed, 1),
                            "window_seconds": end - start,
                        },
                        samples=[],
                    )
                )
        return out

    def learn(self, x: ClientWindow) -> None:
        """Decay every client's counts by one window and add this window's failures."""
        decayed = self._decayed
        for key in list(decayed):
            d = decayed[key]
            d[0] *= DECAY
            d[1] *= DECAY
            if d[0] < 1.0:
                del decayed[key]
        for key, st in x.clients.items():
            fails = st[C_AUTH]
            if not fails:
                continue
            found = decayed.get(key)
            if found is None:
                if len(decayed) >= self.MAX_TRACKED:
                    continue
                found = decayed[key] = [0.0, 0.0]
            found[0] += fails
            found[1] += st[C_COUNT]

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, {"decayed": self._decayed})

    def restore(self, data: Any) -> None:
        self._decayed = unstamp(data, self.STATE_VERSION, {}, "client_auth")["decayed"]
