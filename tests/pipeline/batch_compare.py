"""Run the same items through the per-event and the batch hot path and capture what
each pipeline holds: every closed window's state (in order), the open windows, the
counters, the series index and the incidents."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import cycle
from typing import Any

from detector.config import Settings
from detector.events import Item
from detector.pipeline import Pipeline
from detector.pipeline.batch_ingest import process_batched, process_chunks
from detector.sinks import MemorySink


def _plain(value: Any) -> Any:
    """A comparable copy of window state: containers keep their order (dicts as item
    lists, so insertion order counts), sets are sorted."""
    if isinstance(value, dict):
        return [("dict", _plain(k), _plain(v)) for k, v in value.items()]
    if isinstance(value, set):
        return ("set", sorted(map(repr, value)))
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_plain(v) for v in value])
    return value


def _cut(items: Sequence[Item], sizes: Sequence[int]) -> Iterator[list[Item]]:
    """``items`` as lists of ``sizes[0]``, ``sizes[1]``... items in turn."""
    at = 0
    for size in cycle(sizes):
        if at >= len(items):
            return
        yield list(items[at:at + size])
        at += size


def run(items: Sequence[Item], *, batched: bool, batch: int = 64,
        settings: Settings | None = None, analyze: bool = True,
        wall_clock: Callable[[], float] | None = None,
        chunks: Sequence[int] = ()) -> dict[str, Any]:
    """The observable outcome of one pipeline fed ``items`` (batched: as lists of the
    ``chunks`` sizes in turn through ``process_chunks``, when given)."""
    from detector.analysis.analyzer import RequestAnalyzer

    sink = MemorySink()
    p = Pipeline(settings or Settings(), [sink], wall_clock=wall_clock,
                 analyzer=RequestAnalyzer(learn_online=True) if analyze else None)
    closed: list[Any] = []
    evaluate = p._evaluate

    def watch(w: int, series: Any, clients: Any, pending: Any, last: bool) -> None:
        closed.append(_plain((w, series, clients, pending, last)))
        evaluate(w, series, clients, pending, last)

    p._evaluate = watch  # type: ignore[method-assign]
    if batched and chunks:
        process_chunks(p, _cut(items, chunks), batch)
    elif batched:
        process_batched(p, items, batch)
    else:
        p.process(items)
    state = {
        "open": _plain(p.windows.open),
        "windows": _plain({k: getattr(p.windows, k) for k in (
            "closed_upto", "min_open", "next_close", "max_ts", "first_ts", "last_version")}),
        "series": _plain((p.series.keys, p.series.birth, p.series.path_cache,
                          p.series.odd_paths, p.series.starts.first)),
    }
    p.finish()
    s = p.summary
    return {
        **state,
        "closed": closed,
        "counts": (s.events, s.late, s.bad, dict(s.bad_reasons), s.deployments),
        "incidents": [i.model_dump(mode="json") for i in sink.items],
    }


def assert_same(items: Sequence[Item], sizes: Sequence[int] = (1, 7, 256),
                chunks: Sequence[int] = (), **kw: Any) -> dict[str, Any]:
    """Both paths agree on ``items`` (at each batch size of ``sizes``, and given as lists
    of the ``chunks`` sizes when there are some); returns the outcome."""
    want = run(items, batched=False, **kw)
    for size in sizes:
        got = run(items, batched=True, batch=size, chunks=chunks, **kw)
        for key in want:
            assert got[key] == want[key], f"{key} differs at batch size {size}"
    return want
