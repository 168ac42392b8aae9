"""Incident kinds: the closed set of CONTRACTS §3, as one type.

``Kind`` is a ``Literal`` rather than a ``StrEnum`` on purpose: kinds travel
as plain ``str`` values through the per-window path and into pipeline state,
whose codec (detector/state/codec.py) encodes exact ``str`` only, and the
incident JSON carries the very same strings. A ``Literal`` costs nothing at
run time while ``mypy --strict`` rejects any string outside the set where a
``Kind`` is expected (assignments, arguments, ``==`` comparisons).

>>> "error_surge" in KINDS, "eror_surge" in KINDS
(True, False)
>>> KINDS[0], len(KINDS)
('traffic_spike', 13)
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Kind = Literal[
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
]

# Every kind, in the contract's order (CLI validation, docs, tests).
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)

