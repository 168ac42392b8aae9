"""Per-request analysis of a closed window's candidates, in one batch.

The pipeline queues a request for analysis when it has a query or a body, a
user agent not yet found harmless for its service, or an odd path. Flagged
requests are taken out of their route's counts: the route's health (errors,
latency) is judged on legitimate traffic, and attack traffic is reported as
what it is.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from detector.detectors.base import SeriesKey
from detector.detectors.payload import is_probe
from detector.events import AccessEvent
from detector.state.component import stamp, unstamp
from detector.state.snapshot import SnapshotError
from detector.windows.stats import COUNT, S4XX, S5XX, S404, SAMPLES, SAUTH, scan_path

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.analysis.findings import Finding

# Header values that request analysis must see: the syntax injection needs (expression
# lookups, markup, quotes, traversal, encoded quotes and line breaks, shellshock's
# function definition). No nested quantifiers: linear on attacker input.
_ODD_HEADER = re.compile(r"\$\{|<[a-zA-Z/!?]|['`]|\.\./|%(?:2[27]|3[cCeE]|0[0aAdD])|[\x00-\x08\r\n]"
                         r"|\(\)\s*\{")
_odd_memo: dict[tuple[tuple[str, str], ...], bool] = {}


def odd_headers(headers: tuple[tuple[str, str], ...]) -> bool:
    """Whether any header value carries syntax worth analysing (memoised: headers repeat).

    >>> odd_headers((("accept", "text/html"),)), odd_headers((("x-api-version", "${jndi:x}"),))
    (False, True)
    """
    got = _odd_memo.get(headers)
    if got is None:
        got = any(_ODD_HEADER.search(v) is not None for _, v in headers)
        if sum(len(v) for _, v in headers) <= 1024:  # bounded: 64 Ki sets of short values
            if len(_odd_memo) >= 65_536:
                _odd_memo.clear()
            _odd_memo[headers] = got
    return got


UA_BENIGN_MAX = 100_000
UA_BENIGN_BYTES = 8 << 20  # per service: user agents are as long as a client likes


class RequestScreen:
    """The analyzer of a pipeline and the user agents it found harmless, per service.

    Keyed by service so that what one pipeline analyses never depends on other
    services' traffic: a pipeline per partition decides exactly like one for all.

    >>> screen = RequestScreen(None)
    >>> screen.benign("shop", "curl/8"), screen.snapshot()["v"]
    (False, 1)
    """

    def __init__(self, analyzer: RequestAnalyzer | None) -> None:
        self.analyzer = analyzer
        if analyzer is not None:
            # the pipeline teaches the resource model every window's route counts
            # (learn_resources), not the sample of requests the analyzer sees
            analyzer.learn_resources = False
        self.ua_benign: dict[str, set[str]] = {}
        self.ua_benign_bytes: dict[str, int] = {}  # per service, of the strings in ua_benign

    def benign(self, service: str, user_agent: str) -> bool:
        return user_agent in self.ua_benign.get(service, ())

    def analyze(
        self,
        pending: list[tuple[AccessEvent, int]],
        keys: list[SeriesKey],
        series: dict[int, list[Any]],
        clients: dict[tuple[str, str], list[Any]],
        findings: Counter[str],
    ) -> list[tuple[AccessEvent, str, Finding]]:
        """The flagged requests among ``pending`` (request, series id), counted in
        ``findings`` by kind and taken out of the window's series counts."""
        assert self.analyzer is not None
        events = [ev for ev, _ in pending]
        routes = [keys[sid].route for _, sid in pending]
        found = self.analyzer.analyze_many(events, routes)
        flagged: list[tuple[AccessEvent, str, Finding]] = []
        ua_benign = self.ua_benign
        ua_bytes = self.ua_benign_bytes
        for (ev, sid), route, f in zip(pending, routes, found, strict=True):
            if f is None:
                svc, ua = ev.service, ev.user_agent
                known = ua_benign.get(svc)
                if known is None:
                    known = ua_benign[svc] = set()
                elif ua in known:
                    continue
                elif len(known) >= UA_BENIGN_MAX or ua_bytes.get(svc, 0) >= UA_BENIGN_BYTES:
                    known.clear()  # bounded: benign agents are simply analysed once more
                    ua_bytes[svc] = 0
                known.add(ua)
                ua_bytes[svc] = ua_bytes.get(svc, 0) + sys.getsizeof(ua) + 70  # + set slot
                continue
            flagged.append((ev, route, f))
            findings[f.kind] += 1
            if is_probe(f):  # a sensitive-file probe counts towards scanning
                cs = clients.get((ev.service, ev.client))
                if cs is not None:
                    scan_path(cs, ev.path)
            st = series.get(sid)
            if st is not None and st[COUNT] > 0:
                st[COUNT] -= 1
                status = ev.status
                if status is not None and status >= 400:
                    idx = (S5XX if status >= 500 else SAUTH if status in (401, 403)
                           else S404 if status == 404 else S4XX)
                    st[idx] = max(0, st[idx] - 1)
        return flagged

    def learn_resources(
        self,
        series: dict[int, list[Any]],
        keys: list[SeriesKey],
        flagged: list[tuple[AccessEvent, str, Finding]],
    ) -> None:
        """Teach the resource model a closed window's routes: each series' requests (the
        flagged ones already taken out of its count) under one of its raw paths."""
        a = self.analyzer
        if a is None or not a.learn_online:
            return  # a published model's profiles are fixed
        learn = a.profiles.resources.learn
        bad = {id(ev) for ev, _, _ in flagged}
        for sid, st in series.items():
            n = st[COUNT]
            if n <= 0:
                continue
            key = keys[sid]
            sample = st[SAMPLES]
            path = sample[0].path if sample and id(sample[0]) not in bad else key.route
            learn(key.service, key.method, key.route, path, n)

    # ---- state (detector.state.component): the harmless agents; the analyzer's
    # profiles are a component of their own (ProfileStore) ----
    STATE_VERSION = 1

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, self.ua_benign)

    def restore(self, data: Any) -> None:
        known = unstamp(data, self.STATE_VERSION, {}, "ua_benign")
        if not isinstance(known, dict):
            raise SnapshotError("ua_benign: not a mapping")
        self.ua_benign = known
        self.ua_benign_bytes = {svc: sum(sys.getsizeof(u) + 70 for u in agents)
                                for svc, agents in known.items()}
