"""The few clients of a closed window that the client detectors look at, found in one pass.

A window holds thousands of clients, most with a request or two and nothing to
judge. Scanning, auth failures, campaigns and object enumeration each used to
filter the whole window on their own; one pass here finds every subset, each
in window order (the detectors' outputs and memories depend on that order).
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, NamedTuple

from detector.windows.stats import C_AUTH, C_OBJ, C_SCANPATHS

Clients = dict[tuple[str, str], list[Any]]


class ClientSubsets(NamedTuple):
    """One window's clients by what they did (each dict in window order).

    >>> from detector.windows.stats import new_client_stats
    >>> quiet, failing, walking = new_client_stats(), new_client_stats(), new_client_stats()
    >>> failing[C_AUTH] = 3
    >>> walking[C_OBJ] = [(0, "/v1/orders/1"), (0, "/v1/orders/2")]
    >>> sub = split_clients({("s", "a"): quiet, ("s", "b"): failing, ("s", "c"): walking}, {})
    >>> list(sub.failing), list(sub.probing), list(sub.suspects), list(sub.walkers)
    ([('s', 'b')], [], [('s', 'b')], [('s', 'c')])
    """

    failing: Clients  # with 401/403 answers (auth_failure_burst)
    probing: Clients  # with distinct missing paths (scanning)
    suspects: Clients  # either of the two (campaigns' participants)
    # With id-bearing requests object_enumeration may walk: several, or one of a client
    # it already tracks (a superset of what it judges: it filters again).
    walkers: Clients


def split_clients(clients: Clients, tracked: Container[tuple[str, str]]) -> ClientSubsets:
    """Split a window's client counters (the pipeline's: every slot present) in one pass;
    ``tracked``: the clients object_enumeration already follows."""
    failing: Clients = {}
    probing: Clients = {}
    suspects: Clients = {}
    walkers: Clients = {}
    follows = bool(tracked)  # most windows' single requests need no lookup then
    for ck, st in clients.items():
        if st[C_AUTH] or st[C_SCANPATHS]:
            suspects[ck] = st
            if st[C_AUTH]:
                failing[ck] = st
            if st[C_SCANPATHS]:
                probing[ck] = st
        raw = st[C_OBJ]
        if raw is not None and (raw.__class__ is list or (follows and ck in tracked)):
            walkers[ck] = st
    return ClientSubsets(failing, probing, suspects, walkers)
