"""The batch hot path: a list of items counted into window stats column-wise.

:func:`ingest_batch` gives exactly the state :func:`detector.pipeline.ingest.ingest`
gives for the same items, in fewer Python steps: a run of access events is cut
into spans in which no window closes (found with numpy from the event times),
and each span is counted per window with group-by and bincount: series counts,
latency and size histograms. User agents and client windows (most get a single
request: nothing to aggregate) are counted in one pass in arrival order; what else
keeps its arrival order (samples, error samples, client failures, requests for
analysis, per-version stats) is walked in order over the few events it concerns.

Whatever a span cannot take as a whole goes through the per-event path: the event
that closes windows (or lies beyond the future limit), a cached-path drop during
route resolution, non-finite times or durations, sizes past float precision.
Deployments and bad records keep their place in arrival order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import islice
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.events import (
    BODY,
    BYTES_SENT,
    CLIENT,
    DURATION,
    HEADERS,
    METHOD,
    PATH,
    QUERY,
    SERVICE,
    STATUS,
    TS,
    USER_AGENT,
    VERSION,
    AccessEvent,
    Item,
)
from detector.pipeline.ingest import Stages, count_version, ingest
from detector.pipeline.screen import odd_headers
from detector.windows.state import Window
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
    VER0,
    VERS,
    client_failure,
    client_missing,
    client_request,
    first_series_stats,
    new_version_stats,
)

BATCH = 4096  # items per batch: large enough to amortise numpy calls, small in memory
_BOUNDS = np.array(BOUNDS)
_EXACT = float(1 << 53)  # sizes from here on lose integer precision as floats

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def process_batched(p: Stages, items: Iterable[Item], size: int = BATCH) -> None:
    """Feed ``items`` in arrival order, ``size`` at a time, through :func:`ingest_batch`.

    >>> from detector.config import Settings
    >>> from detector.pipeline import Pipeline
    >>> p = Pipeline(Settings(), [], wall_clock=None)
    >>> process_batched(p, [AccessEvent(float(i), "shop", None, "GET", f"/items/{i}", "",
    ...                                 200, 0.01, 10, "c", "ua", None, None, "f", i)
    ...                     for i in range(100)])
    >>> p.summary.events, p.summary.windows_closed, len(p.windows.open)  # [0, 60) closed at 90
    (100, 1, 1)
    """
    it = iter(items)
    while chunk := list(islice(it, size)):
        ingest_batch(p, chunk)


def process_chunks(p: Stages, chunks: Iterable[list[Item]], size: int = BATCH) -> None:
    """:func:`process_batched` over items given as lists: lists of ``size`` items or more
    go through whole, smaller ones are gathered up to ``size`` first."""
    buf: list[Item] = []
    for chunk in chunks:
        if buf:
            buf.extend(chunk)
            if len(buf) >= size:
                ingest_batch(p, buf)
                buf = []
        elif len(chunk) >= size:
            ingest_batch(p, chunk)
        else:
            buf = list(chunk)
    if buf:
        ingest_batch(p, buf)


def ingest_batch(p: Stages, items: list[Item]) -> None:
    """Count ``items`` (events, deployments, bad records in arrival order) exactly as
    :func:`~detector.pipeline.ingest.ingest` does."""
    ae = AccessEvent
    start = 0
    for k, item in enumerate(items):
        if item.__class__ is not ae:
            if k > start:
                _run(p, items[start:k])  # type: ignore[arg-type]
            p.other_item(item)  # type: ignore[arg-type]
            start = k + 1
    if start < len(items):
        _run(p, items[start:] if start else items)  # type: ignore[arg-type]


def _run(p: Stages, evs: list[AccessEvent]) -> None:
    """A run of access events: spans counted column-wise, cut events one by one."""
    ws = p.windows
    expected = (ws.min_open + 1) * ws.size + ws.lateness if ws.open else math.inf
    if ws.next_close != expected:  # a state this module does not model: the proven path
        ingest(p, evs)
        return
    n = len(evs)
    i = 0
    while i < n:
        done = _span(p, evs, i)
        i += done
        if i < n:
            ingest(p, evs[i:i + 1])
            i += 1


def _span(p: Stages, evs: list[AccessEvent], start: int) -> int:
    """Count the longest prefix of ``evs[start:]`` in which no window closes; returns
    how many events it counted (the next one goes through the per-event path)."""
    ws = p.windows
    size = ws.size
    rest = evs[start:] if start else evs
    ts_col = [ev[TS] for ev in rest]
    t_all: F64 = np.array(ts_col, dtype=np.float64)
    if not np.isfinite(t_all).all():
        return 0
    # Event-time control, as the per-event path meets it: an event later than every
    # one before it closes windows when it reaches next_close, which windows opened
    # earlier in the span may have lowered.
    before = np.empty_like(t_all)
    before[0] = ws.max_ts
    if len(t_all) > 1:
        np.maximum.accumulate(t_all[:-1], out=before[1:])
        np.maximum(before[1:], ws.max_ts, out=before[1:])
    ahead = t_all > before
    w_all: F64 = np.floor_divide(t_all, size)
    late_all = w_all < ws.closed_upto
    opens = np.full(len(t_all), math.inf)
    live = np.flatnonzero(~late_all)
    if len(live):
        uw, first = np.unique(w_all[live], return_index=True)
        for w, f in zip(uw.tolist(), live[first].tolist(), strict=True):
            if w not in ws.open:
                opens[f] = (w + 1) * size + ws.lateness
    next_close = np.empty_like(t_all)
    next_close[0] = ws.next_close
    if len(t_all) > 1:
        np.minimum.accumulate(opens[:-1], out=next_close[1:])
        np.minimum(next_close[1:], ws.next_close, out=next_close[1:])
    cut = np.flatnonzero(ahead & ((t_all >= next_close) | (t_all > p.future_limit)))
    end = int(cut[0]) if len(cut) else len(t_all)
    if end == 0:
        return 0
    keep = live[live < end]
    picked = rest[:end] if len(keep) == end else [rest[k] for k in keep.tolist()]
    if picked:
        end = _count(p, picked, t_all[keep], w_all[keep], keep, end)
        if end == 0:
            return 0
    t_end = t_all[:end]
    summary = p.summary
    summary.late += int(np.count_nonzero(late_all[:end]))
    top = float(t_end.max())
    if top > ws.max_ts:
        ws.max_ts = top
    return end


def _count(p: Stages, evs: list[AccessEvent], t: F64, w: F64, keep: I64, end: int) -> int:
    """Count the non-late events ``evs`` of a span (``keep``: their places in it);
    returns where the span ends (earlier than ``end`` when route resolution dropped
    the path cache: the rest is no longer known)."""
    ws = p.windows
    series_ix = p.series
    cols = list(zip(*evs, strict=True))
    svc, ver, method, path = cols[SERVICE], cols[VERSION], cols[METHOD], cols[PATH]
    durations = cols[DURATION]
    d_all: F64 = np.array(durations, dtype=np.float64)
    nb_all: F64 = np.array(cols[BYTES_SENT], dtype=np.float64)
    if (np.count_nonzero(np.isnan(d_all)) != durations.count(None)
            or np.count_nonzero(nb_all >= _EXACT)):
        return 0  # a NaN duration or a huge size: only the per-event path is exact there
    # Series ids: cached paths at once, misses resolved in arrival order.
    pks = list(zip(svc, method, path, strict=True))
    pc = series_ix.path_cache
    sids: list[int | None] = list(map(pc.get, pks))
    analyze = p.screen.analyzer is not None
    odd: list[bool] = list(map(series_ix.odd_paths.__contains__, pks)) if analyze else []
    if None in sids:
        stop = _resolve(p, pks, sids, odd, w, cols[TS], analyze)
        if stop < len(evs):
            if stop == 0:
                return 0
            end = int(keep[stop])
            evs, t, w = evs[:stop], t[:stop], w[:stop]
            cols = [c[:stop] for c in cols]
            pks, sids, odd = pks[:stop], sids[:stop], odd[:stop]
            d_all, nb_all = d_all[:stop], nb_all[:stop]
            svc, ver = cols[SERVICE], cols[VERSION]
    _observe_versions(p, svc, ver, cols[TS])
    sid_arr: I64 = np.array(sids, dtype=np.int64)
    status_all: F64 = np.array(cols[STATUS], dtype=np.float64)
    cand = _candidates(p, cols, odd) if analyze else None
    windows = w.tolist()
    first_w = windows[0]
    if windows.count(first_w) == len(windows):
        groups: list[tuple[float, I64 | None]] = [(first_w, None)]
    else:
        uw, first = np.unique(w, return_index=True)
        groups = [(float(x), np.flatnonzero(w == x)) for x in uw[np.argsort(first)]]
    summary = p.summary
    for widx, ix in groups:
        win = ws.open.get(widx)
        if win is None:
            f = 0 if ix is None else int(ix[0])
            win = ws.open_window(widx)
            if t[f] < ws.first_ts:
                ws.first_ts = float(t[f])
        part = _Part(evs, cols, pks, sid_arr, t, status_all, d_all, nb_all, cand, ix)
        _count_window(p, win, widx, part)
        summary.events += len(part.evs)
    return end


class _Part:
    """The columns of one window's events in a span (all of them when ``ix`` is None)."""

    __slots__ = ("evs", "svc", "ver", "pks", "client", "ua", "sid", "t", "status",
                 "dur", "nb", "cand")

    def __init__(self, evs: list[AccessEvent], cols: list[tuple[Any, ...]],
                 pks: list[tuple[str, str, str]], sid: I64,
                 t: F64, status: F64, dur: F64, nb: F64, cand: list[bool] | None,
                 ix: I64 | None) -> None:
        if ix is None:
            self.evs, self.pks = evs, pks
            self.svc, self.ver = cols[SERVICE], cols[VERSION]
            self.client, self.ua = cols[CLIENT], cols[USER_AGENT]
            self.sid, self.t, self.status, self.dur, self.nb = sid, t, status, dur, nb
            self.cand = cand
            return
        take = ix.tolist()
        # itemgetter picks a tuple in C (of one index it gives the item itself).
        pick = itemgetter(*take) if len(take) > 1 else lambda c: (c[take[0]],)
        self.evs, self.pks = list(pick(evs)), list(pick(pks))
        self.svc, self.ver, self.client, self.ua = (
            pick(c) for c in (cols[SERVICE], cols[VERSION], cols[CLIENT], cols[USER_AGENT]))
        self.sid, self.t, self.status, self.dur, self.nb = (
            sid[ix], t[ix], status[ix], dur[ix], nb[ix])
        self.cand = None if cand is None else [cand[k] for k in take]


