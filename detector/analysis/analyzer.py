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

>>> from detector.events import HEADERS, AccessEvent
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

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detector.analysis.batch_model import RequestForest
from detector.analysis.features import (
    FEATURE_NAMES,
    SIG_BUCKETS,
    RequestRow,
    feature_matrix,
    sig_buckets,
)
from detector.analysis.field_scans import CACHE_BYTES, CACHE_MAX, PLAIN_IDS, FieldScans
from detector.analysis.findings import (
    ATTACK,
    OVERSIZED_SCORE,
    QUIET,
    UNUSUAL,
    Finding,
    attack_finding,
    scan_verdict,
)
from detector.analysis.headers import HeaderScans
from detector.analysis.params import Param, parse_request
from detector.analysis.profiles import COMPONENTS, Assessment, ProfileStore, body_kind
from detector.analysis.request_model import MODEL_NAME, load_request_model
from detector.analysis.signatures import SignatureEngine, SignatureHit
from detector.events import HEADERS, AccessEvent
from detector.memo import Memo, size_of
from detector.routes.templater import RouteTemplater

_NO_HITS = (0,) * len(SIG_BUCKETS)
_NONE: list[tuple[float, str, str]] = []  # no evidence (shared: never appended to)
_MATURE = -1  # learning budget of a route past its warm-up whose sample is full
LEARN_EVERY = 4  # a mature route learns in one of this many batches (RequestAnalyzer._learns_now)
# Memoised findings of payload requests (fixed profiles): the corpus of `make bench` has
# 52,589 distinct keys, about 1 KB each (most of it the body).
JUDGED_MAX = 131_072
JUDGED_BYTES = 64 << 20
_JudgedKey = tuple[str, str, str, str, str | None, int, int]


