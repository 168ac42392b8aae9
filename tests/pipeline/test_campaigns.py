"""One campaign, one incident: distributed credential stuffing and scanning end to end."""

from __future__ import annotations

import numpy as np

from detector.config import Settings
from detector.events import AccessEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink

T0 = 1_773_740_000.0
HOUR = 3600.0


def _ev(t: float, path: str, status: int, client: str, method: str = "POST") -> AccessEvent:
    return AccessEvent(T0 + t, "shop", None, method, path, "", status, 0.02, 100, client,
                       "Mozilla/5.0", None, None, "t.log", 0)


def _background(hours: float, seed: int = 1) -> list[AccessEvent]:
    """A login route (5 % of attempts fail) next to a catalogue, 4 req/s in all."""
    rng = np.random.default_rng(seed)
    out: list[AccessEvent] = []
    t = 0.0
    while t < hours * HOUR:
        t += float(rng.exponential(0.25))
        who = f"10.{rng.integers(1, 200)}.{rng.integers(0, 250)}.{rng.integers(1, 250)}"
        if rng.random() < 0.4:
            out.append(_ev(t, "/login", 401 if rng.random() < 0.05 else 200, who))
        else:
            out.append(_ev(t, f"/items/{rng.integers(1, 1000)}", 200, who, "GET"))
    return out


def _run(extra: list[AccessEvent], hours: float = 3.5) -> list[Incident]:
    items = sorted([*_background(hours), *extra], key=lambda e: e.ts)
    sink = MemorySink()
    p = Pipeline(Settings(), [sink], wall_clock=None)
    p.process(items)
    p.finish()
    return list(sink.items)


def _opened(incidents: list[Incident], kind: str) -> list[Incident]:
    return [i for i in incidents if i.status == "open" and i.kind == kind]


def _stuffing(clients: int, per_client: list[float], seed: int = 2) -> list[AccessEvent]:
    """Each client fails once at each of the offsets (seconds after 2 h), jittered."""
    rng = np.random.default_rng(seed)
    return [_ev(2 * HOUR + t + float(rng.random()) * 30, "/login", 401,
                f"172.16.{c // 250}.{c % 250}") for c in range(clients) for t in per_client]


def test_slow_distributed_stuffing_is_one_route_incident_with_its_participants() -> None:
    # 300 clients, 2 failures each per 10 minutes, for an hour: no client stands out.
    offsets = [k * 600.0 + j * 290.0 for k in range(6) for j in range(2)]
    incidents = _run(_stuffing(300, offsets))
    auth = _opened(incidents, "auth_failure_burst")
    assert len(auth) == 1, [(i.route, i.client, i.start) for i in auth]
    inc = auth[0]
    assert inc.client is None and inc.route == "/login"
    last = [i for i in incidents if i.id == inc.id][-1]
    campaign = last.evidence["campaign"]
    assert campaign["clients_seen"] >= 300
    assert campaign["examples"] and campaign["examples"][0]["failures"] >= 1
    assert "clients" in last.summary
    span = (np.datetime64(last.end[:-1]) - np.datetime64(last.start[:-1])).astype(int)
    assert span >= 50 * 60  # one incident for the whole hour, not one per stretch


def test_botnet_whose_clients_each_trip_the_client_threshold_is_folded_into_one() -> None:
    # 30 clients failing 25 times a minute each for 15 minutes: each one alone would
    # open a client-keyed incident.
    offsets = [m * 60.0 + s * 2.3 for m in range(15) for s in range(25)]
    incidents = _run(_stuffing(30, offsets), hours=2.6)
    auth = _opened(incidents, "auth_failure_burst")
    assert len(auth) == 1, [(i.route, i.client) for i in auth]
    assert auth[0].client is None and auth[0].route == "/login"
    folded = [i.evidence["campaign"]["client_signals_folded"]
              for i in incidents if i.id == auth[0].id]
    assert max(folded) >= 3


def test_single_client_stuffing_keeps_its_client_keyed_incident() -> None:
    offsets = [s * 0.3 for s in range(2000)]
    incidents = _run(_stuffing(1, offsets), hours=2.5)
    auth = _opened(incidents, "auth_failure_burst")
    assert [i.client for i in auth] == ["172.16.0.0"]  # and no second, route-keyed page
    assert all("campaign" not in i.evidence for i in incidents if i.kind == "auth_failure_burst")


def test_distributed_scan_is_one_scanning_incident_for_the_service() -> None:
    rng = np.random.default_rng(5)
    words = [f"/{a}/{b}" for a in ("admin", "backup", ".git", "wp", "old", "cgi-bin", "api")
             for b in ("config", "db.sql", "env", "login.php", "shell", "x.bak", "dump")]
    extra = [_ev(2 * HOUR + float(rng.random()) * 100, words[int(rng.integers(len(words)))], 404,
                 f"45.{c}.7.9", "GET") for c in range(40) for _ in range(3)]
    incidents = _run(extra, hours=2.5)
    scans = _opened(incidents, "scanning")
    assert len(scans) == 1, [(i.route, i.client) for i in scans]
    assert scans[0].client is None and scans[0].route == "/{path}"
    assert scans[0].evidence["campaign"]["clients"] >= 20
