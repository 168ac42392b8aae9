"""The incident kinds in code are exactly the closed set of CONTRACTS §3."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from detector.incidents.model import Incident
from detector.kinds import KINDS

# CONTRACTS §3, "Kinds (closed set; add one only with a contract change)", in its order.
CONTRACT_KINDS = (
    "traffic_spike",
    "traffic_drop",
    "error_surge",
    "client_error_surge",
    "latency_regression",
    "auth_failure_burst",
    "scanning",
    "attack_payload",
    "unusual_payload",
    "new_endpoint",
    "authorization_drift",
    "data_exposure",
    "object_enumeration",
)

_ROOT = Path(__file__).resolve().parents[1]
# The design documents live beside the checkout (../shared/design), or beside the
# worktrees' parent when the checkout is a worktree.
_CONTRACTS = [p / "shared" / "design" / "CONTRACTS.md" for p in (_ROOT.parent, _ROOT.parent.parent)]


def contract_kinds(text: str) -> tuple[str, ...]:
    """The first column of the kinds table that follows "Kinds (closed set"."""
    section = text[text.index("Kinds (closed set"):]
    rows = re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)
    return tuple(rows)


def test_kinds_are_the_pinned_contract_list() -> None:
    assert KINDS == CONTRACT_KINDS


def test_kinds_match_the_contract_document() -> None:
    found = [p for p in _CONTRACTS if p.is_file()]
    if not found:
        pytest.skip("CONTRACTS.md is not beside this checkout")
    assert contract_kinds(found[0].read_text(encoding="utf-8")) == KINDS


def test_incident_rejects_a_kind_outside_the_set() -> None:
    base = dict(id="inc-1", status="open", severity="high", service="pay", route="/r",
                method="GET", client=None, start="2026-03-17T09:07:00Z",
                end="2026-03-17T09:08:00Z", detected_at="2026-03-17T09:08:30Z", score=0.9,
                summary="s", evidence={}, deployment=None)
    for kind in KINDS:
        inc = Incident.model_validate({**base, "kind": kind})
        assert type(inc.kind) is str  # plain str: state and JSON see the very same value
        assert inc.model_dump(mode="json")["kind"] == kind
    with pytest.raises(ValueError):
        Incident.model_validate({**base, "kind": "eror_surge"})