def _observe_versions(p: Stages, svc: tuple[str, ...], ver: tuple[str | None, ...],
                      ts: tuple[float, ...]) -> None:
    """Versions seen in traffic, in arrival order (nothing to do when none changes)."""
    last_ver = p.windows.last_version
    # Most batches: every event carries its service's last version (one lookup and
    # one comparison per event, no pairs to build).
    if list(map(last_ver.get, svc)) == list(ver):
        return
    pairs = set(zip(svc, ver, strict=True))
    if all(v is None or last_ver.get(s) == v for s, v in pairs):
        return
    observe = p.registry.observe_version
    for s, v, tt in zip(svc, ver, ts, strict=True):
        if v is not None and last_ver.get(s) != v:
            last_ver[s] = v
            observe(s, v, tt)


def _resolve(p: Stages, pks: list[tuple[str, str, str]], sids: list[int | None],
             odd: list[bool], w: F64, ts: tuple[float, ...], analyze: bool) -> int:
    """Resolve the path-cache misses in arrival order, filling ``sids`` (and ``odd``);
    returns the index of the first event whose resolution dropped the cache (where the
    span must end), else ``len(pks)``."""
    todo = [k for k, sid in enumerate(sids) if sid is None]  # only those are visited
    stop = p.series.resolve_misses(pks, todo, w.tolist(), ts, sids, odd if analyze else None)
    return len(pks) if stop < 0 else stop


