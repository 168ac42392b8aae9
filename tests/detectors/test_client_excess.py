"""Spikes a few clients make are theirs: client windows count requests per series on every route."""

from __future__ import annotations

from detector.config import Settings
from detector.detectors.base import SeriesKey, Signal
from detector.detectors.client_excess import few_clients_spikes
from detector.events import AccessEvent
from detector.pipeline import Pipeline
from detector.sinks.base import MemorySink
from detector.windows.stats import C_COUNT, C_SERIES, client_series, new_client_stats

KEY = SeriesKey("shop", "GET", "/products")


def _spike(observed: float, baseline: float) -> Signal:
    return Signal(kind="traffic_spike", service="shop", route=KEY.route, method="GET",
                  client=None, start=0.0, end=60.0, score=0.9, observed=observed,
                  baseline=baseline, requests=int(observed), p_value=1e-9, extra={}, samples=[])


def _client(n: int) -> list[object]:
    cs = new_client_stats(0)
    cs[C_COUNT] = n
    if n > 1:
        cs[C_SERIES] = {0: n}
    return cs


def _clients(counts: list[int]) -> dict[tuple[str, str], list[object]]:
    return {("shop", f"10.0.{i // 250}.{i % 250}"): _client(n) for i, n in enumerate(counts)}


def test_a_crawler_tripling_a_route_without_ids_is_not_the_routes_spike() -> None:
    crowd = [1] * 40
    assert few_clients_spikes([_spike(120.0, 40.0)], _clients([80] + crowd), {KEY: 0}) == []


def test_a_crowd_tripling_a_route_is_a_spike_even_with_its_busiest_users() -> None:
    # Heavy users (a proxy, a shared office) grow with the crowd: they are not the excess.
    crowd = [21, 7, 3, 3, 3, 2, 2, 2, 2] + [1] * 110
    assert len(few_clients_spikes([_spike(float(sum(crowd)), 40.0)], _clients(crowd),
                                  {KEY: 0})) == 1


def test_a_walk_shared_by_seven_clients_is_theirs_but_a_busy_crowd_is_not() -> None:
    walkers = [18] * 7 + [1, 1, 1]
    assert few_clients_spikes([_spike(126.0, 4.0)], _clients(walkers), {KEY: 0}) == []
    busy = [4] * 30 + [1] * 30  # thirty clients as busy as each other: users, not a crew
    assert len(few_clients_spikes([_spike(150.0, 40.0)], _clients(busy), {KEY: 0})) == 1


def test_other_services_clients_and_other_kinds_are_left_alone() -> None:
    other = {("search", "6.6.6.6"): _client(200)}
    assert len(few_clients_spikes([_spike(120.0, 40.0)], other, {KEY: 0})) == 1
    drop = Signal(kind="traffic_drop", service="shop", route=KEY.route, method="GET",
                  client=None, start=0.0, end=60.0, score=0.9, observed=1.0, baseline=40.0,
                  requests=1, p_value=1e-9, extra={}, samples=[])
    assert few_clients_spikes([drop], _clients([80]), {KEY: 0}) == [drop]


def _ev(ts: float, path: str, client: str) -> AccessEvent:
    return AccessEvent(ts, "shop", None, "GET", path, "", 200, 0.01, 10, client, "ua", None,
                       None, "f", int(ts * 1000))


def test_the_hot_path_counts_each_clients_requests_per_series() -> None:
    p = Pipeline(Settings(), [MemorySink()])
    evs = [_ev(1.0 + i, "/products", "1.1.1.1") for i in range(3)]
    evs += [_ev(5.0, "/cart", "1.1.1.1"), _ev(6.0, "/cart", "2.2.2.2"),
            _ev(7.0, "/cart", "3.3.3.3"), _ev(8.0, "/cart", "3.3.3.3")]
    p.process(evs)
    series, clients, _pending = p.windows.open[0.0]
    sid = {p.series.keys[s].route: s for s in series}
    one, two, three = (clients[("shop", c)] for c in ("1.1.1.1", "2.2.2.2", "3.3.3.3"))
    assert (client_series(one, sid["/products"]), client_series(one, sid["/cart"])) == (3, 1)
    assert (client_series(two, sid["/cart"]), client_series(two, sid["/products"])) == (1, 0)
    assert client_series(three, sid["/cart"]) == 2
    assert three[C_SERIES] == sid["/cart"]  # one series only: no dict allocated
