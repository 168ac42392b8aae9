"""RequestAnalyzer: signatures, learned profiles and the batch model, for one request or many.

A signature hit at the configured paranoia makes an ``attack_payload`` finding.
Otherwise a request with a query or body is parsed and compared with its
route's profile and, when a trained model is loaded, scored by the batch model;
the two combine as a noisy-OR, and at or above ``threshold`` the request is an
``unusual_payload``. Requests without a query or body only take the signature
check of their path and User-Agent, both cached: that is most traffic. A field
longer than one signature scan window is scanned whole all the same and is an
``unusual_payload`` of its own (a size anomaly: padding buys an attacker
nothing), or adds its reason to the attack found in it.

>>> from detector.events import AccessEvent
>>> a = RequestAnalyzer()
>>> ev = AccessEvent(0.0, "shop", None, "GET", "/search", "q=1'+UNION+SELECT+password+FROM+users--",
...                  200, None, None, "10.0.0.1", "curl/8", None, None, "a.log", 1)
>>> f = a.analyze(ev, "/search")
>>> f.kind, f.attack_types
('attack_payload', ('sqli',))
>>> a.analyze(ev._replace(query="q=red+shoes"), "/search") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from detector.analysis.batch_model import RequestForest
from detector.analysis.features import (
    FEATURE_NAMES,
    SIG_BUCKETS,
    RequestRow,
    feature_matrix,
    schema,
    sig_buckets,
)
from detector.analysis.params import Param, parse_request
from detector.analysis.profiles import Assessment, ProfileStore
from detector.analysis.signatures import SignatureEngine, SignatureHit
from detector.events import AccessEvent
from detector.kinds import Kind
from detector.memo import Memo, size_of
from detector.models.registry import ModelRegistry, RegistryError
from detector.routes.templater import RouteTemplater

__all__ = [
    "ATTACK",
    "MODEL_NAME",
    "PROFILES_FILE",
    "ROUTES_FILE",
    "UNUSUAL",
    "Finding",
    "RequestAnalyzer",
]

MODEL_NAME = "request"
PROFILES_FILE = "profiles.json"
ROUTES_FILE = "routes.state"
ATTACK: Final[Kind] = "attack_payload"
UNUSUAL: Final[Kind] = "unusual_payload"
_PARANOIA_SCORE = {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6}
_CACHE_MAX = 65_536
_CACHE_BYTES = 8 << 20  # per memo: keys are request text, as long as a client likes
_NO_HITS = (0,) * len(SIG_BUCKETS)
_NONE: list[SignatureHit] = []  # shared "no hits": never mutated
_MATURE = -1  # learning budget of a route past its warm-up whose sample is full
# Plain integer and UUID path segments (as the templater's shortcut): linear, no nesting.
_PLAIN_IDS = re.compile(
    r"/(?:\d{1,20}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?=/|$)"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """Why one request looks bad; ``score`` is higher = more anomalous, in [0, 1]."""

    kind: Kind  # ATTACK or UNUSUAL
    score: float
    attack_types: tuple[str, ...]
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...]


@dataclass(slots=True)
class _Pending:
    """A payload request between profile assessment and model scoring."""

    ev: AccessEvent
    route: str
    profile_score: float
    reasons: tuple[str, ...]
    row: RequestRow | None  # only with a model (the features it scores)
    params: list[Param]


_QUIET = Finding(UNUSUAL, 0.0, (), (), ())  # frozen: shared by every request scoring 0
# A field beyond the scan window: no legitimate client sends 64 Ki characters of query,
# path or User-Agent (servers refuse URLs of a few KB), so it is anomalous on its face.
_OVERSIZED_SCORE = 0.9


def _attack(hits: Sequence[SignatureHit]) -> Finding:
    rules = tuple(dict.fromkeys(h.rule_id for h in hits))
    cats = tuple(dict.fromkeys(h.category for h in hits))
    base = _PARANOIA_SCORE.get(min(h.paranoia for h in hits), 0.6)
    score = min(0.99, base + 0.03 * (len(rules) - 1))
    reasons = tuple(dict.fromkeys(f"{h.category} in {h.location} ({h.rule_id})" for h in hits))
    return Finding(ATTACK, round(score, 4), cats, reasons[:5], rules)


class RequestAnalyzer:
    """Per-request findings from signatures + profiles + (optional) batch model."""

    def __init__(
        self,
        *,
        signatures: SignatureEngine | None = None,
        profiles: ProfileStore | None = None,
        model: RequestForest | None = None,
        templater: RouteTemplater | None = None,
        threshold: float = 0.5,
        paranoia: int = 2,
        learn_online: bool = False,
        version: str | None = None,
    ) -> None:
        self.signatures = (signatures if signatures is not None
                           else SignatureEngine.default(paranoia=paranoia))
        self.profiles = profiles if profiles is not None else ProfileStore()  # empty is falsy
        self.model = model
        self.templater = templater
        self.threshold = threshold
        self.learn_online = learn_online
        self.learn_per_route = 32  # online learning: requests per route per batch
        self.version = version
        self._path_hits: Memo[str, list[SignatureHit]] = Memo(_CACHE_MAX, _CACHE_BYTES)
        self._ua_hits: Memo[str, list[SignatureHit]] = Memo(_CACHE_MAX, _CACHE_BYTES)
        self._query_hits: Memo[str, list[SignatureHit]] = Memo(_CACHE_MAX, _CACHE_BYTES)
        self._body_hits: Memo[str, list[SignatureHit]] = Memo(_CACHE_MAX, _CACHE_BYTES)
        # (query, body) -> (hits in query then body, parse_request(query, body)): pure
        # functions of the payload, memoised (payloads repeat a lot). The lists are
        # shared: nothing downstream may mutate them.
        self._payloads: Memo[tuple[str, str | None], tuple[list[SignatureHit], list[Param]]] = (
            Memo(_CACHE_MAX, _CACHE_BYTES))
        # (service, method, route, query) of body-less requests -> parsed params, assessment,
        # longest value; valid while the profiles do not change (cleared by learn()).
        # (service, method, route, query, body) -> parsed params, assessment, longest
        # value. Only with fixed profiles: while profiles learn online a cached
        # assessment would depend on when it was cached, and a pipeline restored
        # from a checkpoint (empty cache) must decide exactly as one that never
        # stopped.
        self._assessed: Memo[
            tuple[str, str, str, str, str | None], tuple[list[Param], Assessment, int]
        ] = Memo(_CACHE_MAX, _CACHE_BYTES)

    @property
    def profiles(self) -> ProfileStore:
        """The route profiles; replacing them (a checkpoint restore) drops cached assessments."""
        return self._profiles

    @profiles.setter
    def profiles(self, store: ProfileStore) -> None:
        self._profiles = store
        self._assessed = Memo(_CACHE_MAX, _CACHE_BYTES)

    @classmethod
    def from_registry(
        cls,
        models_dir: str | Path,
        *,
        name: str = MODEL_NAME,
        version: str | None = None,
        paranoia: int = 2,
        threshold: float = 0.5,
        learn_online: bool | None = None,
    ) -> RequestAnalyzer:
        """The current (or given) version's profiles, model and route templates.

        Without any published version: signatures only, and profiles learned
        online from the requests analysed (``learn_online``, default True then;
        pass False when the caller feeds :meth:`learn` itself).
        """
        reg = ModelRegistry(models_dir)
        if version is None and reg.current(name) is None:
            return cls(
                paranoia=paranoia,
                threshold=threshold,
                learn_online=True if learn_online is None else learn_online,
            )
        loaded = reg.load(name, version)
        want = schema()
        got = loaded.card.get("feature_schema")
        model = loaded.model
        if model is not None:
            if got != want:
                raise RegistryError(
                    f"{name}/{loaded.version}: feature schema "
                    f"{(got or {}).get('version')} does not match this "
                    f"detector's ({want['version']}); retrain"
                )
            if not isinstance(model, RequestForest):
                raise RegistryError(f"{name}/{loaded.version}: not a request model")
        try:
            blob = loaded.artifacts.get(PROFILES_FILE)
            profiles = ProfileStore.load_state(blob) if blob else None
            blob = loaded.artifacts.get(ROUTES_FILE)
            templater = RouteTemplater.load_state(blob) if blob else None
        except ValueError as exc:
            raise RegistryError(f"{name}/{loaded.version}: {exc}") from None
        return cls(
            profiles=profiles,
            model=model,
            templater=templater,
            threshold=threshold,
            paranoia=paranoia,
            learn_online=bool(learn_online),
            version=loaded.version,
        )

    # -- signatures -------------------------------------------------------------------------

    def _cached(
        self, cache: Memo[str, list[SignatureHit]], text: str, location: str
    ) -> list[SignatureHit]:
        hits = cache.get(text)
        if hits is None:
            hits = self.signatures.scan_text(text, location) if text else []
            if len(text) <= 2048:
                cache.put(text, hits, size_of(text))
        return hits

    def signature_hits(self, ev: AccessEvent) -> list[SignatureHit]:
        """Hits over path, query, body and User-Agent (path and UA results cached)."""
        path = ev.path
        if len(path) <= 512:  # ids carry no payload: '/users/42' and '/users/43' scan alike
            path = _PLAIN_IDS.sub("/0", path)
        hits = self._path_hits.get(path)
        if hits is None:
            hits = self._cached(self._path_hits, path, "path")
        ua = self._ua_hits.get(ev.user_agent)
        if ua is None:
            ua = self._cached(self._ua_hits, ev.user_agent, "user_agent")
        if not (ev.query or ev.body):
            return hits + ua if ua else hits
        qb = self._payload(ev.query, ev.body)[0]
        return hits + qb + ua

    def _payload(self, query: str, body: str | None) -> tuple[list[SignatureHit], list[Param]]:
        """(hits in the query then the body, parsed parameters), memoised for short payloads."""
        key = (query, body)
        got = self._payloads.get(key)
        if got is None:
            # API queries repeat a lot (pagination, filters), bodies too: both cached
            q = self._cached(self._query_hits, query, "query") if query else _NONE
            b = self._cached(self._body_hits, body, "body") if body else _NONE
            got = (q + b if q and b else q or b, parse_request(query, body))
            if len(query) + len(body or "") <= 1024:
                # The parameters are as long as the payload again.
                self._payloads.put(key, got, 2 * size_of(query, body))
        return got

    # -- learning ---------------------------------------------------------------------------

    def learn(self, ev: AccessEvent, route: str) -> None:
        """Add one (presumed normal) request to its route's profile."""
        params = self._payload(ev.query, ev.body)[1] if (ev.query or ev.body) else []
        self.profiles.learn(ev.service, ev.method, route, params)
        if self._assessed:
            self._assessed.clear()  # profiles changed: cached assessments are stale

    # -- analysis ---------------------------------------------------------------------------

    def _prepare(self, ev: AccessEvent, route: str, params: list[Param]) -> _Pending:
        """``params`` is ``parse_request(ev.query, ev.body)``."""
        key = None
        if not self.learn_online and len(ev.query) + len(ev.body or "") <= 1024:
            key = (ev.service, ev.method, route, ev.query, ev.body)
            hit = self._assessed.get(key)
            if hit is not None:
                params, a, longest = hit
                return _Pending(
                    ev, route, a.score, a.reasons, self._row(ev, params, a, longest), params
                )
        a = self.profiles.assess(ev.service, ev.method, route, params)
        if key is None and self.model is None:  # no features to build
            return _Pending(ev, route, a.score, a.reasons, None, params)
        longest = max((len(v) for _, v, _ in params), default=0)
        if key is not None:
            self._assessed.put(key, (params, a, longest),
                               2 * size_of(ev.service, route, ev.query, ev.body))
        return _Pending(ev, route, a.score, a.reasons, self._row(ev, params, a, longest), params)

    def _row(
        self, ev: AccessEvent, params: list[Param], a: Assessment, longest: int
    ) -> RequestRow | None:
        """The model's feature inputs (None without a model: nothing scores them)."""
        if self.model is None:
            return None
        return RequestRow(
            ev.path, ev.query, ev.body, len(params), longest, (a.score, *a.components), _NO_HITS
        )

    def _finish(
        self,
        p: _Pending,
        model_score: float | None,
        x: np.ndarray[Any, np.dtype[np.float64]] | None,
    ) -> Finding:
        score = p.profile_score
        reasons = p.reasons
        if model_score is not None:
            score = 1.0 - (1.0 - score) * (1.0 - model_score)
            if model_score >= 0.5 and self.model is not None and x is not None:
                names = [FEATURE_NAMES[i] for i in self.model.explain(x)]
                why = f" ({', '.join(names)})" if names else ""
                reasons = (*reasons, f"model: unusual request shape{why}")
        return Finding(UNUSUAL, round(score, 4), (), reasons, ())

    def analyze(self, ev: AccessEvent, route: str) -> Finding | None:
        """The finding for one request, or None when it looks normal."""
        return self.analyze_many([ev], [route])[0]

    def analyze_many(
        self, events: Sequence[AccessEvent], routes: Sequence[str]
    ) -> list[Finding | None]:
        """Findings for many requests; the model scores all payload requests in one call."""
        t = self.threshold
        return [
            f if f is not None and (f.kind == ATTACK or f.score >= t) else None
            for f in self._run(events, routes)
        ]

    def findings(
        self, events: Sequence[AccessEvent], routes: Sequence[str]
    ) -> list[Finding | None]:
        """Attack findings, and unusual-payload findings whatever their score (None: no
        payload and no signature); :meth:`to_verdict` decides what is flagged."""
        return self._run(events, routes)

    def to_verdict(self, f: Finding | None) -> dict[str, Any]:
        """The scan verdict of one finding from :meth:`findings`."""
        return _verdict(f, self.threshold)

    def _run(self, events: Sequence[AccessEvent], routes: Sequence[str]) -> list[Finding | None]:
        out: list[Finding | None] = [None] * len(events)
        pending: list[tuple[int, _Pending]] = []
        # A route's profile converges after a few hundred requests: learning a
        # bounded sample per route and call (one window in the pipeline) keeps it
        # current at a fraction of the cost on busy routes.
        budget: dict[tuple[str, str, str], int] = {}
        budget_empty: dict[tuple[str, str, str], int] = {}  # requests without parameters
        cap = self.learn_per_route
        learn = self.learn_online
        # signature_hits() inline, sharing the payload memo with the parse
        path_hits = self._path_hits
        ua_hits = self._ua_hits
        payloads = self._payloads
        plain_ids = _PLAIN_IDS.sub
        wide = self.signatures.max_field_chars  # beyond this a field is scanned in windows
        for i, ev in enumerate(events):
            path = ev.path
            if len(path) > wide or len(ev.query) > wide or len(ev.user_agent) > wide or (
                ev.body is not None and len(ev.body) > wide
            ):
                out[i] = self._oversized(ev)
                continue
            if len(path) <= 512:  # ids carry no payload: '/users/42' and '/users/43' alike
                path = plain_ids("/0", path)
            hits = path_hits.get(path)
            if hits is None:
                hits = self._cached(path_hits, path, "path")
            ua = ua_hits.get(ev.user_agent)
            if ua is None:
                ua = self._cached(ua_hits, ev.user_agent, "user_agent")
            query = ev.query
            body = ev.body
            if query or body:
                got = payloads.get((query, body))
                if got is None:
                    got = self._payload(query, body)
                qb, params = got
                if hits or qb or ua:
                    out[i] = _attack(hits + qb + ua)
                else:
                    pending.append((i, self._prepare(ev, routes[i], params)))
            elif hits or ua:
                out[i] = _attack(hits + ua)
            elif learn:
                key = (ev.service, ev.method, routes[i])
                used = budget_empty.get(key, 0)
                if used != _MATURE and (used < cap or self._young(key)):
                    budget_empty[key] = used + 1
                    self.profiles.learn(ev.service, ev.method, routes[i], [])
                elif used != _MATURE:  # a profile never gets young again: ask once a batch
                    budget_empty[key] = _MATURE
        if not pending:
            return out
        if self.model is None:
            for i, p in pending:  # _finish(p, None, None), sharing the commonest finding
                s = p.profile_score
                if s == 0.0 and not p.reasons:
                    out[i] = _QUIET
                else:
                    out[i] = Finding(UNUSUAL, round(s, 4), (), p.reasons, ())
        else:
            X = feature_matrix([p.row for _, p in pending if p.row is not None])
            scores = self.model.score_samples(X)
            for j, (i, p) in enumerate(pending):
                out[i] = self._finish(p, float(scores[j]), X[j])
        if learn:  # online profiles never learn from what they flag
            t = self.threshold
            for i, p in pending:
                f = out[i]
                if f is None or f.score < t:
                    key = (p.ev.service, p.ev.method, p.route)
                    used = budget.get(key, 0)
                    if used != _MATURE and (used < cap or self._young(key)):
                        budget[key] = used + 1
                        self.profiles.learn(p.ev.service, p.ev.method, p.route, p.params)
                    elif used != _MATURE:
                        budget[key] = _MATURE
        return out

    def _oversized(self, ev: AccessEvent) -> Finding:
        """The finding of a request with a field beyond the scan window (never learned)."""
        sizes = self.signatures.oversized(
            {"path": ev.path, "query": ev.query, "body": ev.body, "user_agent": ev.user_agent}
        )
        hits = self.signature_hits(ev)  # uncached beyond 2 KB: every window is scanned
        if hits:
            f = _attack(hits)
            return Finding(ATTACK, f.score, f.attack_types, (*f.reasons[:4], sizes[0]),
                           f.rule_ids)
        return Finding(UNUSUAL, _OVERSIZED_SCORE, (), tuple(sizes), ())

    def _young(self, key: tuple[str, str, str]) -> bool:
        """A profile still being established learns every request, not a sample."""
        return self.profiles.history(*key) < 4 * self.profiles.min_history

    def verdict(self, ev: AccessEvent, route: str) -> dict[str, Any]:
        """Score and verdict for every request (``detector scan --all``)."""
        return self.verdicts([ev], [route])[0]

    def verdicts(
        self, events: Sequence[AccessEvent], routes: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Verdicts for many requests, including the score of unflagged ones."""
        return [_verdict(f, self.threshold) for f in self._run(events, routes)]

    def profile_features(self, ev: AccessEvent, route: str) -> RequestRow:
        """The feature row of one request against the current profiles (training)."""
        params = parse_request(ev.query, ev.body)
        a = self.profiles.assess(ev.service, ev.method, route, params)
        cats = [h.category for h in self.signature_hits(ev)]
        return RequestRow(
            ev.path,
            ev.query,
            ev.body,
            len(params),
            max((len(v) for _, v, _ in params), default=0),
            (a.score, *a.components),
            sig_buckets(cats),
        )


def _verdict(f: Finding | None, threshold: float) -> dict[str, Any]:
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