def _candidates(p: Stages, cols: list[tuple[Any, ...]], odd: list[bool]) -> list[bool]:
    """Whether each event goes to request analysis (the per-event path's test)."""
    benign = p.screen.ua_benign
    empty: frozenset[str] = frozenset()
    return [
        bool(q) or b is not None or u not in benign.get(s, empty) or o
        or (h is not None and odd_headers(h))
        for q, b, u, s, o, h in zip(cols[QUERY], cols[BODY], cols[USER_AGENT], cols[SERVICE],
                                    odd, cols[HEADERS], strict=True)
    ]


def _groups(sid: I64) -> tuple[list[int], list[int], I64, list[int], I64, I64]:
    """Group events by series id: the ids, each group's first event, each event's group,
    each group's size, the events ordered by group (stable) and each group's start in it."""
    perm = np.argsort(sid, kind="stable")
    ordered = sid[perm]
    edge = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    starts = np.concatenate(([0], edge))
    counts = np.diff(np.concatenate((starts, [len(sid)])))
    inv = np.empty(len(sid), dtype=np.int64)
    inv[perm] = np.repeat(np.arange(len(starts)), counts)
    return (ordered[starts].tolist(), perm[starts].tolist(), inv, counts.tolist(), perm,
            starts)


def _count_window(p: Stages, win: Window, widx: float, part: _Part) -> None:
    """Count one window's events of a span into its series and client stats."""
    cur_s, cur_c, cur_p = win
    series_ix = p.series
    keys = series_ix.keys
    birth = series_ix.birth
    id_bearing = series_ix.id_bearing
    evs = part.evs
    uniq, first, inv, counts, perm, starts = _groups(part.sid)
    ngroups = len(uniq)
    latest = np.maximum.reduceat(part.t[perm], starts).tolist()
    status = part.status
    ok = (status < 400).tolist()  # NaN (no status) is neither
    perm_l = perm.tolist()
    starts_l = starts.tolist()
    inv_l = inv.tolist()
    # Series windows in the order their first event arrives (dict order is kept).
    stats: list[list[Any]] = [[]] * ngroups
    for g in sorted(range(ngroups), key=first.__getitem__):
        s = uniq[g]
        st = cur_s.get(s)
        if st is None:
            ev = evs[first[g]]
            st = cur_s[s] = first_series_stats(ev)
            if birth[s] > widx:
                birth[s] = int(widx)
            second = perm_l[starts_l[g] + 1] if counts[g] >= 2 else -1
        else:
            second = first[g] if st[COUNT] == 1 else -1
        if latest[g] > st[LATEST]:
            st[LATEST] = latest[g]
        if second >= 0 and ok[second]:
            st[SAMPLES].append(evs[second])
        st[COUNT] += counts[g]
        stats[g] = st
    # User agents and clients (requests, requests per series, object walks) in one pass
    # in arrival order, the per-event path's steps: its dict orders come out the same.
    # Cheaper than counting first: most client windows get one request (bench: 938k
    # client windows for 1.03 M events), so there is next to nothing to aggregate.
    uas = [st[UAS] for st in stats]
    cks = list(zip(part.svc, part.client, strict=True))
    for ck, g, ua, sid, pk in zip(cks, inv_l, part.ua, part.sid.tolist(), part.pks,
                                  strict=True):
        d = uas[g]
        d[ua] = d.get(ua, 0) + 1
        client_request(cur_c, ck, sid, pk, id_bearing[sid])
    # Failures: counters, samples and client walks, in order.
    for k in np.flatnonzero(status >= 400).tolist():
        ev = evs[k]
        code: int = ev[STATUS]  # type: ignore[assignment]  # not None: status >= 400
        st = stats[inv_l[k]]
        if code >= 500:
            st[S5XX] += 1
        elif code == 401 or code == 403:
            st[SAUTH] += 1
            if code == 401:
                st[S401] += 1
            client_failure(cur_c[cks[k]], keys[uniq[inv_l[k]]].route, ev)
        elif code == 404:
            st[S404] += 1
            client_missing(cur_c[cks[k]], ev)
        else:
            st[S4XX] += 1
            u4 = st[UA4XX]
            ua = ev[USER_AGENT]
            if u4 is None:
                st[UA4XX] = {ua: 1}
            else:
                u4[ua] = u4.get(ua, 0) + 1
        err = st[ERR_SAMPLES]
        if len(err) < 3:
            err.append(ev)
    # Latency: answered requests below 500 (errors and missing answers are not timed).
    dur = np.where(status < 500, part.dur, np.nan)
    timed = np.flatnonzero(~np.isnan(dur))
    if len(timed):
        cells = inv[timed] * NBUCKETS + np.searchsorted(_BOUNDS, dur[timed], side="right")
        _add_cells(stats, HIST, TIMED, np.bincount(cells), NBUCKETS)
    # Sizes of successful answers (data_exposure).
    nb = np.where(status < 300, part.nb, 0.0)
    sized = np.flatnonzero(nb > 0)
    if len(sized):
        cells = inv[sized] * NB_BYTES + _size_buckets(nb[sized])
        _add_cells(stats, BYTES, -1, np.bincount(cells), NB_BYTES)
    # Requests of another version than their series window's first.
    ver = part.ver
    versions = set(ver)
    if len(versions) > 1 or any(st[VER0] not in versions for st in stats):
        # Versions as small ints (equal strings, equal codes): the events whose version
        # differs from their series window's first, compared column-wise.
        ver_code = {v: i for i, v in enumerate(versions)}
        ev_code = np.fromiter(map(ver_code.__getitem__, ver), np.int64, len(ver))
        first_code = np.array([ver_code.get(st[VER0], -1) for st in stats], dtype=np.int64)
        for k in np.flatnonzero(ev_code != first_code[inv]).tolist():
            ev = evs[k]
            st = stats[inv_l[k]]
            vers = st[VERS]
            if vers is None:
                vers = st[VERS] = {}
            sub = vers.get(ev[VERSION])
            if sub is None:
                sub = vers[ev[VERSION]] = new_version_stats()
            answer = ev[STATUS]
            d = None if math.isnan(dur[k]) else ev[DURATION]
            size = (ev[BYTES_SENT] or 0) if answer is not None and answer < 300 else 0
            count_version(sub, answer, d, size)
    if part.cand is not None:
        sid_l = part.sid.tolist()
        cur_p.extend([(evs[k], sid_l[k]) for k, c in enumerate(part.cand) if c])


