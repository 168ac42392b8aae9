"""object_enumeration: walks of one client, slow walks, distributed walks, and what is none."""

from __future__ import annotations

import random
from typing import Any

import pytest

from detector.config import DetectorSettings
from detector.detectors import object_enumeration as oe
from detector.detectors.base import SeriesKey, Signal
from detector.detectors.object_enumeration import ObjectEnumerationDetector, ObjectWindow
from detector.detectors.object_walk import EXACT_CAP, HLL_LG_K, ObjectWalk
from detector.state import dumps, loads

ORDERS = SeriesKey("shop", "GET", "/v1/orders/{id}")
KEYS = [ORDERS] + [SeriesKey("shop", "GET", f"/v1/r{k}/{{id}}") for k in range(40)]
Clients = dict[tuple[str, str], list[Any]]


def client(objs: list[tuple[int, str]], other: int = 0, missing: set[str] | None = None
           ) -> list[Any]:
    """A client window (detector.windows.stats C_* layout) with its id-bearing requests."""
    return [len(objs) + other, 0, len(missing or ()), None, None, missing or None, objs or None]


def normal_clients(rng: random.Random, n: int = 60) -> Clients:
    """Shoppers (of 3,000) reading one to four random orders in a window, some elsewhere."""
    out: Clients = {}
    for c in rng.sample(range(3000), n):
        k = rng.randint(0, 4)
        objs = [(0 if rng.random() < 0.7 else rng.randint(1, 40),
                 f"/v1/orders/{rng.randint(100_000, 3_000_000)}") for _ in range(k)]
        out[("shop", f"10.1.{c // 250}.{c % 250}")] = client(objs, other=rng.randint(0, 5))
    return out


def run(det: ObjectEnumerationDetector, windows: list[Clients], t0: int = 0) -> list[list[Signal]]:
    return [det.check_window(cl, KEYS, (t0 + i) * 60.0, (t0 + i + 1) * 60.0)
            for i, cl in enumerate(windows)]


def warmed(rng: random.Random, hours: int = 3) -> tuple[ObjectEnumerationDetector, int]:
    det = ObjectEnumerationDetector(DetectorSettings())
    sigs = run(det, [normal_clients(rng) for _ in range(hours * 60)])
    assert not any(sigs), "normal shoppers raised object_enumeration"
    return det, hours * 60


def test_normal_clients_raise_nothing_and_teach_the_route() -> None:
    det, _ = warmed(random.Random(1))
    thr, normal = det.threshold(0)
    assert normal is not None and normal < 20
    assert thr == max(oe.MIN_IDS, round(oe.FACTOR * normal))


def test_fast_sequential_walk_is_one_client_keyed_signal_with_evidence() -> None:
    rng = random.Random(2)
    det, t0 = warmed(rng)
    wins, nxt = [], 10_000
    for _ in range(15):  # 3 req/s for 15 min, 8 % of ids missing
        cl = normal_clients(rng)
        objs = [(0, f"/v1/orders/{nxt + k}") for k in range(180)]
        nxt += 180
        missing = {p for _, p in objs if rng.random() < 0.08}
        cl[("shop", "203.0.113.9")] = client(objs, missing=missing)
        wins.append(cl)
    sigs = run(det, wins, t0)
    first = next(i for i, s in enumerate(sigs) if s)
    assert first == 0  # 180 sequential ids in the first window already
    assert all(len(s) == 1 for s in sigs)
    last = sigs[-1][0]
    assert last.client == "203.0.113.9" and last.route == "/v1/orders/{id}"
    ex = last.extra
    assert 2500 <= ex["distinct_ids"] <= 2900
    assert ex["id_range"] == [10_000, 12_699]
    assert ex["sequential_share"] > 0.99 and ex["density"] > 0.9
    assert 0.04 < ex["not_found_share"] < 0.12
    assert ex["route_share"] == 1.0


