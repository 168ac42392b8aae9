"""data_exposure, shape ``size_tail``: a release that answers some clients far too much.

A dropped filter or ownership check (a list endpoint returning every tenant's
rows to some callers): from the deploy, 15-30 % of one route's successful
answers are 4-10x their usual size while the rest stay as they were, so the
median barely moves and the upper quantiles jump.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly
from detector.simulate.anomalies.size_jump import SizeJump, successes
from detector.simulate.traffic import Traffic


class SizeTail(SizeJump):
    """Makes a share of the bad version's 2xx answers on the route ``factor`` x larger.

    >>> SizeTail.kind, SizeTail.shape
    ('data_exposure', 'size_tail')
    """

    shape = "size_tail"

    def params(self, rng: np.random.Generator) -> dict[str, float]:
        return {"share": round(float(rng.uniform(0.15, 0.30)), 3),
                "factor": round(float(rng.uniform(4.0, 10.0)), 2)}

    def what(self, a: Anomaly) -> str:
        return (f"{a.params['share']:.0%} of answers x{a.params['factor']:g} "
                "(other clients' data in them)")

    def effects(self, a: Anomaly, t: Traffic) -> None:
        rows = np.flatnonzero(successes(a, t))
        big = rows[t.rng.random(len(rows)) < a.params["share"]]
        spread = np.exp(t.rng.normal(0.0, 0.2, len(big)))
        t.nbytes[big] = (t.nbytes[big] * a.params["factor"] * spread).astype(np.int64)
