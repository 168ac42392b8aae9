"""data_exposure, shape ``size_jump``: a release that serialises more of every answer.

New fields in a serialiser (a user object that now carries its addresses,
tokens, the whole account): from the deploy, every successful answer of one
route is 2.5-8x larger, and nothing else changes (no errors, same latency),
until the rollback or hotfix. ``deployment`` is the version that did it.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext, route_window
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE, RouteSpec
from detector.simulate.traffic import Traffic

MIN_RATE = 0.03  # req/s: the 30 answers a comparison needs in a quarter of an hour
MIN_BYTES = 200  # routes answering a body (not 204s or tiny acknowledgements)
SPAN_MIN = (45.0, 120.0)  # how long the bad version serves
# Another size change on the same route within this of it would be in its reference (the
# previous version's answers) or its watch: the detector compares with the version before.
SIZE_GAP_S = 3 * 3600.0


def answers_bodies(r: RouteSpec) -> bool:
    """A read route whose answers carry a body worth measuring."""
    return r.method == "GET" and r.bytes_median >= MIN_BYTES


def successes(a: Anomaly, t: Traffic) -> np.ndarray:
    """Rows of the anomaly's bad version on its route that were answered 2xx."""
    return np.asarray(route_window(a, t) & (t.status >= 200) & (t.status < 300))


class SizeJump(Injector):
    """Multiplies the 2xx response sizes of the bad version's route by ``factor``.

    >>> SizeJump.kind, SizeJump.shape
    ('data_exposure', 'size_jump')
    """

    kind = "data_exposure"
    shape = "size_jump"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        for _ in range(4):
            placed = ctx.place(rng, ctx.candidates(MIN_RATE, answers_bodies), by_deploy=True,
                               span=SPAN_MIN)
            if placed is None:
                return None
            if not _near_size_change(ctx, placed):
                break
        else:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params=self.params(rng), extra={"shape": self.shape})
        a.deploy, a.fix = ctx.deploy_pair(rng, svc, start, end,
                                          silent=svc == SILENT_DEPLOY_SERVICE)
        a.description = f"deploy {{version}}: {r.key} {self.what(a)} until {a.fix.role}"
        return a

    def params(self, rng: np.random.Generator) -> dict[str, float]:
        return {"factor": round(float(rng.uniform(2.5, 8.0)), 2)}

    def what(self, a: Anomaly) -> str:
        return f"response bodies x{a.params['factor']:g} (new fields serialised)"

    def effects(self, a: Anomaly, t: Traffic) -> None:
        rows = successes(a, t)
        t.nbytes[rows] = (t.nbytes[rows] * a.params["factor"]).astype(np.int64)


def _near_size_change(ctx: PlanContext, placed: tuple[str, int, float, float]) -> bool:
    """Whether another response-size change of the same route lies within SIZE_GAP_S."""
    svc, j, start, end = placed
    template = ctx.services[svc].routes[j].template
    return any(a.kind == "data_exposure" and a.service == svc and a.template == template
               and start < a.end + SIZE_GAP_S and a.start < end + SIZE_GAP_S
               for a in ctx.anomalies)
