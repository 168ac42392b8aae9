"""The per-event hot path: each event into its tumbling window's counters.

Route template lookup (cached in the series index), then counter updates in
the event's window (layouts in :mod:`detector.windows.stats`). Everything
heavier runs once per closed window, in the pipeline.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from detector.deployments.registry import DeploymentRegistry
from detector.events import (
    BODY,
    BYTES_SENT,
    CLIENT,
    DURATION,
    HEADERS,
    METHOD,
    OFFSET,
    PATH,
    QUERY,
    SERVICE,
    SOURCE,
    STATUS,
    TS,
    USER_AGENT,
    VERSION,
    AccessEvent,
    BadRecord,
    DeploymentEvent,
    Item,
)
from detector.pipeline.screen import RequestScreen, odd_headers
from detector.pipeline.series import SeriesIndex
from detector.windows.state import WindowState
from detector.windows.stats import (
    BOUNDS,
    BYTES,
    COUNT,
    ERR_SAMPLES,
    HIST,
    LATEST,
    NB_BYTES,
    NBUCKETS,
    S4XX,
    S5XX,
    S401,
    S404,
    SAMPLES,
    SAUTH,
    TIMED,
    UA4XX,
    UAS,
    V_4XX,
    V_5XX,
    V_404,
    V_AUTH,
    V_BYTES,
    V_COUNT,
    V_HIST,
    V_TIMED,
    VER0,
    VERS,
    client_failure,
    client_missing,
    client_request,
    new_version_stats,
)


class Counts(Protocol):
    events: int
    late: int


class Stages(Protocol):
    """What the hot path reads and calls back (the pipeline)."""

    future_limit: float

    @property
    def windows(self) -> WindowState: ...
    @property
    def series(self) -> SeriesIndex: ...
    @property
    def screen(self) -> RequestScreen: ...
    @property
    def registry(self) -> DeploymentRegistry: ...
    @property
    def summary(self) -> Counts: ...

    def renew_future_limit(self) -> float: ...
    def other_item(self, item: DeploymentEvent | BadRecord) -> None: ...
    def reject(self, rec: BadRecord) -> None: ...
    def close_due(self) -> None: ...


def ingest(p: Stages, items: Iterable[Item]) -> None:
    """Feed decoded items (events, deployments, bad records) in arrival order."""
    ws = p.windows
    size = ws.size
    ae = AccessEvent
    open_w = ws.open
    series_ix = p.series
    keys = series_ix.keys
    birth = series_ix.birth
    id_bearing = series_ix.id_bearing
    path_cache = series_ix.path_cache
    odd_paths = series_ix.odd_paths
    last_ver = ws.last_version
    observe: Callable[[str, str, float], None] = p.registry.observe_version
    summary = p.summary
    bounds = BOUNDS
    bis = bisect_right
    cur_idx: float = math.nan
    cur_s: dict[int, list[Any]] = {}
    cur_c: dict[tuple[str, str], list[Any]] = {}
    cur_p: list[tuple[AccessEvent, int]] = []
    analyze = p.screen.analyzer is not None
    ua_benign = p.screen.ua_benign
    max_ts = ws.max_ts
    next_close = ws.next_close
    closed_upto = ws.closed_upto
    future = p.future_limit
    n = 0
    for ev in items:
        if ev.__class__ is not ae:
            p.other_item(ev)  # type: ignore[arg-type]
            continue
        ts = ev[TS]
        if ts > max_ts:
            if ts > future:
                # The limit was set a while ago (a service runs for days): renew it first.
                future = p.renew_future_limit()
                if ts > future:
                    p.reject(BadRecord(ev[SOURCE], ev[OFFSET], "timestamp in the future", b""))
                    continue
            max_ts = ts
            if ts >= next_close:
                ws.max_ts = max_ts
                summary.events += n
                n = 0
                p.close_due()
                next_close = ws.next_close
                closed_upto = ws.closed_upto
                cur_idx = math.nan
        widx = ts // size
        if widx != cur_idx:
            if widx < closed_upto:
                summary.late += 1
                continue
            w = open_w.get(widx)
            if w is None:
                w = ws.open_window(widx)
                next_close = ws.next_close
                if ts < ws.first_ts:
                    ws.first_ts = ts
            cur_idx = widx
            cur_s, cur_c, cur_p = w
        n += 1
        svc = ev[SERVICE]
        ver = ev[VERSION]
        if ver is not None and last_ver.get(svc) != ver:
            last_ver[svc] = ver
            observe(svc, ver, ts)
        pk = (svc, ev[METHOD], ev[PATH])
        sid = path_cache.get(pk)
        if sid is None:
            sid = series_ix.resolve(pk, int(widx), ts)
        ua = ev[USER_AGENT]
        if analyze and (
            ev[QUERY] or ev[BODY] is not None or ua not in ua_benign.get(svc, ())
            or pk in odd_paths or (ev[HEADERS] is not None and odd_headers(ev[HEADERS]))
        ):
            cur_p.append((ev, sid))  # analysed in one batch when the window closes
        st = cur_s.get(sid)
        if st is None:
            # windows.stats.first_series_stats(ev), built inline (hot path):
            # count, 5xx, 4xx, auth, 404, timed, histogram, samples, error samples, latest,
            # 401, size histogram, user agents, first version, other versions, user
            # agents of other 4xx.
            st = cur_s[sid] = [0, 0, 0, 0, 0, 0, [0] * NBUCKETS, [ev], [], ts, 0, None, {},
                               ver, None, None]
            if birth[sid] > widx:
                birth[sid] = int(widx)
        elif ts > st[LATEST]:
            st[LATEST] = ts
        st[COUNT] += 1
        uas = st[UAS]
        uas[ua] = uas.get(ua, 0) + 1
        cs = client_request(cur_c, (svc, ev[CLIENT]), sid, pk, id_bearing[sid])
        status = ev[STATUS]
        d = ev[DURATION]
        nb = 0
        if status is not None and status >= 400:
            if status >= 500:
                st[S5XX] += 1
                d = None  # timeouts and crashes are error symptoms, not latency
            elif status == 401 or status == 403:
                st[SAUTH] += 1
                if status == 401:
                    st[S401] += 1
                client_failure(cs, keys[sid].route, ev)
            elif status == 404:
                st[S404] += 1
                client_missing(cs, ev)
            else:
                st[S4XX] += 1
                # Who gets them: a release breaking one app version (population scoping).
                u4 = st[UA4XX]
                if u4 is None:
                    st[UA4XX] = {ua: 1}
                else:
                    u4[ua] = u4.get(ua, 0) + 1
            err = st[ERR_SAMPLES]
            if len(err) < 3:
                err.append(ev)
        elif status is None:
            d = None  # no response was sent: nothing to time
        else:
            if st[COUNT] == 2:
                st[SAMPLES].append(ev)
            if status < 300:
                nb = ev[BYTES_SENT] or 0
                if nb > 0:  # the size of a successful answer (data_exposure)
                    bl = nb.bit_length()
                    bi = (bl << 2) | ((nb >> (bl - 3)) & 3) if bl > 2 else nb
                    bh = st[BYTES]
                    if bh is None:
                        bh = st[BYTES] = [0] * NB_BYTES
                    bh[bi if bi < NB_BYTES else NB_BYTES - 1] += 1
        if d is not None:
            st[TIMED] += 1
            st[HIST][bis(bounds, d)] += 1
        if ver != st[VER0]:
            # A request of another version than the window's first (a canary, a rolling
            # deploy): counted apart as well, so each version can be compared with the other.
            vers = st[VERS]
            if vers is None:
                vers = st[VERS] = {}
            sub = vers.get(ver)
            if sub is None:
                sub = vers[ver] = new_version_stats()
            count_version(sub, status, d, nb)
    ws.max_ts = max_ts
    summary.events += n


def count_version(sub: list[Any], status: int | None, d: float | None, nb: int) -> None:
    """Count one request in its version's stats (V_* layout of windows.stats); the batch
    path (pipeline.batch_ingest) shares it."""
    sub[V_COUNT] += 1
    if status is not None and status >= 400:
        if status >= 500:
            sub[V_5XX] += 1
        elif status == 401 or status == 403:
            sub[V_AUTH] += 1
        elif status != 404:
            sub[V_4XX] += 1
        elif len(sub) > V_404:  # windows restored from older snapshots lack the slot
            sub[V_404] += 1
    if d is not None:
        sub[V_TIMED] += 1
        sub[V_HIST][bisect_right(BOUNDS, d)] += 1
    if nb > 0:
        bh = sub[V_BYTES]
        if bh is None:
            bh = sub[V_BYTES] = [0] * NB_BYTES
        bl = nb.bit_length()
        bi = (bl << 2) | ((nb >> (bl - 3)) & 3) if bl > 2 else nb
        bh[bi if bi < NB_BYTES else NB_BYTES - 1] += 1
