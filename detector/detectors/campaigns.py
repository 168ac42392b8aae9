"""One campaign, one incident: client-keyed signals of a distributed attack folded by route.

A credential-stuffing botnet, a distributed scan or an object walk shared by
many clients is one attack: paging once per participating client (or once
per window, as clients come and go) buries it. This step runs after every
detector, before incident grouping. Per (service, kind, route) it decides
whether the window holds a campaign (many participating clients, none of
them dominant, confirmed by a route-level signal or by several client
signals, or a campaign on that route in the last :data:`HOLD` windows that
still has many participants), and if so:

* the client-keyed signals of that route are dropped (their clients are
  participants, named in the evidence),
* the route-level signal carries the participants (``campaign`` in extra),
* a window where the route-level test dips under its threshold while the
  campaign goes on gets a route-keyed signal all the same, so the incident
  lasts as long as the campaign instead of resolving and reopening.

A client alone (credential stuffing from one address) is no campaign: its
client-keyed incident stays.

The 4xx and 5xx surges a campaign's own requests cause on its route (a payload
campaign answered 400/422/500, stuffing met by rate limiting) are dropped here
too (:mod:`status_echoes`): one campaign, one incident.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from detector.detectors.base import Signal, score_from_p
from detector.detectors.status_echoes import StatusEchoes
from detector.kinds import Kind
from detector.state.component import stamp, unstamp
from detector.windows.stats import C_404, C_AUTH, C_COUNT, C_ROUTES, C_SCANPATHS

HOLD = 10  # windows a campaign stays open for without a route-level signal
MIN_CLIENTS = 10  # participating clients (in a window) that make a campaign
MIN_CLIENT_SIGNALS = 3  # or this many client-keyed signals of one route in one window
TOP_SHARE = 0.5  # a client holding this share of the failures is one attacker, not a crowd
USUAL_FACTOR = 4.0  # a campaign holds while participants stay this far above usual
USUAL_DECAY = 0.05  # per window, of the usual number of participants per route
MAX_USUAL = 20_000  # routes whose usual participants are tracked
MAX_ACTIVE = 2_000  # campaigns remembered at once
SEEN_CAP = 5_000  # distinct participants counted per campaign (a lower bound beyond)
EXAMPLES = 5
SCAN_ROUTE = "/{path}"  # distributed scans probe paths no route serves: keyed by service
SCAN_MIN_PATHS = 30  # distinct missing paths probed by the crowd in one window
SCAN_MIN_SHARE = 0.5  # of a prober's requests that are 404s

CampaignKey = tuple[str, Kind, str]  # service, kind, route


class CampaignWindow(NamedTuple):
    """One closed window: the detectors' signals, client counters and route totals.

    ``routes`` maps (service, route) to (requests, 401/403) summed over methods.
    """

    start: float
    end: float
    signals: list[Signal]
    clients: dict[tuple[str, str], list[Any]]
    routes: dict[tuple[str, str], tuple[int, int]]
    # The clients with 401/403s or missing paths, in window order, when the caller
    # already found them (pipeline.client_subsets): the only ones that participate.
    suspects: dict[tuple[str, str], list[Any]] | None = None


def _participants(clients: dict[tuple[str, str], list[Any]]
                  ) -> dict[CampaignKey, dict[str, int]]:
    """{(service, kind, route): {client: its hits}} from one window's client counters."""
    out: dict[CampaignKey, dict[str, int]] = {}
    for (svc, client), cs in clients.items():
        if cs[C_AUTH]:
            for route, n in (cs[C_ROUTES] or {}).items():
                out.setdefault((svc, "auth_failure_burst", route), {})[client] = n
        paths = cs[C_SCANPATHS]
        if paths and len(paths) >= 2 and cs[C_404] >= SCAN_MIN_SHARE * cs[C_COUNT]:
            out.setdefault((svc, "scanning", SCAN_ROUTE), {})[client] = len(paths)
    return out