@dataclass(slots=True)
class _Pending:
    """A payload request between profile assessment and model scoring."""

    ev: AccessEvent
    route: str
    profile_score: float
    raw: float  # before the route's calibration: what online calibration records
    parts: tuple[tuple[str, float], ...]
    reasons: tuple[str, ...]
    row: RequestRow | None  # only with a model (the features it scores)
    params: list[Param]


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
        # (service, method, route, query, body, path length, path depth) -> the finding
        # of a payload request with no method/resource/header evidence. Only with fixed
        # profiles (as the assessment memo below); with a model the path's length and
        # depth are its only features the rest of the key does not fix.
        self._judged: Memo[_JudgedKey, Finding] = Memo(JUDGED_MAX, JUDGED_BYTES)
        self.profiles = profiles if profiles is not None else ProfileStore()  # empty is falsy
        self.model = model
        self._judged_model = model  # the model the memoised findings were scored with
        self.templater = templater
        self.threshold = threshold
        self.learn_online = learn_online
        self.learn_per_route = 32  # online learning: requests per route per batch
        self.learn_every = LEARN_EVERY  # ... in one of this many batches, once mature
        # Online learning teaches the resource model too, unless the caller feeds it
        # (the pipeline teaches it each window's route counts: every request, not a sample).
        self.learn_resources = True
        self.version = version
        self.scans = FieldScans(self.signatures)  # memoised signature scans and parses
        self.header_scans = HeaderScans(self.signatures)  # per (name, value), memoised
        # (service, method, route, query, body) -> parsed params, assessment, longest
        # value. Only with fixed profiles: while profiles learn online a cached
        # assessment would depend on when it was cached, and a pipeline restored
        # from a checkpoint (empty cache) must decide exactly as one that never
        # stopped.
        self._assessed: Memo[
            tuple[str, str, str, str, str | None], tuple[list[Param], Assessment, int]
        ] = Memo(CACHE_MAX, CACHE_BYTES)

    @property
    def profiles(self) -> ProfileStore:
        """The route profiles; replacing them (a checkpoint restore) drops cached assessments."""
        return self._profiles

    @profiles.setter
    def profiles(self, store: ProfileStore) -> None:
        self._profiles = store
        self._assessed = Memo(CACHE_MAX, CACHE_BYTES)
        self._judged.clear()

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
        got = load_request_model(models_dir, name, version)
        if got is None:
            return cls(
                paranoia=paranoia,
                threshold=threshold,
                learn_online=True if learn_online is None else learn_online,
            )
        return cls(
            profiles=got.profiles,
            model=got.model,
            templater=got.templater,
            threshold=threshold,
            paranoia=paranoia,
            learn_online=bool(learn_online),
            version=got.version,
        )

    # -- signatures -------------------------------------------------------------------------

    def signature_hits(self, ev: AccessEvent) -> list[SignatureHit]:
        """Hits over path, query, body, User-Agent and request headers (cached where they
        repeat)."""
        hits = self.scans.hits(ev)
        if ev.headers is not None:
            hh = self.header_scans.hits(ev.headers)
            if hh:
                hits = hits + hh
        return hits

    # -- learning ---------------------------------------------------------------------------

    def learn(self, ev: AccessEvent, route: str) -> None:
        """Add one (presumed normal) request to its route's profile."""
        params = self.scans.payload(ev.query, ev.body)[1] if (ev.query or ev.body) else []
        self.profiles.learn(ev.service, ev.method, route, params, body_kind(ev.body))
        self.profiles.resources.learn(ev.service, ev.method, route, ev.path)
        if ev.headers is not None:
            self.profiles.headers.learn(ev.service, ev.headers)
        if self._assessed:
            self._assessed.clear()  # profiles changed: cached assessments are stale
        if self._judged:
            self._judged.clear()

    # -- analysis ---------------------------------------------------------------------------

    def _prepare(self, ev: AccessEvent, route: str, params: list[Param]) -> _Pending:
        """``params`` is ``parse_request(ev.query, ev.body)``."""
        key = None
        if not self.learn_online and len(ev.query) + len(ev.body or "") <= 1024:
            key = (ev.service, ev.method, route, ev.query, ev.body)
            hit = self._assessed.get(key)
            if hit is not None:
                params, a, longest = hit
                return _Pending(ev, route, a.score, a.raw, _parts(a) if a.reasons else (),
                                a.reasons, self._row(ev, params, a, longest), params)
        a = self.profiles.assess(ev.service, ev.method, route, params,
                                 "none" if ev.body is None else body_kind(ev.body))
        if key is None and self.model is None:  # no features to build
            return _Pending(ev, route, a.score, a.raw, _parts(a) if a.reasons else (),
                            a.reasons, None, params)
        longest = max((len(v) for _, v, _ in params), default=0)
        if key is not None:
            self._assessed.put(key, (params, a, longest),
                               2 * size_of(ev.service, route, ev.query, ev.body))
        return _Pending(ev, route, a.score, a.raw, _parts(a) if a.reasons else (),
                        a.reasons, self._row(ev, params, a, longest), params)

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
        parts = p.parts
        if model_score is not None:
            score = 1.0 - (1.0 - score) * (1.0 - model_score)
            parts = (*parts, ("model", round(model_score, 4)))
            if model_score >= 0.5 and self.model is not None and x is not None:
                names = [FEATURE_NAMES[i] for i in self.model.explain(x)]
                why = f" ({', '.join(names)})" if names else ""
                reasons = (*reasons, f"model: unusual request shape{why}")
        return Finding(UNUSUAL, round(score, 4), (), reasons, (), parts)

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
        return scan_verdict(f, self.threshold)

    def _run(self, events: Sequence[AccessEvent], routes: Sequence[str]) -> list[Finding | None]:
        out: list[Finding | None] = [None] * len(events)
        pending: list[tuple[int, _Pending]] = []
        # A route's profile converges after a few hundred requests: learning a
        # bounded sample per route and call (one window in the pipeline) keeps it
        # current at a fraction of the cost on busy routes.
        budget: dict[tuple[str, str, str], int] = {}
        budget_empty: dict[tuple[str, str, str], int] = {}  # requests without parameters
        turns: dict[tuple[str, str, str], bool] = {}  # route -> learns in this batch
        cap = self.learn_per_route
        learn = self.learn_online
        # signature_hits() inline, sharing the payload memo with the parse
        scans = self.scans
        path_hits = scans.path_hits
        ua_hits = scans.ua_hits
        payloads = scans.payloads
        plain_ids = PLAIN_IDS.sub
        wide = self.signatures.max_field_chars  # beyond this a field is scanned in windows
        resources = self.profiles.resources
        res_assess = resources.assess
        known = resources.known
        expects = self.profiles.expects_params
        profile_of = self.profiles.route_profile
        header_hits = self.header_scans.hits
        header_assess = self.profiles.headers.assess
        learn_headers = self.profiles.headers.learn
        learn_res = learn and self.learn_resources
        t = self.threshold
        # Fixed profiles: a payload request's finding is a pure function of _JudgedKey
        # (memoised below). Learning invalidates it.
        judged = self._judged
        if judged and (learn or self._judged_model is not self.model):
            judged.clear()
        self._judged_model = self.model
        by_shape = self.model is not None  # the model reads the path's length and depth
        to_judge: list[tuple[int, _JudgedKey]] = []  # (request, key) to memoise once found
        empties: list[int] = []  # requests without parameters to learn from
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
                hits = scans.scan(path_hits, path, "path")
            ua = ua_hits.get(ev.user_agent)
            if ua is None:
                ua = scans.scan(ua_hits, ev.user_agent, "user_agent")
            heads = ev[HEADERS]
            if heads is not None:  # header signatures count with the user agent's
                hh = header_hits(heads)
                if hh:
                    ua = ua + hh
                hs = header_assess(ev.service, heads)
            else:
                hs = None
            query = ev.query
            body = ev.body
            rkey = (ev.service, ev.method, routes[i])
            rs = _NONE if rkey in known else res_assess(*rkey, ev.path, ev.status)
            if hs:
                rs = rs + hs
            if query or body:
                got = payloads.get((query, body))
                if got is None:
                    got = scans.payload(query, body)
                qb, params = got
                if hits or qb or ua:
                    out[i] = attack_finding(hits + qb + ua)
                elif learn or rs or len(query) + len(body or "") > 1024:
                    p = self._prepare(ev, routes[i], params)
                    pending.append((i, _with_resources(p, rs) if rs else p))
                else:
                    jkey = (*rkey, query, body, *((len(ev.path), ev.path.count("/")) if by_shape
                                                  else (0, 0)))
                    f = judged.get(jkey)
                    if f is not None:
                        out[i] = f
                    else:
                        pending.append((i, self._prepare(ev, routes[i], params)))
                        to_judge.append((i, jkey))
            elif hits or ua:
                out[i] = attack_finding(hits + ua)
            elif (prof := profile_of(rkey)) is not None and prof.params and not prof.bodied \
                    and expects(*rkey):  # its query parameters are missing
                p = self._prepare(ev, routes[i], [])
                pending.append((i, _with_resources(p, rs) if rs else p))
            else:
                f = _resource_finding(rs) if rs else None
                out[i] = f
                if learn and (f is None or f.score < t):
                    empties.append(i)
        # Requests without parameters are learned after the batch's payloads are judged:
        # every request of a batch meets the profile as the batch found it. Learned first,
        # a cold route's parameter-less requests would make its profile look warm and
        # parameter-free, and the same window's usual parameters all read as unknown.
        if not pending:
            if empties:
                self._learn_empty(events, routes, empties, budget_empty, turns, learn_res)
            return out
        if self.model is None:
            for i, p in pending:  # _finish(p, None, None), sharing the commonest finding
                s = p.profile_score
                if s == 0.0 and not p.reasons:
                    out[i] = QUIET
                else:
                    out[i] = Finding(UNUSUAL, round(s, 4), (), p.reasons, (), p.parts)
        else:
            X = feature_matrix([p.row for _, p in pending if p.row is not None])
            scores = self.model.score_samples(X)
            for j, (i, p) in enumerate(pending):
                out[i] = self._finish(p, float(scores[j]), X[j])
        for i, jkey in to_judge:
            f = out[i]
            assert f is not None
            judged.put(jkey, f, size_of(jkey[3], jkey[4]) + _finding_size(f))
        if learn:  # online profiles never learn from what they flag
            for i, p in pending:
                f = out[i]
                if f is None or f.score < t:
                    key = (p.ev.service, p.ev.method, p.route)
                    used = budget.get(key, 0)
                    if used == 0 and not self._learns_now(key, turns):
                        budget[key] = _MATURE
                    elif used != _MATURE and (used < cap or self._young(key)):
                        budget[key] = used + 1
                        self.profiles.calibrate(p.ev.service, p.ev.method, p.route, p.raw)
                        b = p.ev.body
                        self.profiles.learn(p.ev.service, p.ev.method, p.route, p.params,
                                            "none" if b is None else body_kind(b))
                        if learn_res:
                            resources.learn(p.ev.service, p.ev.method, p.route, p.ev.path)
                        if p.ev.headers is not None:
                            learn_headers(p.ev.service, p.ev.headers)
                    elif used != _MATURE:
                        budget[key] = _MATURE
        if empties:
            self._learn_empty(events, routes, empties, budget_empty, turns, learn_res)
        return out

    def _learn_empty(self, events: Sequence[AccessEvent], routes: Sequence[str],
                     which: list[int], budget: dict[tuple[str, str, str], int],
                     turns: dict[tuple[str, str, str], bool], learn_res: bool) -> None:
        """Learn the parameter-less requests ``which`` of a batch, in order, within the
        per-route budget (a young profile learns them all) and the route's turns."""
        cap = self.learn_per_route
        learn = self.profiles.learn
        resources = self.profiles.resources
        learn_headers = self.profiles.headers.learn
        for i in which:
            ev = events[i]
            rkey = (ev.service, ev.method, routes[i])
            used = budget.get(rkey, 0)
            if used == 0 and not self._learns_now(rkey, turns):
                budget[rkey] = _MATURE
            elif used != _MATURE and (used < cap or self._young(rkey)):
                budget[rkey] = used + 1
                learn(ev.service, ev.method, routes[i], [], "none")
                if learn_res:
                    resources.learn(ev.service, ev.method, routes[i], ev.path)
                if ev.headers is not None:
                    learn_headers(ev.service, ev.headers)
            elif used != _MATURE:  # a profile never gets young again: ask once a batch
                budget[rkey] = _MATURE

    def _oversized(self, ev: AccessEvent) -> Finding:
        """The finding of a request with a field beyond the scan window (never learned)."""
        sizes = self.signatures.oversized(
            {"path": ev.path, "query": ev.query, "body": ev.body, "user_agent": ev.user_agent}
        )
        hits = self.signature_hits(ev)  # uncached beyond 2 KB: every window is scanned
        if hits:
            f = attack_finding(hits)
            return Finding(ATTACK, f.score, f.attack_types, (*f.reasons[:4], sizes[0]),
                           f.rule_ids)
        return Finding(UNUSUAL, OVERSIZED_SCORE, (), tuple(sizes), ())

    def _learns_now(self, key: tuple[str, str, str],
                    turns: dict[tuple[str, str, str], bool]) -> bool:
        """Whether the route learns in this batch (``turns``: the batch's answers so far).

        A young profile learns every batch. A mature one (past ``4 * min_history``
        requests) learns in one of every ``learn_every`` batches it is offered: it has
        converged, and learning ``learn_per_route`` of its requests every window (70 %
        of the bench subset's payload requests) cost half as much as assessing them all.
        The count lives in the profile (checkpointed), so a restored pipeline takes the
        same turns."""
        got = turns.get(key)
        if got is None:
            prof = self.profiles.route_profile(key)
            if prof is None or self._young(key):
                got = True
            else:
                prof.turns += 1
                got = prof.turns % self.learn_every == 0
            turns[key] = got
        return got

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
        return [scan_verdict(f, self.threshold) for f in self._run(events, routes)]

    def profile_features(
        self, ev: AccessEvent, route: str, params: list[Param] | None = None
    ) -> RequestRow:
        """The feature row of one request against the current profiles (training);
        ``params``: ``parse_request(ev.query, ev.body)`` when already at hand."""
        if params is None:
            params = parse_request(ev.query, ev.body)
        a = self.profiles.assess(ev.service, ev.method, route, params, body_kind(ev.body))
        cats = [h.category for h in self.signature_hits(ev)]
        return RequestRow(
            ev.path,
            ev.query,
            ev.body,
            len(params),
            max((len(v) for _, v, _ in params), default=0),
            (a.score, *a.components),
            sig_buckets(cats),
            a.raw,
        )


