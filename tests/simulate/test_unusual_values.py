"""The unusual-payload simulator's absurd values and odd encodings carry no attack signature.

An unusual payload is, by the contract, one with no known signature: a value the
signature engine recognises as an attack string (overlong UTF-8, the 2**63
overflow probe) makes the detector report an ``attack_payload`` that the label
calls ``unusual_payload``, and the evaluation counts one campaign as a miss and
a false incident. The engine here is the detector's own, with its packaged rules.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from detector.analysis.signatures import SignatureEngine
from detector.simulate.anomalies.unusual_payload import _absurd, _odd

VALUES: tuple[object, ...] = (1490, 25, "shoes", "pm_48d324fabd", "2026-03-14", "succeeded")


@pytest.fixture(scope="module")
def engine() -> SignatureEngine:
    return SignatureEngine.default()


def test_odd_query_encodings_are_no_attack_strings(engine: SignatureEngine) -> None:
    rng = np.random.default_rng(7)
    seen: set[str] = set()
    for v in VALUES:
        for _ in range(40):
            q = str(_odd(v, "query", rng))
            seen.add(q)
            assert engine.scan_text(f"page=2&limit={q}", "query") == [], q
    assert any("%ED%A0%80" in q for q in seen) and any("%00" in q for q in seen)


def test_absurd_values_are_no_attack_strings(engine: SignatureEngine) -> None:
    rng = np.random.default_rng(11)
    seen: set[str] = set()
    for v in VALUES:
        for _ in range(40):
            body = _absurd("amount", v, "body", rng)
            query = _absurd("amount", v, "query", rng)
            seen.add(str(body))
            assert engine.scan_text(orjson.dumps({"amount": body}).decode(), "body") == []
            assert engine.scan_text(f"amount={query}", "query") == []
    assert str(10**19) in seen and str(2**63) not in seen