def _size_buckets(nb: F64) -> I64:
    """Response-size buckets (windows.stats.size_bucket) of exact positive sizes."""
    bl = np.frexp(nb)[1].astype(np.int64)  # the bit length of each (integer) size
    ints = nb.astype(np.int64)
    shift = np.maximum(bl - 3, 0)
    out = np.where(bl > 2, (bl << 2) | ((ints >> shift) & 3), ints)
    return np.minimum(out, NB_BYTES - 1)


def _add_cells(stats: list[list[Any]], slot: int, total: int, cells: I64,
               width: int) -> None:
    """Add counts by cell (group * ``width`` + bucket) into each group's series window
    list at ``slot`` (created on first use when None) and the group's sum into the
    counter at ``total`` (none when negative)."""
    nz = np.flatnonzero(cells)
    counts = cells[nz]
    groups = nz // width
    for g, b, c in zip(groups.tolist(), (nz - groups * width).tolist(), counts.tolist(),
                       strict=True):
        st = stats[g]
        target = st[slot]
        if target is None:
            target = st[slot] = [0] * width
        target[b] += c
    if total >= 0:  # each group's sum, once per group
        sums = np.bincount(groups, weights=counts).tolist()
        for g in np.unique(groups).tolist():
            stats[g][total] += int(sums[g])