def test_slow_dense_walk_over_an_hour_is_caught_within_the_hour() -> None:
    rng = random.Random(3)
    det, t0 = warmed(rng)
    ids = list(range(52_000, 52_900))
    rng.shuffle(ids)  # dense, not in order: no sequential steps
    wins = []
    for _ in range(70):  # one request every 5 s
        cl = normal_clients(rng)
        objs = [(0, f"/v1/orders/{ids.pop()}") for _ in range(12)]
        cl[("shop", "198.51.100.7")] = client(objs, other=1)
        wins.append(cl)
    sigs = run(det, wins, t0)
    hit = [i for i, s in enumerate(sigs) if any(x.client == "198.51.100.7" for x in s)]
    assert hit and hit[0] < 60
    ex = sigs[-1][0].extra
    assert ex["sequential_share"] < 0.2 and ex["density"] > 0.5
    assert all(x.client == "198.51.100.7" for s in sigs for x in s)


@pytest.mark.parametrize("order", ["sequential", "shuffled"])
def test_distributed_walk_is_one_route_incident_naming_its_participants(order: str) -> None:
    rng = random.Random(4)
    det, t0 = warmed(rng)
    walkers = [f"192.0.2.{k}" for k in range(8)]
    ids = list(range(70_000, 70_000 + 20 * 8 * 12))
    if order == "shuffled":  # the whole range from the start: it fills up as the walk goes
        ids = [70_000 + i for i in random.Random(0).sample(range(len(ids) * 10 // 7),
                                                           len(ids))]
    wins = []
    for w in range(20):
        cl = normal_clients(rng)
        for k, ip in enumerate(walkers):  # each takes the next id in turn
            mine = ids[w * 96 + k: (w + 1) * 96: 8]
            cl[("shop", ip)] = client([(0, f"/v1/orders/{i}") for i in mine],
                                      missing={f"/v1/orders/{mine[0]}"})
        wins.append(cl)
    sigs = run(det, wins, t0)
    raised = [x for s in sigs for x in s]
    assert raised and all(x.client is None and x.route == "/v1/orders/{id}" for x in raised)
    assert max(len(s) for s in sigs) == 1
    assert sorted(raised[-1].extra["participants"]) == walkers
    assert raised[-1].extra["density"] > (0.9 if order == "sequential" else 0.6)


def test_a_crawler_following_links_over_many_routes_is_no_enumeration() -> None:
    rng = random.Random(5)
    det, t0 = warmed(rng)
    wins = []
    for _ in range(90):  # 1 page / s over 40 routes, ids from links (codes, not counters)
        cl = normal_clients(rng)
        objs = [(rng.randint(1, 40), f"/v1/r/SKU-{rng.randint(10_000, 50_000)}")
                for _ in range(60)]
        cl[("shop", "66.249.66.1")] = client(objs, other=10)
        wins.append(cl)
    assert not any(run(det, wins, t0))


def test_a_catalogue_crawler_on_one_route_without_misses_is_no_enumeration() -> None:
    rng = random.Random(6)
    det, t0 = warmed(rng)
    wins, nxt = [], 20_000
    for _ in range(120):  # a product page every 3 s for two hours, links that exist
        cl = normal_clients(rng)
        objs = [(0, f"/v1/orders/SKU-{nxt + k:05d}") for k in range(20)]
        nxt += 20
        cl[("shop", "66.249.66.1")] = client(objs, other=1)
        wins.append(cl)
    assert not any(run(det, wins, t0))


def test_a_concentrated_walk_that_keeps_missing_is_caught_whatever_its_ids() -> None:
    rng = random.Random(7)
    det, t0 = warmed(rng)
    wins = []
    for _ in range(10):
        cl = normal_clients(rng)
        objs = [(0, f"/v1/orders/SKU-{rng.randint(10_000, 99_999)}") for _ in range(40)]
        missing = {p for _, p in objs if rng.random() < 0.3}
        cl[("shop", "66.249.66.9")] = client(objs, missing=missing)
        wins.append(cl)
    assert any(x.client == "66.249.66.9" for s in run(det, wins, t0) for x in s)


def test_check_is_pure() -> None:
    det = ObjectEnumerationDetector(DetectorSettings())
    objs = [(0, f"/v1/orders/{k}") for k in range(100)]
    x = ObjectWindow(0.0, 60.0, {("shop", "1.2.3.4"): client(objs)}, KEYS)
    before = dumps(det.snapshot())
    assert det.check(x) == det.check(x) and dumps(det.snapshot()) == before
    det.learn(x)
    assert det.tracked == 1


def test_tracked_walks_and_sketches_stay_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(oe, "MAX_TRACKED", 500)
    det = ObjectEnumerationDetector(DetectorSettings())
    for w in range(3):  # 2,000 clients touching many ids each: only 500 tracked
        cl = {("shop", f"10.9.{c // 250}.{c % 250}"):
              client([(0, f"/v1/orders/{c * 1000 + w * 10 + k}") for k in range(5)])
              for c in range(2000)}
        det.check_window(cl, KEYS, w * 60.0, w * 60.0 + 60)
        assert det.tracked <= 500
    walk = ObjectWalk(0.0)
    for w in range(50):  # 200,000 distinct ids: a sketch of fixed size, no set
        walk.add_window(w * 60.0, [f"/v1/orders/{w * 4000 + k}" for k in range(4000)], 3,
                        4000, ())
    assert walk.ids is None and walk.hll is not None
    assert len(walk.hll) <= (1 << HLL_LG_K) + 64
    assert abs(walk.distinct() - 200_000) < 0.1 * 200_000
    small = ObjectWalk(0.0)
    small.add_window(60.0, [f"/v1/orders/{k}" for k in range(EXACT_CAP)], 3, 10, ())
    assert small.ids is not None and small.distinct() == EXACT_CAP
    # Walks end when idle: after the horizon of silence nothing is tracked.
    det.check_window({}, KEYS, 10_000.0, 10_060.0)
    assert det.tracked == 0


def test_state_round_trips_through_the_snapshot_codec() -> None:
    rng = random.Random(8)
    det, t0 = warmed(rng, hours=2)
    walk = [(0, f"/v1/orders/{90_000 + k}") for k in range(60)]
    det.check_window({("shop", "6.6.6.6"): client(walk)}, KEYS, t0 * 60.0, t0 * 60.0 + 60)
    again = ObjectEnumerationDetector(DetectorSettings())
    again.restore(loads(dumps(det.snapshot())))
    nxt = {("shop", "6.6.6.6"): client([(0, f"/v1/orders/{90_060 + k}") for k in range(60)])}
    x = ObjectWindow(t0 * 60.0 + 60, t0 * 60.0 + 120, nxt, KEYS)
    assert again.check(x) == det.check(x) and det.check(x)
    assert dumps(again.snapshot()) == dumps(det.snapshot())


def test_windows_from_older_snapshots_without_object_slots_are_skipped() -> None:
    det = ObjectEnumerationDetector(DetectorSettings())
    old = {("shop", "1.2.3.4"): [40, 0, 0, None, None, None]}
    assert det.check_window(old, KEYS, 0.0, 60.0) == []


def test_a_scanner_whose_paths_collapse_into_one_route_is_left_to_scanning() -> None:
    rng = random.Random(9)
    det, t0 = warmed(rng)
    wins = []
    for _ in range(3):  # a wordlist: mostly 404, paths the templater folded into /v1/orders/{id}
        cl = normal_clients(rng)
        objs = [(0, f"/v1/orders/word{rng.randint(0, 10**6)}") for _ in range(150)]
        missing = {p for _, p in objs if rng.random() < 0.8}
        cl[("shop", "52.93.244.93")] = client(objs, missing=missing)
        wins.append(cl)
    assert not any(run(det, wins, t0))


def test_a_top_level_placeholder_is_no_object_route() -> None:
    det = ObjectEnumerationDetector(DetectorSettings())
    keys = [SeriesKey("shop", "GET", "/{id}")]
    objs = [(0, f"/{k}") for k in range(300)]  # sequential, but folded junk, not objects
    assert det.check_window({("shop", "1.2.3.4"): client(objs)}, keys, 0.0, 60.0) == []
    assert det.tracked == 0


def test_a_scanner_whose_kept_404_paths_are_capped_still_counts_as_failing() -> None:
    det = ObjectEnumerationDetector(DetectorSettings())
    objs = [(0, f"/v1/orders/word{k}") for k in range(600)]
    kept = {p for _, p in objs[:256]}  # the client window keeps 256 missing paths
    st = client(objs, missing=kept)
    st[2] = 540  # but counts every 404
    assert det.check_window({("shop", "1.2.3.4"): st}, KEYS, 0.0, 60.0) == []


def test_misses_are_judged_against_what_the_route_answers_its_clients() -> None:
    rng = random.Random(10)
    det = ObjectEnumerationDetector(DetectorSettings())

    def missing_clients() -> Clients:  # a route that answers 404 to 6 % of clients' reads
        cl = normal_clients(rng)
        for ck, st in cl.items():
            gone = {p for _, p in st[6] or () if rng.random() < 0.06}
            cl[ck] = client(st[6] or [], other=st[0] - len(st[6] or ()), missing=gone)
        return cl

    for i in range(180):
        det.check_window(missing_clients(), KEYS, i * 60.0, i * 60.0 + 60)
    assert det.miss_floor(0) > 0.1

    def heavy(miss: float, t0: int) -> bool:
        wins = []
        for _ in range(10):
            cl = missing_clients()
            objs = [(0, f"/v1/orders/SKU-{rng.randint(10_000, 99_999)}") for _ in range(60)]
            cl[("shop", "10.7.7.7")] = client(objs, missing={p for _, p in objs
                                                              if rng.random() < miss})
            wins.append(cl)
        return any(x.client == "10.7.7.7" for s in run(det, wins, t0) for x in s)

    assert not heavy(0.07, 180)  # concentrated, but missing as the route's clients do
    assert heavy(0.35, 200)  # guessing


def test_the_walk_of_a_client_attacking_is_left_to_its_attack_incident() -> None:
    rng = random.Random(12)
    det, t0 = warmed(rng)
    fuzzer, walker = ("shop", "198.51.100.7"), ("shop", "203.0.113.9")
    sigs = []
    for i in range(12):  # both walk 60 fresh ids a window; the fuzzer also sends payloads
        cl = normal_clients(rng)
        cl[fuzzer] = client([(0, f"/v1/orders/{50_000 + 60 * i + k}") for k in range(60)])
        cl[walker] = client([(0, f"/v1/orders/{80_000 + 60 * i + k}") for k in range(60)])
        # The payload detector remembers an attacker for a few windows only: the walk
        # stays the attack's after that.
        attackers = {fuzzer} if i < 3 else set()
        sigs.append(det.check_window(cl, KEYS, (t0 + i) * 60.0, (t0 + i + 1) * 60.0,
                                     attackers=attackers))
    raised = {s.client for window in sigs for s in window}
    assert raised == {"203.0.113.9"}
    # Held walks teach the route nothing and survive a snapshot.
    again = ObjectEnumerationDetector(DetectorSettings())
    again.restore(loads(dumps(det.snapshot())))
    assert dumps(again.snapshot()) == dumps(det.snapshot())


def test_a_version_1_snapshot_restores_with_no_held_walk() -> None:
    det = ObjectEnumerationDetector(DetectorSettings())
    old = {"v": 1, "data": {"walks": {}, "tracked": {}, "normal": {}}}
    det.restore(old)
    assert det.snapshot()["data"]["held"] == set()


def test_before_the_route_is_learned_a_few_misses_are_no_guessing() -> None:
    rng = random.Random(13)
    det = ObjectEnumerationDetector(DetectorSettings())  # nothing learned yet

    def walk(who: str, miss: float, t: int) -> list[Signal]:
        objs = [(0, f"/v1/orders/{rng.randint(100_000, 3_600_000)}") for _ in range(61)]
        missing = {p for _, p in objs[: round(miss * len(objs))]}
        return det.check_window({("shop", who): client(objs, missing=missing)}, KEYS,
                                t * 60.0, t * 60.0 + 60)

    # A reconciliation job reading 61 random orders, 2 of them gone: what clients get.
    assert walk("10.7.0.1", 0.033, 0) == []
    # A walk guessing ids misses far more often.
    assert [s.client for s in walk("203.0.113.9", 0.12, 1)] == ["203.0.113.9"]
