"""A worker's share of an input: its services' lines, found in the bytes, as the whole
input's decoding gives them; every bad line reported by exactly one worker."""

from __future__ import annotations

from pathlib import Path

from detector.events import AccessEvent, BadRecord, DeploymentEvent, Item
from detector.jobs.replay_owned import OwnedSource, Ownership
from detector.sources.files import FileSource

LINE = ('{"timestamp": "2026-03-20T00:%02d:%02dZ", "service.name": "%s", '
        '"http.request.method": "GET", "url.path": "/a/%d", "http.response.status_code": 200}')
PLAN = {"shop": 0, "cart": 1}


def _line(i: int, svc: str) -> str:
    return LINE % (i // 60 % 60, i % 60, svc, i)


def _items(path: Path, me: int | None) -> tuple[list[Item], int]:
    if me is None:
        src = FileSource(str(path))
        try:
            return list(src), 0
        finally:
            src.close()
    own = OwnedSource(str(path), Ownership(me, 2, PLAN))
    try:
        return list(own), own.skipped
    finally:
        own.close()


def _split(path: Path) -> tuple[list[Item], list[list[Item]], list[int]]:
    whole, _ = _items(path, None)
    shares, skipped = zip(*(_items(path, me) for me in (0, 1)), strict=True)
    return whole, list(shares), list(skipped)


def _events(items: list[Item]) -> list[AccessEvent]:
    return [it for it in items if isinstance(it, AccessEvent)]


def _bad(items: list[Item]) -> list[tuple[int, str]]:
    return [(it.offset, it.reason) for it in items if isinstance(it, BadRecord)]


def test_a_mixed_file_is_split_by_the_bytes_and_each_line_decoded_once(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_text("".join(_line(i, "shop" if i % 3 else "cart") + "\n" for i in range(300)))
    whole, (w0, w1), skipped = _split(log)
    assert _events(w0) == [e for e in _events(whole) if e.service == "shop"]
    assert _events(w1) == [e for e in _events(whole) if e.service == "cart"]
    # Past the 20 lines the format is chosen from, a worker skips the other's lines undecoded.
    assert skipped == [sum(1 for i in range(20, 300) if i % 3 == 0),
                       sum(1 for i in range(20, 300) if i % 3)]


def test_a_one_service_file_is_decoded_by_its_owner_alone(tmp_path: Path) -> None:
    log = tmp_path / "cart.log"
    log.write_text("".join(_line(i, "cart") + "\n" for i in range(100)))
    whole, (w0, w1), skipped = _split(log)
    assert w0 == [] and w1 == whole and skipped == [80, 0]


def test_a_service_the_bytes_leave_in_doubt_is_decoded_by_every_worker(tmp_path: Path) -> None:
    # A first service field that is not the record's (the decoder reads "service.name"), and a
    # name with an escape the byte pattern does not read: both decoded, kept by the owner.
    misleading = ('{"labels": {"service": "shop"}, ' + _line(1000, "cart")[1:])
    escaped = _line(1001, "sh\\u006fp")
    log = tmp_path / "mixed.log"
    log.write_text("".join(_line(i, "shop") + "\n" for i in range(30))
                   + misleading + "\n" + escaped + "\n")
    whole, (w0, w1), skipped = _split(log)
    assert [e.path for e in _events(w1)] == ["/a/1000"]  # cart's, whatever its first field says
    assert [e.path for e in _events(w0)][-1] == "/a/1001"
    assert _events(w0) + _events(w1) != [] and len(_events(whole)) == 32
    assert skipped == [0, 10]  # shop's lines after the head; the two in doubt were decoded


def test_bad_lines_are_reported_by_exactly_one_worker(tmp_path: Path) -> None:
    lines = [_line(i, "shop" if i % 2 else "cart") for i in range(40)]
    lines += ["junk", '{"service.name": "cart", "timestamp": ', '{"service.name": "shop"}',
              '{"type": "deployment", "service.name": "cart", "service.version": "2",'
              ' "timestamp": "2026-03-20T00:01:00Z"}', "{" + "x" * 70_000 + "}"]
    log = tmp_path / "bad.log"
    log.write_text("\n".join(lines) + "\n")
    whole, (w0, w1), _ = _split(log)
    assert len(_bad(whole)) == 4
    assert sorted(_bad(w0) + _bad(w1)) == sorted(_bad(whole))
    assert [o for o, _ in _bad(w1)] == [42]  # cart's broken line: only cart's worker decoded it
    deploys = [it for it in whole if isinstance(it, DeploymentEvent)]
    assert len(deploys) == 1 and all(deploys[0] in share for share in (w0, w1))
