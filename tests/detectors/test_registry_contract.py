"""The contract of every registered detector, found by itself (river's estimator checks).

The registry (``DETECTORS``) is walked, and every module of ``detector/detectors``
is imported: a class there that follows the detector protocol but is not
registered fails. For each detector: ``check`` gives the same answer twice and
changes no state (a full dump of the detector and of the state passed in, before
and after), ``learn`` is what changes state and returns None, signals are
well-formed (a kind of the detector's ``kinds`` and of CONTRACTS.md §3), and two
fresh instances fed the same stream agree exactly.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import random
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, get_type_hints

import pytest
from pydantic import BaseModel

import detector.detectors
from detector.analysis.findings import Finding
from detector.config import DetectorSettings
from detector.detectors.base import (
    ClientWindow,
    Detector,
    EndpointWindow,
    FindingsWindow,
    MemoryDetector,
    SeriesKey,
    SeriesWindow,
    Signal,
    WindowDetector,
)
from detector.detectors.object_enumeration import ObjectWindow
from detector.detectors.registry import DETECTORS, SERIES, build
from detector.events import AccessEvent
from detector.kinds import KINDS
from detector.windows.stats import (
    BYTES,
    COUNT,
    HIST,
    NB_BYTES,
    S4XX,
    S5XX,
    SAUTH,
    TIMED,
    V_5XX,
    V_COUNT,
    V_HIST,
    V_TIMED,
    VER0,
    VERS,
    bisect_bounds,
    new_series_stats,
    new_version_stats,
    size_bucket,
)

S = DetectorSettings(warmup_windows=20, new_endpoint_learning_windows=5)


# ---- a full dump of state, to see any change -------------------------------------------
def dump(o: Any) -> Any:
    if o is None or isinstance(o, (str, int, bool)):
        return o
    if isinstance(o, float):
        return repr(o)  # nan-safe, exact
    if isinstance(o, BaseModel):
        return ("model", type(o).__name__, dump(o.model_dump()))
    if isinstance(o, dict):
        return ("dict", [(dump(k), dump(v)) for k, v in o.items()])
    if isinstance(o, deque):
        return ("deque", o.maxlen, [dump(x) for x in o])
    if isinstance(o, (list, tuple)):
        return (type(o).__name__, [dump(x) for x in o])
    if isinstance(o, (set, frozenset)):
        return (type(o).__name__, sorted(repr(dump(x)) for x in o))
    fields: dict[str, Any] = dict(getattr(o, "__dict__", {}))
    for cls in type(o).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(o, name):
                fields[name] = getattr(o, name)
    return (type(o).__name__, [(k, dump(v)) for k, v in sorted(fields.items())])


# ---- input streams, one per family / input type ----------------------------------------
KEY = SeriesKey("svc", "GET", "/r/{id}")


def _series(i: int, rng: random.Random, n: int, s5xx: int, s4xx: int, sauth: int,
            lat: float, size: float = 1200.0, deploy: float | None = None,
            ) -> SeriesWindow:  # fmt: skip
    st = new_series_stats()
    st[COUNT], st[S5XX], st[S4XX], st[SAUTH], st[TIMED] = n, s5xx, s4xx, sauth, n
    for _ in range(n):
        st[HIST][bisect_bounds(lat * rng.lognormvariate(0, 0.3))] += 1
    st[VER0] = "1.0"
    ok = n - s5xx - s4xx - sauth
    if ok > 0:  # 2xx response sizes, from a stream of their own (the others stay as they were)
        sizes = random.Random(i)
        st[BYTES] = [0] * NB_BYTES
        for _ in range(ok):
            st[BYTES][size_bucket(int(size * sizes.lognormvariate(0, 0.4)))] += 1
    return SeriesWindow(KEY, i * 60.0, i * 60.0 + 60.0, st, 1.0, deploy, 5 * n)


def _canary(i: int, rng: random.Random) -> SeriesWindow:
    """A normal window of which 20 requests come from a newer version failing half of them."""
    w = _series(i, rng, 200, 10, 0, 0, 0.05)
    v = new_version_stats()
    v[V_COUNT], v[V_5XX], v[V_TIMED] = 20, 10, 10
    v[V_HIST][bisect_bounds(0.05)] = 10
    w.stats[VERS] = {"1.1": v}
    return w


def series_stream(seed: int) -> Iterator[SeriesWindow]:
    """Normal windows, then every kind of route anomaly, a partial window and silence."""
    rng = random.Random(seed)
    i = 0
    for _ in range(50):
        n = max(0, int(rng.gauss(200, 14)))
        yield _series(i, rng, n, int(rng.random() < 0.5), rng.randint(0, 3), rng.randint(0, 4),
                      0.05)  # fmt: skip
        i += 1
    bad = [(1500, 0, 0, 0, 0.05), (3, 0, 0, 0, 0.05), (200, 40, 0, 0, 0.05), (200, 0, 70, 0, 0.05),
           (200, 0, 0, 0, 0.2), (200, 0, 0, 90, 0.05), (0, 0, 0, 0, 0.05)]  # fmt: skip
    for args in bad:
        for _ in range(3):
            yield _series(i, rng, *args)
            i += 1
    for _ in range(8):  # a canary version beside the old one
        yield _canary(i, rng)
        i += 1
    deploy = i * 60.0 + 20.0  # a release whose answers are six times larger
    for _ in range(5):
        yield _series(i, rng, 200, 0, 0, 0, 0.05, size=7200.0, deploy=deploy)
        i += 1
    # A route refusing 15 % of its requests, then a deploy after which it refuses none
    # and they succeed (authorization_drift).
    for k in range(40):
        deploy = None if k < 25 else i * 60.0 - (k - 25) * 60.0
        w = _series(i, rng, 200, 0, 0, 30 if k < 25 else 0, 0.05)
        yield w._replace(deploy=deploy)
        i += 1
    w = _series(i, rng, 90, 0, 0, 0, 0.05)
    yield w._replace(coverage=0.4)


def _ev(client: str, path: str, status: int, query: str = "") -> AccessEvent:
    return AccessEvent(0.0, "shop", None, "GET", path, query, status, 0.01, 10, client, "ua",
                       None, None, "f", 1)  # fmt: skip


def client_stream(seed: int) -> Iterator[ClientWindow]:
    """Normal clients, a credential stuffer, a fast and a slow scanner.

    Client windows: [requests, 401/403, 404, {route: failures}, samples, missing paths]
    (the layout of ``C_*`` in detector.windows.stats)."""
    rng = random.Random(seed)
    for i in range(40):
        clients: dict[tuple[str, str], list[Any]] = {}
        for c in range(20):
            clients[("shop", f"10.0.0.{c}")] = [rng.randint(5, 50), rng.randint(0, 1), 0, None,
                                                None, None]  # fmt: skip
        if 10 <= i < 20:
            fails = rng.randint(20, 120)
            clients[("shop", "6.6.6.1")] = [fails + 2, fails, 0, {"/login": fails},
                                            [_ev("6.6.6.1", "/login", 401)], None]  # fmt: skip
        if i % 3 == 0:
            paths = {f"/p{i}-{k}" for k in range(rng.randint(2, 45))}
            clients[("shop", "6.6.6.2")] = [len(paths) + 1, 0, len(paths), None,
                                            [_ev("6.6.6.2", "/p", 404)], paths]  # fmt: skip
        if i % 2 == 0:
            paths = {f"/slow{i}-{k}" for k in range(8)}
            clients[("web", "6.6.6.3")] = [9, 0, 8, None, None, paths]
        yield ClientWindow(i * 60.0, i * 60.0 + 60.0, clients)


def findings_stream(seed: int) -> Iterator[FindingsWindow]:
    """A heavy attacker, a campaign spread over many clients, unusual requests, probes."""
    rng = random.Random(seed)
    sqli = Finding("attack_payload", 0.9, ("sqli",), ("sqli-tautology",), ("r1",))
    odd = Finding("unusual_payload", 0.7, (), ("unknown parameter",), ())
    probe = Finding("attack_payload", 0.6, ("sensitive_file",), ("env file",), ("r9",))
    for i in range(30):
        found: list[tuple[AccessEvent, str, Finding]] = []
        if 5 <= i < 12:
            found += [(_ev("6.6.6.6", "/s", 200, "q='or'1"), "/s", sqli)] * rng.randint(1, 12)
        for c in range(rng.randint(0, 8)):
            found.append((_ev(f"7.7.7.{c}", "/search", 200, "q=<script>"), "/search", sqli))
        for c in range(rng.randint(0, 4)):
            found.append((_ev(f"8.8.8.{c % 2}", "/items/{id}", 200, "zz=1"), "/items/{id}", odd))
        if i % 4 == 0:
            found.append((_ev("6.6.6.7", "/.env", 404), "/.env", probe))
        scanners = {("shop", "7.7.7.1")} if i % 5 == 0 else set()
        yield FindingsWindow(i * 60.0, i * 60.0 + 60.0, found, scanners)


def endpoint_stream(det: Any, seed: int) -> Iterator[EndpointWindow]:
    """Routes born during and after the learning period, some that only fail."""
    rng = random.Random(seed)
    det.service_seen("pay", 0)
    old = SeriesKey("pay", "GET", "/v1/items/red")
    keys = [SeriesKey("pay", "GET", f"/v2/new{k}") for k in range(3)]
    keys.append(SeriesKey("pay", "GET", "/v1/items/{id}"))  # a generalisation: not new
    for k, key in enumerate(keys):
        det.series_born(key, 3 + 3 * k, [old])
    for w in range(3, 40):
        for k, key in enumerate(keys):
            n = rng.randint(0, 15)
            ok = n if k != 2 else 0  # the third one only fails: a probe, not an endpoint
            yield EndpointWindow(key, w, w * 60.0, w * 60.0 + 60.0, n, ok, [])


def object_stream(seed: int) -> Iterator[ObjectWindow]:
    """Clients reading a few orders each, and one walking order ids one by one.

    Client windows carry (series id, raw path) of id-bearing requests in ``C_OBJ``."""
    rng = random.Random(seed)
    keys = [SeriesKey("shop", "GET", "/v1/orders/{id}"), SeriesKey("shop", "GET", "/v1/x/{id}")]
    nxt = 5000
    for i in range(40):
        clients: dict[tuple[str, str], list[Any]] = {}
        for c in range(20):
            objs = [(rng.randint(0, 1), f"/v1/orders/{rng.randint(1, 10**6)}")
                    for _ in range(rng.randint(0, 5))]
            clients[("shop", f"10.0.0.{c}")] = [len(objs) + 2, 0, 0, None, None, None,
                                                objs or None]  # fmt: skip
        if 10 <= i < 25:
            objs = [(0, f"/v1/orders/{nxt + k}") for k in range(rng.randint(10, 40))]
            nxt += len(objs)
            clients[("shop", "6.6.6.4")] = [len(objs), 0, 0, None, None, None, objs]
        yield ObjectWindow(i * 60.0, i * 60.0 + 60.0, clients, keys)


STREAMS: dict[type, Callable[[Any, int], Iterator[Any]]] = {
    ClientWindow: lambda det, seed: client_stream(seed),
    FindingsWindow: lambda det, seed: findings_stream(seed),
    EndpointWindow: endpoint_stream,
    ObjectWindow: lambda det, seed: object_stream(seed),
}


# ---- running a detector through its stream, checking at every step ----------------------
def run(det: Detector, seed: int, pure: bool = True) -> list[Any]:
    """Feed the detector its stream; with ``pure``, verify at each step that
    checking changes nothing and that learning returns None. Returns every
    step's signals and the final state dump."""
    out: list[Any] = []
    learned = False
    if isinstance(det, WindowDetector):  # state per series, passed in
        state = det.new_state()
        for win in series_stream(seed):
            before = dump((det, state)) if pure else None
            sig = det.check(state, win)
            if pure:
                assert det.check(state, win) == sig
                assert dump((det, state)) == before, "check changed the state"
            assert det.learn(state, win, sig is not None) is None
            learned = learned or (pure and dump((det, state)) != before)
            out.append([sig] if sig is not None else [])
        out.append(dump(state))
    else:
        x_type = get_type_hints(type(det).check)["x"]
        assert x_type in STREAMS, f"no input stream for {x_type.__name__}: add one to STREAMS"
        for x in STREAMS[x_type](det, seed):
            before = dump(det) if pure else None
            sigs = det.check(x)
            if pure:
                assert det.check(x) == sigs
                assert dump(det) == before, "check changed the detector"
            assert det.learn(x) is None
            learned = learned or (pure and dump(det) != before)
            out.append(sigs)
    out.append(dump(det))
    assert learned or not pure, "learning never changed any state"
    return out


