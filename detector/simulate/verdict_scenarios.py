"""The release-verdict acceptance scenarios of issue 13: simulated deploys and their verdicts.

Each scenario is one service, two to three hours of its previous version,
then a deploy of version V (in ``deployments.jsonl`` and as ``service.version``
on the events) and 45-60 minutes of traffic with the scenario's effect.
``generate(out, split)`` writes ``out/<scenario>/access.log``,
``deployments.jsonl`` and ``expected.json`` (``service``, ``version``,
``verdict`` pass|fail|inconclusive, ``route``, acceptable ``checks``,
``effect`` in words, and the drawn parameters).

Both splits hold the same list of scenarios (names and effects); ``tune`` and
``heldout`` draw times, routes and strengths from different seeds, so that an
engine tuned on one is reported on the other. Everything is seeded: the same
split gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import orjson

from detector.simulate.catalog import (
    ACCOUNTS,
    CATALOG,
    ORDERS,
    PARTNERS,
    PAYMENTS,
    SEARCH,
    RouteSpec,
    ServiceSpec,
)
from detector.simulate.verdict_build import Case, build
from detector.simulate.verdict_effects import (
    CanaryClean,
    CanaryErrors,
    CanaryLatency,
    DailyGrowth,
    ErrorSurge,
    LatencyShift,
    LowTraffic,
    LowTrafficBroken,
    ReleaseEffect,
    SlowerEverywhere,
)
from detector.simulate.verdict_real import RealCase, build_real
from detector.simulate.verdict_security import (
    DebugEndpoint,
    Injection,
    OldClientsBroken,
    OrdinaryEndpoint,
    PermissionsLoosened,
    SizeTripled,
)

SPLITS = ("tune", "heldout")
_SPLIT_BASE = {"tune": 13_000, "heldout": 23_000}

EFFECTS: dict[str, ReleaseEffect] = {e.name: e for e in (
    ReleaseEffect(), ErrorSurge(), LatencyShift(), OldClientsBroken(), DebugEndpoint(),
    Injection(), PermissionsLoosened(), SizeTripled(), CanaryErrors(), CanaryLatency(),
    CanaryClean(), SlowerEverywhere(), OrdinaryEndpoint(), DailyGrowth(), LowTraffic(),
    LowTrafficBroken())}

R = RouteSpec
# Quiet services (a few requests a minute at most): three routes each.
PARTNERS_QUIET = replace(PARTNERS, routes=PARTNERS.routes[:3], low_traffic=True)
LEDGER = ServiceSpec(
    "ledger", "otel", 0.04, "0.9.4", zipf=0.8, p5xx=0.002, low_traffic=True,
    routes=(R("GET", "/v1/ledgers/{id}/entries", 40, query="list", q_prob=0.5,
              bytes_median=4000),
            R("POST", "/v1/ledgers/{id}/entries", 120, body="capture", p422=0.01),
            R("GET", "/v1/ledgers/{id}", 20, p404=0.01)),
)
_MORNING = (4.5, 6.0)  # first request: the deploy lands on the morning ramp

SYNTHETIC: tuple[Case, ...] = (
    Case("errors-payments", "error_surge", PAYMENTS, "otel", 8.0),
    Case("errors-orders", "error_surge", ORDERS, "envoy", 12.0),
    Case("errors-catalog", "error_surge", CATALOG, "nginx_json", 20.0),
    Case("latency-search", "latency_shift", SEARCH, "envoy", 10.0),
    Case("latency-accounts", "latency_shift", ACCOUNTS, "otel_nested", 8.0),
    Case("latency-payments", "latency_shift", PAYMENTS, "otel", 30.0),
    Case("oldclients-catalog", "old_clients_broken", CATALOG, "otel", 10.0),
    Case("oldclients-orders", "old_clients_broken", ORDERS, "nginx_json", 8.0),
    Case("debug-orders", "debug_endpoint", ORDERS, "otel", 8.0),
    Case("debug-accounts", "debug_endpoint", ACCOUNTS, "otel", 6.0),
    Case("injection-payments", "injection", PAYMENTS, "otel", 10.0),
    Case("injection-catalog", "injection", CATALOG, "nginx_json", 12.0),
    Case("injection-search", "injection", SEARCH, "envoy", 8.0),
    Case("authz-orders", "permissions_loosened", ORDERS, "otel", 10.0),
    Case("authz-accounts", "permissions_loosened", ACCOUNTS, "nginx_json", 8.0),
    Case("size-catalog", "size_tripled", CATALOG, "otel", 10.0),
    Case("size-accounts", "size_tripled", ACCOUNTS, "envoy", 6.0),
    Case("canary-errors-payments", "canary_errors", PAYMENTS, "otel", 15.0),
    Case("canary-errors-search", "canary_errors", SEARCH, "envoy", 12.0),
    Case("canary-latency-orders", "canary_latency", ORDERS, "otel", 12.0),
    Case("canary-latency-catalog", "canary_latency", CATALOG, "nginx_json", 15.0),
    Case("harmless-payments", "none", PAYMENTS, "otel", 8.0),
    Case("harmless-search", "none", SEARCH, "envoy", 6.0),
    Case("harmless-slower-orders", "latency_5pct", ORDERS, "otel", 10.0),
    Case("harmless-newroute-catalog", "ordinary_endpoint", CATALOG, "otel", 8.0),
    Case("harmless-canary-accounts", "canary_clean", ACCOUNTS, "otel", 10.0),
    Case("growth-payments", "daily_growth", PAYMENTS, "otel", 6.0, _MORNING),
    Case("growth-catalog", "daily_growth", CATALOG, "nginx_json", 8.0, _MORNING),
    Case("lowtraffic-partners", "low_traffic", PARTNERS_QUIET, "nginx_json", 0.04),
    Case("lowtraffic-ledger", "low_traffic", LEDGER, "otel", 0.035),
    Case("lowtraffic-broken-ledger", "low_traffic_broken", LEDGER, "otel", 0.045),
)

_QUIET = ("too little traffic to detect the policy's effect sizes: an honest gate says "
          "inconclusive, never pass")
REAL: tuple[RealCase, ...] = (
    RealCase("real-nasa-none", "nasa", "none", "pass",
             "real NASA-KSC night traffic (~40 requests a minute, falling), nothing changes: "
             "enough requests to judge the service, so pass"),
    RealCase("real-nasa-errors", "nasa", "errors", "fail",
             "real NASA-KSC night traffic; GET /shuttle/countdown/ (~2 requests a minute) "
             "answers 5xx {strength:.0%} of the time after the deploy: dozens of failures "
             "where there were none, so fail",
             "/shuttle/countdown/", "GET /shuttle/countdown/", ("error_share",), (0.25, 0.40)),
    RealCase("real-apache-none", "apache", "none", "inconclusive",
             f"real Apache logs of a personal site (~2 requests a minute), nothing changes: "
             f"{_QUIET}"),
    RealCase("real-apache-errors", "apache", "errors", "inconclusive",
             "real Apache logs (~2 requests a minute); GET / (a few requests in a window) "
             "answers 5xx {strength:.0%} of the time after the deploy: a failure or two "
             f"cannot be told from chance, {_QUIET}",
             "/", None, (), (0.20, 0.30)),
    RealCase("real-openstack-none", "openstack", "none", "inconclusive",
             f"real nova-api requests stretched to 3 h (~5 a minute), nothing changes: {_QUIET}"),
    RealCase("real-openstack-latency", "openstack", "latency", "fail",
             "real nova-api requests stretched to 3 h (~5 a minute); GET /v2/{{id}}/servers/"
             "detail (70 % of them) is x{strength:.2f} slower after the deploy: a hundred "
             "requests each side leave no doubt, so fail",
             "/v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail", "GET /v2/{id}/servers/detail",
             ("latency_p50", "latency_p95"), (2.0, 3.0)),
)

NAMES: tuple[str, ...] = tuple(c.name for c in SYNTHETIC) + tuple(c.name for c in REAL)


def seed_of(split: str, name: str) -> int:
    """The scenario's seed in ``split``: both splits share names, never seeds.

    >>> seed_of("tune", NAMES[0]), seed_of("heldout", NAMES[0])
    (13000, 23000)
    """
    if split not in _SPLIT_BASE:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if name not in NAMES:
        raise ValueError(f"unknown scenario {name!r}")
    return _SPLIT_BASE[split] + NAMES.index(name)


def generate_one(name: str, split: str, out: Path, data_dir: Path | None = None,
                 scale: float = 1.0) -> dict[str, object]:
    """Write scenario ``name`` of ``split`` into ``out`` (its own folder); its expected.json.

    ``scale`` multiplies a simulated service's request rate (tests); the real-log
    scenarios need ``data_dir``, the shared data folder holding ``access_logs/``.
    """
    seed = seed_of(split, name)
    for case in SYNTHETIC:
        if case.name == name:
            expected = build(case, EFFECTS[case.effect], seed, out, scale)
            break
    else:
        if data_dir is None:
            raise ValueError(f"{name} is cut from a real log: give the shared data folder")
        expected = build_real(next(c for c in REAL if c.name == name), data_dir, seed, out)
    expected = {**expected, "split": split}
    (out / "expected.json").write_bytes(orjson.dumps(expected, option=orjson.OPT_INDENT_2))
    return expected


def generate(out: Path, split: str, only: Collection[str] | None = None,
             data_dir: Path | None = None, scale: float = 1.0) -> list[dict[str, object]]:
    """Write the split's scenarios (or ``only`` those) under ``out``; their expected.json.

    Real-log scenarios are left out when ``data_dir`` is None.
    """
    names = [n for n in NAMES if only is None or n in only]
    unknown = sorted(set(only or ()) - set(NAMES))
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)}")
    real = {c.name for c in REAL}
    return [generate_one(n, split, out / n, data_dir, scale) for n in names
            if data_dir is not None or n not in real]
