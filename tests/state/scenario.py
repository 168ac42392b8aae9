"""The synthetic scenario of the state tests, and the writer of its snapshot fixture.

``data/flat_v1_pipeline.snap`` was written by the code before
``detector.state.component`` existed (the base of issue 9): a DETSNAP2 file
whose state is the flat layout of that code (other objects' private fields side
by side). It is the snapshot of :func:`scenario` cut at :data:`CUT`, with an
analyzer learning online. Regenerate it only with that older code::

    PYTHONPATH=/path/to/old/checkout python tests/state/scenario.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

from detector.config import Settings
from detector.events import AccessEvent, DeploymentEvent
from detector.sinks.base import MemorySink

FIXTURE = Path(__file__).parent / "data" / "flat_v1_pipeline.snap"
T0 = 1_773_740_000.0
MINUTES = 150
DEPLOY_AT = T0 + 90 * 60
CUT = 0.64  # mid-incident: the deploy's errors are open when the snapshot is taken


def scenario() -> list[AccessEvent | DeploymentEvent]:
    """Two services, ids in paths, a bad deploy, an auth burst, a scanner, injections."""
    rnd = random.Random(9)
    out: list[AccessEvent | DeploymentEvent] = [
        DeploymentEvent(DEPLOY_AT - 5, "pay", "2.32.0", source="deploys", offset=1)]
    t, i = T0, 0
    while t < T0 + MINUTES * 60:
        t += rnd.expovariate(4.0)
        i += 1
        svc = "pay" if rnd.random() < 0.6 else "shop"
        ver = ("2.32.0" if t >= DEPLOY_AT else "2.31.0") if svc == "pay" else None
        route = rnd.choice(["/v1/items/{}", "/v1/orders/{}/lines", "/health", "/v1/search"])
        path = route.format(rnd.randrange(400))
        query, status, client = "", 200, f"10.0.{rnd.randrange(4)}.{rnd.randrange(200)}"
        if route == "/v1/search":
            query = f"q=item{rnd.randrange(50)}"
        rel = t - T0
        if svc == "pay" and DEPLOY_AT + 30 <= t < DEPLOY_AT + 20 * 60 and rnd.random() < 0.2:
            status = 503
        elif 60 * 60 <= rel < 66 * 60 and rnd.random() < 0.3:
            client, status = "203.0.113.7", 401  # credential stuffing
        elif 40 * 60 <= rel < 44 * 60 and rnd.random() < 0.2:
            client, status = "198.51.100.9", 404
            path = f"/{rnd.choice(['admin', 'wp-login.php', '.env', 'backup.sql'])}"
        elif 110 * 60 <= rel < 118 * 60 and rnd.random() < 0.1:
            client, query, path = "192.0.2.66", "q=1' OR '1'='1 UNION SELECT pass", "/v1/search"
        out.append(AccessEvent(t, svc, ver, "GET", path, query, status,
                               rnd.lognormvariate(-3.0, 0.4), 512, client, "app/1.0", None,
                               None, "scenario", i))
    return out


def pipeline(sink: MemorySink) -> Any:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.pipeline import Pipeline

    return Pipeline(Settings(), [sink], wall_clock=None,
                    analyzer=RequestAnalyzer(learn_online=True))


def _write_fixture() -> None:
    """Run by hand with the *older* code on the path: writes :data:`FIXTURE`."""
    sink = MemorySink()
    p = pipeline(sink)
    items = scenario()
    p.process(items[:int(len(items) * CUT)])
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_bytes(p.snapshot())
    print(f"{FIXTURE}: {FIXTURE.stat().st_size} bytes, {len(sink.items)} incident changes")


if __name__ == "__main__":
    sys.exit(_write_fixture())
