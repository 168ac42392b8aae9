"""Client-population scoping: a 4xx surge or a drop confined to one app version is named."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from detector.config import Settings
from detector.events import AccessEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink

T0 = 1_773_740_000.0
BREAK = 2.5 * 3600.0  # the release that breaks old Android app clients
OLD_APP = ("ShopApp/3.9.{} (Android 11; SM-A{}; okhttp/3.12.0)")
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.3.1 Safari/605.1.15",
    "ShopApp/5.12.1 (iPhone; iOS 17.4; Scale/3.00)",
    "ShopApp/5.12.1 (Android 14; Pixel 8; okhttp/4.12.0)",
]
Status = Callable[[float, bool, np.random.Generator], int]


def _run(status: Status, old_share: float = 0.3, old_gone: bool = False,
         hours: float = 3.5, thin: float = 0.0) -> list[Incident]:
    rng = np.random.default_rng(7)
    items: list[AccessEvent] = []
    t = 0.0
    while t < hours * 3600:
        t += float(rng.exponential(0.25))
        old = rng.random() < old_share
        if old and old_gone and t >= BREAK:
            continue  # the old app gives up after the release: its requests stop
        if t >= BREAK and rng.random() < thin:
            continue  # everybody's requests thin out alike
        ua = OLD_APP.format(rng.integers(0, 5), rng.integers(100, 900)) if old \
            else UAS[int(rng.integers(len(UAS)))]
        items.append(AccessEvent(T0 + t, "shop", None, "GET", "/v1/cart", "",
                                 status(t, old, rng), 0.03, 900,
                                 f"10.{rng.integers(1, 200)}.{rng.integers(0, 250)}.9", ua,
                                 None, None, "t.log", 0))
    sink = MemorySink()
    p = Pipeline(Settings(), [sink], wall_clock=None)
    p.process(items)
    p.finish()
    return list(sink.items)


def _of(incidents: list[Incident], kind: str) -> list[Incident]:
    return [i for i in incidents if i.kind == kind]


def _usual(t: float, rng: np.random.Generator) -> int:
    return 400 if rng.random() < 0.004 else 200


def test_client_errors_confined_to_the_old_android_app_are_named() -> None:
    def status(t: float, old: bool, rng: np.random.Generator) -> int:
        return 400 if old and t >= BREAK and rng.random() < 0.9 else _usual(t, rng)

    found = _of(_run(status), "client_error_surge")
    assert found, "the surge is found"
    pop = found[0].evidence["population"]
    assert pop["user_agent_family"] == "ShopApp/3 (Android)"
    # The first window holds a part before the release: the family's rate is diluted.
    assert pop["share_of_excess"] >= 0.95 and pop["rate"] >= 0.4 and pop["baseline"] < 0.02
    assert pop["others_rate"] < 0.02
    assert "confined to ShopApp/3 (Android) since" in found[0].summary


def test_client_errors_spread_over_every_family_name_none() -> None:
    def status(t: float, old: bool, rng: np.random.Generator) -> int:
        return 400 if t >= BREAK and rng.random() < 0.25 else _usual(t, rng)

    found = _of(_run(status), "client_error_surge")
    assert found
    assert all("population" not in i.evidence and "confined" not in i.summary for i in found)


def test_a_drop_confined_to_the_old_android_app_is_named() -> None:
    def status(t: float, old: bool, rng: np.random.Generator) -> int:
        return _usual(t, rng)

    found = _of(_run(status, old_share=0.6, old_gone=True), "traffic_drop")
    assert found, "the drop is found"
    pop = found[0].evidence["population"]
    assert pop["user_agent_family"] == "ShopApp/3 (Android)"
    assert pop["share_of_missing"] >= 0.9 and pop["rate"] == 0
    assert "confined to ShopApp/3 (Android)" in found[0].summary


def test_a_drop_of_every_family_alike_names_none() -> None:
    def status(t: float, old: bool, rng: np.random.Generator) -> int:
        return _usual(t, rng)

    found = _of(_run(status, old_share=0.6, thin=0.7), "traffic_drop")
    assert found, "the drop is found"
    assert all("population" not in i.evidence and "confined" not in i.summary for i in found)


def test_a_flatline_of_a_route_the_old_app_dominates_names_none() -> None:
    def status(t: float, old: bool, rng: np.random.Generator) -> int:
        return _usual(t, rng)

    found = _of(_run(status, old_share=0.8, thin=0.97), "traffic_drop")
    assert found, "the flatline is found"
    assert all("population" not in i.evidence for i in found)
