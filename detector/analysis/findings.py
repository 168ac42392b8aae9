"""What request analysis says about a request: a :class:`Finding`, and its scan verdict.

``attack_payload`` findings come from signature hits (:func:`attack_finding`),
``unusual_payload`` ones from profiles and the batch model; :func:`scan_verdict` is the
JSON object ``detector scan`` writes for one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from detector.analysis.signatures import SignatureHit
from detector.kinds import Kind

__all__ = ["ATTACK", "OVERSIZED_SCORE", "QUIET", "UNUSUAL", "Finding", "attack_finding",
           "scan_verdict"]

ATTACK: Final[Kind] = "attack_payload"
UNUSUAL: Final[Kind] = "unusual_payload"
_PARANOIA_SCORE = {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6}
# A field beyond the scan window: no legitimate client sends 64 Ki characters of query,
# path or User-Agent (servers refuse URLs of a few KB), so it is anomalous on its face.
OVERSIZED_SCORE = 0.9


@dataclass(frozen=True, slots=True)
class Finding:
    """Why one request looks bad; ``score`` is higher = more anomalous, in [0, 1].

    >>> Finding(UNUSUAL, 0.7, (), ("amount: value 10x the route's largest",), ()).kind
    'unusual_payload'
    """

    kind: Kind  # ATTACK or UNUSUAL
    score: float
    attack_types: tuple[str, ...]
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...]
    # evidence by detector part (profile components, "model", "method", "resource",
    # "header"...), each its weight in [0, 1]: what explains the score
    parts: tuple[tuple[str, float], ...] = ()


QUIET = Finding(UNUSUAL, 0.0, (), (), ())  # frozen: shared by every request scoring 0


def attack_finding(hits: Sequence[SignatureHit]) -> Finding:
    """The ``attack_payload`` finding of a request's signature hits (at least one)."""
    rules = tuple(dict.fromkeys(h.rule_id for h in hits))
    cats = tuple(dict.fromkeys(h.category for h in hits))
    base = _PARANOIA_SCORE.get(min(h.paranoia for h in hits), 0.6)
    score = min(0.99, base + 0.03 * (len(rules) - 1))
    reasons = tuple(dict.fromkeys(f"{h.category} in {h.location} ({h.rule_id})" for h in hits))
    return Finding(ATTACK, round(score, 4), cats, reasons[:5], rules)


def scan_verdict(f: Finding | None, threshold: float) -> dict[str, Any]:
    """The scan verdict of a finding (None: no payload and no signature).

    >>> scan_verdict(None, 0.5)["flagged"]
    False
    >>> scan_verdict(Finding(UNUSUAL, 0.6, (), (), ()), 0.5)["kind"]
    'unusual_payload'
    """
    if f is None:
        return {
            "score": 0.0,
            "flagged": False,
            "kind": None,
            "attack_type": None,
            "reasons": [],
            "rule_ids": [],
        }
    flagged = f.kind == ATTACK or f.score >= threshold
    return {
        "score": f.score,
        "flagged": flagged,
        "kind": f.kind if flagged else None,
        "attack_type": f.attack_types[0] if f.attack_types else None,
        "reasons": list(f.reasons),
        "rule_ids": list(f.rule_ids),
    }