names = pytest.mark.parametrize("name", sorted(DETECTORS))


@names
def test_check_is_pure_and_learning_explicit(name: str) -> None:
    det = DETECTORS[name](S)
    assert isinstance(det, Detector)
    assert isinstance(det, (WindowDetector, MemoryDetector))
    run(det, seed=1)


@names
def test_signals_are_well_formed_and_some_are_raised(name: str) -> None:
    det = DETECTORS[name](S)
    assert det.kinds and set(det.kinds) <= set(KINDS)
    sigs = [s for step in run(det, seed=2, pure=False)[:-2] for s in step]
    assert sigs, f"{name} raised nothing on a stream built to trigger it"
    for s in sigs:
        assert isinstance(s, Signal)
        assert s.kind in det.kinds
        assert isinstance(s.service, str) and s.service
        assert s.route is not None or s.client is not None  # route- or client-keyed
        assert s.start < s.end
        assert 0.0 <= s.score <= 1.0 and 0.0 <= s.p_value <= 1.0
        assert isinstance(s.requests, int) and s.requests >= 0
        assert isinstance(s.extra, dict) and isinstance(s.samples, list)
        assert all(isinstance(e, AccessEvent) for e in s.samples)


@names
def test_two_fresh_instances_agree(name: str) -> None:
    assert run(DETECTORS[name](S), seed=3, pure=False) == run(DETECTORS[name](S), seed=3,
                                                                pure=False)  # fmt: skip


def _protocol_classes() -> set[type]:
    """Every class of detector/detectors/* that follows the protocol (check and learn)."""
    found: set[type] = set()
    pkg = detector.detectors
    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        module = importlib.import_module(mod.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or getattr(cls, "_is_protocol", False):
                continue
            if callable(getattr(cls, "check", None)) and callable(getattr(cls, "learn", None)):
                found.add(cls)
    return found


def test_every_detector_class_is_registered() -> None:
    registered = {type(make(S)) for make in DETECTORS.values()}
    found = _protocol_classes()
    assert len(found) >= 7
    missing = sorted(c.__qualname__ for c in found - registered)
    assert not missing, f"detector classes missing from DETECTORS: {missing}"


def test_the_pipeline_builds_every_registered_detector() -> None:
    d = build(S)
    built = {id(x) for x in (*d.series, d.client_auth, d.scanner, d.payload, d.new_endpoint,
                             d.object_enum)}
    assert len(built) == len(DETECTORS) and d.series[0] is d.traffic
    assert [type(x) for x in d.series] == [type(DETECTORS[n](S)) for n in SERIES]