def _suspects(x: CampaignWindow) -> dict[tuple[str, str], list[Any]]:
    """The clients :func:`_participants` needs to see: the window's own, or all of them."""
    return x.suspects if x.suspects is not None else x.clients


def _key_of(s: Signal) -> CampaignKey:
    """The campaign a signal would belong to: scans are keyed by service alone."""
    return s.service, s.kind, SCAN_ROUTE if s.kind == "scanning" else (s.route or "")


def _drop_echoes(signals: list[Signal]) -> list[Signal]:
    """Without the route-level signals one client's own signal already explains.

    One client hammering a login route also lifts the route's failure share: the
    client-keyed incident names the attacker, a second, route-keyed one for the
    same attack would page twice.
    """
    mine = {(s.service, s.kind, s.route): s.observed for s in signals
            if s.client is not None and s.kind == "auth_failure_burst"}
    if not mine:
        return list(signals)
    out = []
    for s in signals:
        if s.client is None and s.kind == "auth_failure_burst":
            hits = s.extra.get("hits")
            alone = mine.get((s.service, s.kind, s.route))
            if alone is not None and isinstance(hits, int) and alone >= TOP_SHARE * hits:
                continue
        out.append(s)
    return out


def _scan_paths(clients: dict[tuple[str, str], list[Any]], svc: str,
                crowd: dict[str, int]) -> set[str]:
    union: set[str] = set()
    for client in crowd:
        union |= clients[(svc, client)][C_SCANPATHS]
    return union


