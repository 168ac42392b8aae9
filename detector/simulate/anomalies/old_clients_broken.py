"""client_error_surge, shape ``old_clients_broken``: a release rejects an old app version.

A route keeps a steady population of an old Android app build (ShopApp 3.x:
okhttp 3, Android 9-11) next to everyone else, a fifth to a third of its
requests all day. A deploy stops accepting what that build sends: 85-100 % of
its requests get 400 or 426 until the rollback or hotfix, everyone else is
served as before. The label names the population (``params.population``).
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext, route_window
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.traffic import BASELINE, Traffic

OLD_APP_FAMILY = "ShopApp/3 (Android)"  # what detector.detectors.ua_family calls them
_OLD_PREFIX = "ShopApp/3."
_MODELS = ("SM-A505F", "SM-G960F", "Redmi Note 8", "moto g(7)", "SM-J730F", "Nokia 6.1")


POPULATION_SHAPES = ("old_clients_broken", "app_drop")


def without_population(ctx: PlanContext, pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The routes no other case gave an old-app population yet (it would be too small)."""
    taken = {(a.service, a.template) for a in ctx.anomalies
             if a.extra.get("shape") in POPULATION_SHAPES}
    return [(s, j) for s, j in pairs if (s, ctx.services[s].routes[j].template) not in taken]


def old_rows(t: Traffic, route: int) -> np.ndarray:
    """Rows of ``route`` sent by the old app's clients."""
    ids = [i for i, ua in enumerate(t.pool.ua) if ua.startswith(_OLD_PREFIX)]
    return np.asarray(t.on_route(route) & np.isin(t.client, ids))


def old_app_population(t: Traffic, route: int, share: float) -> None:
    """Makes ``share`` of ``route``'s normal requests, all run long, the old app's.

    The requests stay (the route's volume is unchanged); their clients become
    the old app's users. A route has one such population: a second case on it
    finds the one already there.
    """
    t.finalize()
    if old_rows(t, route).any():
        return
    rng, pool = t.rng, t.pool
    uas = [f"{_OLD_PREFIX}{int(rng.integers(4, 10))}.{int(rng.integers(0, 6))} (Android "
           f"{int(rng.integers(9, 12))}; {_MODELS[i % len(_MODELS)]}; okhttp/3.12."
           f"{int(rng.integers(1, 13))})" for i in range(12)]
    clients = np.asarray([pool.add(pool.residential_ip(), uas[i % len(uas)])
                          for i in range(60)], np.int32)
    rows = np.flatnonzero(t.on_route(route) & (t.tag == BASELINE)
                          & (rng.random(len(t.ts)) < share))
    t.client[rows] = clients[rng.integers(0, len(clients), len(rows))]


class OldClientsBroken(Injector):
    """A deploy after which one old app version's requests on a route are refused.

    >>> OldClientsBroken.kind, OldClientsBroken.shape
    ('client_error_surge', 'old_clients_broken')
    """

    kind = "client_error_surge"
    shape = "old_clients_broken"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        pairs = ctx.candidates(0.5, lambda r: r.clients == "users")
        if not pairs:
            return None
        placed = ctx.place(rng, pairs, by_deploy=True, span=(15.0, 40.0))
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        share = float(rng.uniform(0.2, 0.33))
        fail = float(rng.uniform(0.85, 1.0))
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"share": round(share, 3), "fail": round(fail, 3)},
                    extra={"shape": self.shape, "population": OLD_APP_FAMILY})
        a.deploy, a.fix = ctx.deploy_pair(rng, svc, start, end,
                                          silent=svc == SILENT_DEPLOY_SERVICE)
        a.description = (f"deploy {{version}} breaks old app clients ({OLD_APP_FAMILY}, "
                         f"{share:.0%} of {r.key}): {fail:.0%} of their requests 400/426 "
                         f"until {a.fix.role}")
        return a

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        old_app_population(t, a.route, a.params["share"])

    def effects(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        served = route_window(a, t)
        old = served & old_rows(t, a.route)
        # The route's population may be an earlier case's: the label says its real share.
        a.params["share"] = round(float(old.sum()) / max(int(served.sum()), 1), 3)
        t.set_status(old, a.params["fail"], np.array([400, 400, 400, 426], dtype=np.int16))
