"""The release-verdict scenarios' effects are really in their logs, and only where they belong."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson
import pytest

from detector.decoding import make_decoder, parse_timestamp
from detector.events import AccessEvent
from detector.simulate.verdict_scenarios import generate_one
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow  # nine scenarios simulated and decoded: ~15-30 s

# Simulated at a fifth of their rate (a few tens of thousands of lines each); quiet ones whole.
SCALED = ("errors-orders", "latency-accounts", "oldclients-orders", "debug-accounts",
          "injection-catalog", "authz-orders", "size-accounts", "canary-errors-search",
          "growth-catalog")
WHOLE = ("lowtraffic-broken-ledger", "lowtraffic-partners")
_MARKERS = ("<script", "onerror", "onload", "union", "sleep(", "alert(", "1=1", "waitfor",
            "benchmark(", "select", "' or", "<svg", "<img", "confirm", "prompt(", "javascript:",
            "<iframe", "<body", "<details", "<input", "order by", "autofocus", "extractvalue",
            "pg_sleep", "rlike", "@@version", "||", "'-", "admin'--", "\" or", "' and")



class Scenario(NamedTuple):
    expected: dict[str, Any]
    events: list[AccessEvent]
    folder: Path


def load(folder: Path) -> Scenario:
    """expected.json and the decoded events of one scenario folder (every line must decode)."""
    expected = orjson.loads((folder / "expected.json").read_bytes())
    decoder = make_decoder(expected["format"], "unused")
    events = []
    with open(folder / "access.log", "rb") as f:
        for n, line in enumerate(f, 1):
            ev = decoder.decode(line.rstrip(b"\n"), "access.log", n)
            assert isinstance(ev, AccessEvent), line[:200]
            events.append(ev)
    return Scenario(expected, events, folder)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scenario]:
    root = tmp_path_factory.mktemp("verdict-scenarios")
    out = {}
    for name in (*SCALED, *WHOLE):
        generate_one(name, "tune", root / name, scale=0.2 if name in SCALED else 1.0)
        out[name] = load(root / name)
    return out


def deployed(expected: dict[str, Any]) -> float:
    return parse_timestamp(expected["deployed_at"])


def on_route(events: list[AccessEvent], key: str) -> list[AccessEvent]:
    """Requests of ``METHOD /template`` (every ``{id}`` one path segment)."""
    method, template = key.split(" ", 1)
    parts = template.split("/")

    def fits(path: str) -> bool:
        segs = path.split("/")
        return len(segs) == len(parts) and all(
            p == "{id}" or p == s for p, s in zip(parts, segs, strict=True))

    return [e for e in events if e.method == method and fits(e.path)]


def share(events: list[AccessEvent], statuses: Any) -> float:
    return sum(e.status in statuses for e in events) / max(len(events), 1)


def split(expected: dict[str, Any], events: list[AccessEvent]) -> tuple[list[AccessEvent], ...]:
    """(requests of the previous version, of the released one)."""
    return ([e for e in events if e.version == expected["previous_version"]],
            [e for e in events if e.version == expected["version"]])


def test_each_release_is_published_and_carried_by_its_requests(made: dict[str, Scenario]
                                                                ) -> None:
    for name, (expected, events, folder) in made.items():
        assert {e.service for e in events} == {expected["service"]}, name
        before, after = split(expected, events)
        assert len(before) + len(after) == len(events) and after, name
        at = deployed(expected)
        assert min(e.ts for e in after) >= at - 1.0, name
        assert (max(e.ts for e in events) - at) / 60 >= 44, name
        assert (at - min(e.ts for e in events)) / 3600 >= 1.95, name
        (line,) = (folder / "deployments.jsonl").read_bytes().splitlines()
        event = orjson.loads(line)
        assert (event["type"], event["service.name"], event["service.version"],
                event["timestamp"]) == ("deployment", expected["service"], expected["version"],
                                        expected["deployed_at"]), name
        assert expected["verdict"] in ("pass", "fail", "inconclusive")
        if expected["verdict"] == "fail":
            assert on_route(events, expected["route"]) and expected["checks"], name


def test_an_error_surge_fails_only_the_route_on_the_new_version(made: dict[str, Scenario]
                                                                 ) -> None:
    expected, events, _ = made["errors-orders"]
    route = on_route(events, expected["route"])
    before, after = split(expected, route)
    assert share(before, range(500, 600)) < 0.02
    assert share(after, range(500, 600)) > 0.6 * expected["params"]["share"]
    mine = {(e.source, e.offset) for e in route}
    others = [e for e in events if e.version == expected["version"]
              and (e.source, e.offset) not in mine]
    assert share(others, range(500, 600)) < 0.02


def test_a_latency_shift_multiplies_the_route_median(made: dict[str, Scenario]) -> None:
    expected, events, _ = made["latency-accounts"]
    before, after = split(expected, on_route(events, expected["route"]))
    ratio = (statistics.median(e.duration or 0.0 for e in after)
             / statistics.median(e.duration or 0.0 for e in before))
    assert ratio == pytest.approx(expected["params"]["factor"], rel=0.2)


def test_old_clients_broken_refuses_the_old_build_only(made: dict[str, Scenario]) -> None:
    expected, events, _ = made["oldclients-orders"]
    _, after = split(expected, on_route(events, expected["route"]))
    old = [e for e in after if e.user_agent.startswith("ShopApp/3.")]
    rest = [e for e in after if not e.user_agent.startswith("ShopApp/3.")]
    assert len(old) > 0.15 * len(after)
    assert share(old, (400, 422)) > 0.8 and share(rest, (400, 422)) < 0.05


def test_a_debug_endpoint_serves_only_after_the_deploy(made: dict[str, Scenario]) -> None:
    expected, events, _ = made["debug-accounts"]
    assert expected["route"] == "GET /actuator/env"
    calls = on_route(events, expected["route"])
    assert 8 <= len(calls) <= 30
    assert min(e.ts for e in calls) > deployed(expected) + 60
    assert share(calls, (200,)) == 1.0 and len({e.client for e in calls}) >= 2


def test_an_injection_campaign_starts_with_the_deploy(made: dict[str, Scenario]) -> None:
    expected, events, _ = made["injection-catalog"]

    def payload(e: AccessEvent) -> bool:
        text = unquote(unquote(f"{e.query} {e.body or ''}")).lower().replace("+", " ")
        return any(m in text for m in _MARKERS)

    before, after = split(expected, on_route(events, expected["route"]))
    assert sum(map(payload, before)) <= 2
    assert sum(map(payload, after)) >= 0.8 * expected["params"]["requests"]


def test_permissions_loosened_answers_what_the_previous_version_refused(
        made: dict[str, Scenario]) -> None:
    expected, events, _ = made["authz-orders"]
    denial = int(expected["params"]["status"])
    before, after = split(expected, on_route(events, expected["route"]))
    assert share(before, (denial,)) > 0.6 * expected["params"]["share"]
    assert share(after, (denial,)) < 0.02


def test_sizes_tripled_on_the_route_successes(made: dict[str, Scenario]) -> None:
    expected, events, _ = made["size-accounts"]
    before, after = split(expected, on_route(events, expected["route"]))

    def median(evs: list[AccessEvent]) -> float:
        return statistics.median(e.bytes or 0 for e in evs if e.status and e.status < 300)

    assert median(after) / median(before) == pytest.approx(expected["params"]["factor"],
                                                           rel=0.15)


def test_a_canary_serves_a_tenth_beside_the_old_version_to_the_end(made: dict[str, Scenario]
                                                                   ) -> None:
    expected, events, _ = made["canary-errors-search"]
    assert expected["mode"] == "concurrent"
    at = deployed(expected)
    late = [e for e in events if e.ts >= at]
    new = [e for e in late if e.version == expected["version"]]
    assert 0.07 < len(new) / len(late) < 0.13
    assert max(e.ts for e in late if e.version == expected["previous_version"]) > (
        max(e.ts for e in late) - 60)
    _, canary = split(expected, on_route(events, expected["route"]))
    assert share(canary, range(500, 600)) > 0.6 * expected["params"]["share"]


def test_traffic_grows_through_the_deploy(made: dict[str, Scenario]) -> None:
    expected, events, _ = made["growth-catalog"]
    at = deployed(expected)
    before = sum(at - 1800 <= e.ts < at for e in events)
    after = sum(at <= e.ts < at + 1800 for e in events)
    assert after / before > 1.08


def test_quiet_services_stay_under_five_requests_a_minute(made: dict[str, Scenario]) -> None:
    for name in WHOLE:
        expected, events, _ = made[name]
        per_10min = Counter(int(e.ts // 600) for e in events)
        assert max(per_10min.values()) <= 60, name
        assert expected["requests_per_minute"] <= 5.0
    expected, events, _ = made["lowtraffic-broken-ledger"]
    assert expected["verdict"] == "fail"
    _, after = split(expected, on_route(events, expected["route"]))
    assert share(after, range(500, 600)) > 0.3


@pytest.mark.skipif(not (SHARED_DATA / "access_logs").is_dir(),
                    reason="shared data absent (set DETECTOR_SHARED_DATA)")
def test_real_logs_keep_their_requests_and_get_the_effect(tmp_path: Path) -> None:
    for name in ("real-nasa-errors", "real-openstack-latency"):
        generate_one(name, "heldout", tmp_path / name, SHARED_DATA)
    expected, events, _ = load(tmp_path / "real-nasa-errors")
    assert len(events) >= 9_900
    before, after = split(expected, on_route(events, "GET /shuttle/countdown/"))
    assert share(before, range(500, 600)) == 0.0
    assert share(after, range(500, 600)) > 0.6 * expected["params"]["strength"]
    expected, events, _ = load(tmp_path / "real-openstack-latency")
    span = max(e.ts for e in events) - min(e.ts for e in events)
    assert span == pytest.approx(3 * 3600, rel=0.01)
    before, after = split(expected, on_route(events, expected["route"]))
    ratio = (statistics.median(e.duration or 0.0 for e in after)
             / statistics.median(e.duration or 0.0 for e in before))
    assert ratio == pytest.approx(expected["params"]["strength"], rel=0.25)