class CampaignFold:
    """Folds the client-keyed signals of a distributed campaign into one route-keyed signal.

    >>> from detector.windows.stats import new_client_stats
    >>> fold = CampaignFold()
    >>> clients = {}
    >>> for i in range(40):
    ...     cs = new_client_stats(); cs[1] = 2; cs[3] = {"/login": 2}
    ...     clients[("shop", f"10.0.0.{i}")] = cs
    >>> route_sig = Signal(kind="auth_failure_burst", service="shop", route="/login",
    ...     method="POST", client=None, start=0.0, end=60.0, score=0.9, observed=0.6,
    ...     baseline=0.05, requests=130, p_value=1e-12, extra={}, samples=[])
    >>> x = CampaignWindow(0.0, 60.0, [route_sig], clients, {("shop", "/login"): (130, 80)})
    >>> out = fold.fold(x)
    >>> len(out), out[0].extra["campaign"]["clients"]
    (1, 40)
    """

    kinds: tuple[Kind, ...] = ("auth_failure_burst", "scanning", "object_enumeration")

    def __init__(self) -> None:
        # (service, kind, route) -> [last window end, participants seen (sorted, capped),
        #                            method and baseline of its route signal, examples]
        self._active: dict[CampaignKey, list[Any]] = {}
        # (service, kind, route) -> usual participants per window (decayed mean)
        self._usual: dict[CampaignKey, float] = {}
        self.echoes = StatusEchoes()  # the status surges of routes under a campaign

    def fold_window(self, x: CampaignWindow) -> list[Signal]:
        """The pipeline's step for one closed window: :meth:`fold`, then :meth:`remember`.

        A step after the detectors, not a detector: :meth:`fold` is pure like a
        detector's ``check``, :meth:`remember` the only change of state.
        """
        crowds = _participants(_suspects(x))  # one pass over the clients serves both steps
        found = self._campaigns(x, crowds)
        out = self.echoes.drop(self._fold(x, found), x.start, x.end, x.routes)
        self._remember(x, found, crowds)
        self.echoes.remember(x.signals, x.start, x.end)
        return out

    # ---- deciding ----
    def _campaigns(self, x: CampaignWindow, crowds: dict[CampaignKey, dict[str, int]]
                   ) -> dict[CampaignKey, dict[str, int]]:
        """The (service, kind, route) holding a campaign in this window, with participants
        (``crowds``: the window's :func:`_participants`)."""
        route_sigs = {(s.service, s.kind, s.route) for s in x.signals
                      if s.client is None and s.route and s.kind in self.kinds}
        client_sigs: dict[CampaignKey, dict[str, int]] = {}
        for s in x.signals:
            if s.client is not None and s.kind in self.kinds:
                client_sigs.setdefault(_key_of(s), {})[s.client] = int(s.observed)
        found: dict[CampaignKey, dict[str, int]] = {}
        for key in sorted(set(crowds) | set(client_sigs)):
            crowd = dict(crowds.get(key, {}))
            for c, n in client_sigs.get(key, {}).items():
                crowd.setdefault(c, n)
            if self._is_campaign(x, key, crowd, key in route_sigs, len(client_sigs.get(key, {}))):
                found[key] = crowd
        return found

    def _is_campaign(self, x: CampaignWindow, key: CampaignKey, crowd: dict[str, int],
                     route_signal: bool, client_signals: int) -> bool:
        if client_signals >= MIN_CLIENT_SIGNALS:
            return True
        total = sum(crowd.values())
        if len(crowd) < MIN_CLIENTS or not total or max(crowd.values()) >= TOP_SHARE * total:
            return False
        crowded = len(crowd) >= USUAL_FACTOR * self._usual.get(key, 0.0)
        if route_signal:
            return True
        held = self._active.get(key)
        if held is not None and x.end - held[0] <= HOLD * (x.end - x.start) and crowded:
            return True
        if key[1] == "scanning" and crowded:
            # A crowd of clients each probing a few missing paths: a scan no client's
            # own count reveals.
            return len(_scan_paths(x.clients, key[0], crowd)) >= SCAN_MIN_PATHS
        return False

    def fold(self, x: CampaignWindow) -> list[Signal]:
        """The window's signals with each campaign's client-keyed signals folded into one."""
        out = self._fold(x, self._campaigns(x, _participants(_suspects(x))))
        return self.echoes.drop(out, x.start, x.end, x.routes)

    def _fold(self, x: CampaignWindow, found: dict[CampaignKey, dict[str, int]]) -> list[Signal]:
        signals = [self._tail(x, s) for s in _drop_echoes(x.signals)]
        if not found:
            return signals
        folded: dict[CampaignKey, int] = {}
        for s in x.signals:
            key = _key_of(s)
            if s.client is not None and key in found:
                folded[key] = folded.get(key, 0) + 1
        out: list[Signal] = []
        routed: set[CampaignKey] = set()
        for s in signals:
            key = _key_of(s)
            if key not in found:
                out.append(s)
            elif s.client is None and key not in routed:
                routed.add(key)
                ev = self._evidence(x, key, found[key], folded.get(key, 0))
                out.append(replace(s, extra={**s.extra, "campaign": ev}))
        for key in sorted(found):
            if key not in routed:
                out.append(self._carry(x, key, found[key], folded.get(key, 0)))
        return out

    def _tail(self, x: CampaignWindow, s: Signal) -> Signal:
        """A route-level signal of a campaign that just thinned out keeps its participants."""
        key = _key_of(s)
        held = self._active.get(key)
        if s.client is not None or held is None or x.end - held[0] > HOLD * (x.end - x.start):
            return s
        return replace(s, extra={**s.extra, "campaign": {
            "clients": 0, "clients_seen": len(held[1]), "examples": list(held[4]),
            "client_signals_folded": 0}})

    def _evidence(self, x: CampaignWindow, key: CampaignKey, crowd: dict[str, int],
                  folded: int) -> dict[str, Any]:
        held = self._active.get(key)
        seen = set(held[1]) if held is not None and x.end - held[0] <= HOLD * (x.end - x.start) \
            else set()
        for c in sorted(crowd):
            if len(seen) >= SEEN_CAP:
                break
            seen.add(c)
        top = sorted(crowd, key=lambda c: (-crowd[c], c))[:EXAMPLES]
        what = "paths" if key[1] == "scanning" else "failures"
        ev: dict[str, Any] = {
            "clients": len(crowd),
            what: sum(crowd.values()),
            "clients_seen": len(seen),
            "examples": [{"client": c, what: crowd[c]} for c in top],
            "client_signals_folded": folded,
        }
        if key[1] == "scanning":
            ev["example_paths"] = sorted(_scan_paths(x.clients, key[0], crowd))[:EXAMPLES]
        return ev

    def _carry(self, x: CampaignWindow, key: CampaignKey, crowd: dict[str, int],
               folded: int) -> Signal:
        """A route-keyed signal for a campaign window the route-level test did not flag."""
        svc, kind, route = key
        held = self._active.get(key)
        method = held[2] if held is not None else None
        baseline = float(held[3]) if held is not None else 0.0
        hits = sum(crowd.values())
        n, k = x.routes.get((svc, route), (0, 0))
        evidence = self._evidence(x, key, crowd, folded)
        if kind == "auth_failure_burst" and n:
            observed = round(k / n, 4)
        else:
            observed = float(hits if kind != "scanning" else evidence.get("paths", hits))
        p = min(1.0, 10.0 ** (-len(crowd) / 5))
        extra: dict[str, Any] = {"campaign": evidence, "window_seconds": x.end - x.start}
        if kind == "scanning":
            paths = evidence["example_paths"]
            extra.update(distinct_missing_paths=len(_scan_paths(x.clients, svc, crowd)),
                         distinct_missing_paths_recent=len(_scan_paths(x.clients, svc, crowd)),
                         example_paths=paths)
        return Signal(kind=kind, service=svc, route=route, method=method, client=None,
                      start=x.start, end=x.end, score=score_from_p(p), observed=observed,
                      baseline=baseline, requests=n or len(crowd), p_value=p, extra=extra,
                      samples=[])

    # ---- learning ----
    def remember(self, x: CampaignWindow) -> None:
        """Remember this window's campaigns, and the usual crowd of the routes without one."""
        crowds = _participants(_suspects(x))
        self._remember(x, self._campaigns(x, crowds), crowds)
        self.echoes.remember(x.signals, x.start, x.end)

    def _remember(self, x: CampaignWindow, found: dict[CampaignKey, dict[str, int]],
                  crowds: dict[CampaignKey, dict[str, int]]) -> None:
        size = x.end - x.start
        for key in [k for k, v in self._active.items() if x.end - v[0] > HOLD * size]:
            del self._active[key]
        for key, crowd in found.items():
            held = self._active.get(key)
            if held is None:
                if len(self._active) >= MAX_ACTIVE:
                    continue
                held = self._active[key] = [x.end, [], None, 0.0, []]
            held[0] = x.end
            seen = set(held[1])
            for c in sorted(crowd):
                if len(seen) >= SEEN_CAP:
                    break
                seen.add(c)
            held[1] = sorted(seen)
            held[4] = self._evidence(x, key, crowd, 0)["examples"]
            for s in x.signals:
                if s.client is None and (s.service, s.kind, s.route) == key:
                    held[2], held[3] = s.method, s.baseline
        usual = self._usual
        for key in list(usual):
            if key not in crowds and key not in found:
                usual[key] *= 1.0 - USUAL_DECAY
                if usual[key] < 0.05:
                    del usual[key]
        for key, crowd in crowds.items():
            if key in found:
                continue  # a campaign never becomes the usual crowd
            if key in usual:
                usual[key] += USUAL_DECAY * (len(crowd) - usual[key])
            elif len(usual) < MAX_USUAL:
                usual[key] = USUAL_DECAY * len(crowd)

    # ---- state (detector.state.component) ----
    STATE_VERSION = 2  # 2: the status echoes' routes (1: none remembered)

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, {"active": self._active, "usual": self._usual,
                                          "echoes": self.echoes.snapshot()})

    def restore(self, data: Any) -> None:
        st = unstamp(data, self.STATE_VERSION, {1: lambda d: {**d, "echoes": {}}}, "campaigns")
        self._active, self._usual = st["active"], st["usual"]
        self.echoes.restore(st["echoes"])
