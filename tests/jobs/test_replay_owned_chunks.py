"""A worker's chunked reading of its share (skip a chunk whole, decode one whole) gives what
line-by-line reading gives, on inputs built to break its byte checks."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from detector.decoding.stage import CHUNK_LINES
from detector.events import AccessEvent, BadRecord, DeploymentEvent, Item
from detector.jobs.replay_owned import OwnedSource, Ownership, service_volumes
from detector.sources.files import FileSource

SETTINGS = settings(max_examples=int(os.environ.get("OWNED_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
PLAN = {"shop": 0, "cart": 1}
CORE = ('"http.request.method": "GET", "url.path": "/a/%d", "http.response.status_code": 200, '
        '"http.server.request.duration": 0.25, "client.address": "10.0.0.%d", '
        '"user_agent.original": "ua", "service.version": "1", "http.response.body.size": 5')


def _line(kind: str, svc: str, i: int) -> str:
    ts = f"2026-03-20T00:{i // 60 % 60:02d}:{i % 60:02d}.5Z"
    core = CORE % (i, i % 7)
    if kind == "flat":  # the layout the column-wise decoder takes
        return f'{{"timestamp": "{ts}", "service.name": "{svc}", {core}}}'
    if kind == "bench":  # the simulator's layout: the service fields side by side
        return (f'{{"timestamp":"{ts}","service.name":"{svc}","service.version":"{i % 3}",'
                + core.replace(', "service.version": "1"', "") + "}")
    if kind == "bench_broken":  # ... with a second service field, and cut short
        return (f'{{"timestamp":"{ts}","service.name":"{svc}","service.version":"{i % 3}",'
                '"labels": {"service": "x"}, ')
    if kind == "tight":  # the same field spelt without spaces: another byte pattern
        return f'{{"timestamp": "{ts}","service.name":"{svc}", {core}}}'
    if kind == "bare":  # "service", which the decoder may not read as the service
        return f'{{"timestamp": "{ts}", "service": "{svc}", {core}}}'
    if kind == "twice":  # a second service field: the bytes leave it in doubt
        return (f'{{"timestamp": "{ts}", "service.name": "{svc}", '
                f'"labels": {{"service": "x"}}, {core}}}')
    if kind == "path":  # the word deployment in a path: decoded by all, kept by its owner
        return f'{{"timestamp": "{ts}", "service.name": "{svc}", {core}}}'.replace(
            "/a/", "/deployment/")
    if kind == "deploy":
        return (f'{{"type": "deployment", "service.name": "{svc}", "service.version": "9", '
                f'"timestamp": "{ts}"}}')
    if kind == "query":
        return f'{{"timestamp": "{ts}", "service.name": "{svc}", "url.query": "q={i}", {core}}}'
    if kind == "broken":
        return f'{{"timestamp": "{ts}", "service.name": "{svc}", '
    if kind == "broken2":  # no owner the bytes can tell: worker 0 reports it
        return f'{{"timestamp": "{ts}", "service.name": "{svc}", "labels": {{"service": "x"}}, '
    if kind == "blank":
        return ""
    return f"junk {i}"


KINDS = st.sampled_from(["flat", "flat", "bench", "bench", "bench_broken", "tight", "bare",
                         "twice", "path", "deploy", "query", "broken", "broken2", "blank", "junk"])
SERVICES = st.sampled_from(["shop", "cart", "misc"])
# Runs of one kind and service, long enough that whole chunks are of one service.
RUNS = st.lists(st.tuples(KINDS, SERVICES, st.integers(1, CHUNK_LINES + 40)),
                min_size=1, max_size=6)


def _write(runs: list[tuple[str, str, int]], head: str, layout: str = "flat") -> Path:
    lines = [_line(layout, head, i) for i in range(25)]
    for kind, svc, n in runs:
        lines += [_line(kind, svc, len(lines) + j) for j in range(n)]
    path = Path(tempfile.mkdtemp()) / "mixed.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def _read(path: Path, me: int, *, chunked: bool) -> tuple[list[Item], int]:
    src = OwnedSource(str(path), Ownership(me, 2, PLAN))
    try:
        items = list(src.chunks()) if chunked else [list(src._each_item())]
        return [it for chunk in items for it in chunk], src.skipped
    finally:
        src.close()


def _whole(path: Path) -> list[Item]:
    src = FileSource(str(path))
    try:
        return list(src)
    finally:
        src.close()


@SETTINGS
@given(runs=RUNS, head=SERVICES, layout=st.sampled_from(["flat", "bench"]))
@example(runs=[("bench", "cart", 306), ("bench_broken", "cart", 3), ("bench", "cart", 300)],
         head="cart", layout="flat")
def test_chunked_share_equals_the_line_by_line_share(runs: list[tuple[str, str, int]],
                                                    head: str, layout: str) -> None:
    # (The example: lines of the usual layout with a second service field, and cut short,
    # in a chunk of another worker's service: worker 0 reports them, so it must read them.)
    path = _write(runs, head, layout)
    whole = _whole(path)
    events: list[Item] = []
    bad: list[Item] = []
    for me in (0, 1):
        chunked, skipped = _read(path, me, chunked=True)
        by_line, skipped_by_line = _read(path, me, chunked=False)
        assert chunked == by_line
        assert skipped >= skipped_by_line  # chunks of one service skipped whole
        events += [it for it in chunked if isinstance(it, AccessEvent)]
        bad += [it for it in chunked if isinstance(it, BadRecord)]
        deploys = [it for it in chunked if isinstance(it, DeploymentEvent)]
        assert deploys == [it for it in whole if isinstance(it, DeploymentEvent)]
    # Every event is one worker's, every bad line reported once.
    assert sorted(events, key=lambda e: e.offset) == [
        it for it in whole if isinstance(it, AccessEvent)]
    assert sorted(bad, key=lambda b: b.offset) == [it for it in whole if isinstance(it, BadRecord)]


@SETTINGS
@given(runs=RUNS, head=SERVICES)
def test_the_plan_counts_what_line_by_line_counting_gives(runs: list[tuple[str, str, int]],
                                                         head: str) -> None:
    from detector.jobs.publish_keys import ServiceKeyer

    path = _write(runs, head)
    lines = [r for r in path.read_bytes().splitlines(keepends=True) if r.strip()]
    keyer = ServiceKeyer(path.name, lines[:20])
    expected: dict[str, int] = {}
    for raw in lines:
        svc = keyer.named(raw) or keyer.key(raw)
        if svc is not None:
            expected[svc.decode()] = expected.get(svc.decode(), 0) + 1
    assert dict(service_volumes(str(path))) == expected


def test_a_chunk_of_another_service_is_skipped_whole_and_one_of_its_own_decoded_whole(
        tmp_path: Path) -> None:
    log = tmp_path / "two.log"
    n = 20 + 2 * CHUNK_LINES
    log.write_text("".join(_line("flat", "shop" if i < 20 + CHUNK_LINES else "cart", i) + "\n"
                           for i in range(n)))
    whole = _whole(log)
    (w0, s0), (w1, s1) = _read(log, 0, chunked=True), _read(log, 1, chunked=True)
    assert w0 == [e for e in whole if e.service == "shop"]  # type: ignore[union-attr]
    assert w1 == [e for e in whole if e.service == "cart"]  # type: ignore[union-attr]
    assert (s0, s1) == (CHUNK_LINES, CHUNK_LINES)