def _finding_size(f: Finding) -> int:
    """Bytes a memoised finding and its key's tuple hold beyond the key's strings (service
    and route strings are shared by many keys; the reasons are the finding's own)."""
    return 280 + sum(60 + len(r) for r in f.reasons) + 100 * len(f.parts)


def _parts(a: Assessment) -> tuple[tuple[str, float], ...]:
    """The profile components that gave evidence, by name (``Finding.parts``)."""
    if not a.reasons:
        return ()
    return tuple((COMPONENTS[i], round(w, 4)) for i, w in enumerate(a.components) if w > 0.0)


def _resource_finding(rs: list[tuple[float, str, str]]) -> Finding:
    """The finding of a request whose only evidence is its method or resource."""
    keep = 1.0
    parts: dict[str, float] = {}
    for w, part, _ in rs:
        keep *= 1.0 - w
        parts[part] = max(parts.get(part, 0.0), round(w, 4))
    reasons = tuple(r for _, _, r in sorted(rs, key=lambda f: -f[0]))[:5]
    return Finding(UNUSUAL, round(1.0 - keep, 4), (), reasons, (), tuple(parts.items()))


def _with_resources(p: _Pending, rs: list[tuple[float, str, str]]) -> _Pending:
    """A payload request's profile evidence with its method/resource evidence added."""
    r = _resource_finding(rs)
    score = 1.0 - (1.0 - p.profile_score) * (1.0 - r.score)
    reasons = (*r.reasons, *p.reasons)[:6]
    return _Pending(p.ev, p.route, score, p.raw, (*p.parts, *r.parts), reasons, p.row, p.params)
