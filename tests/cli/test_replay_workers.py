"""`detector replay --workers N` gives the incidents, counts and dead letters of one process."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from detector.config import Settings
from detector.jobs.replay import build_analyzer, run_replay
from detector.jobs.replay_workers import plan_services
from detector.simulate import simulate
from detector.sinks import MemorySink
from detector.sources.files import SourceError


def _replay(files: list[Path], deps: Path, workers: int, dl: Path) -> tuple[object, list[str],
                                                                         list[tuple[object, ...]]]:
    sink = MemorySink()
    summary, problems = run_replay(
        [str(f) for f in files], settings=Settings(), fmt="auto", service="default",
        deployments=deps, sinks=[sink], dead_letter=dl, progress=False,
        analyzer=build_analyzer(None), workers=workers)
    changes = sorted((i.id, i.kind, i.status, i.service,
                      i.deployment.version if i.deployment else None,
                      orjson.dumps(i.evidence, option=orjson.OPT_SORT_KEYS)) for i in sink.items)
    return summary, problems, changes


@pytest.mark.slow
def test_two_workers_equal_one_process(tmp_path: Path) -> None:
    simulate(tmp_path / "sim", hours=2, seed=11, rate=0.3)
    files = sorted((tmp_path / "sim").glob("access-*.log"))
    garbage = tmp_path / "garbage.log"
    garbage.write_bytes(b"not a log line\n" * 30)
    files.append(garbage)
    deps = tmp_path / "sim" / "deployments.jsonl"
    one, p1, c1 = _replay(files, deps, 1, tmp_path / "dl1.jsonl")
    two, p2, c2 = _replay(files, deps, 2, tmp_path / "dl2.jsonl")
    assert c1 and c1 == c2
    for attr in ("events", "deployments", "bad", "late"):
        assert getattr(one, attr) == getattr(two, attr), attr
    assert one.incidents == two.incidents and one.findings == two.findings  # type: ignore[attr-defined]
    assert one.bad_reasons == two.bad_reasons  # type: ignore[attr-defined]
    assert p1 == p2
    dl1 = sorted((tmp_path / "dl1.jsonl").read_bytes().splitlines())
    dl2 = sorted((tmp_path / "dl2.jsonl").read_bytes().splitlines())
    assert len(dl1) == 30 and dl1 == dl2  # reported once, nothing lost


def test_services_are_balanced_by_volume(tmp_path: Path) -> None:
    simulate(tmp_path, hours=1, seed=2, rate=0.3)
    files = [str(f) for f in sorted(tmp_path.glob("access-*.log"))]
    plan = plan_services(files, "auto", "default", 2)
    assert set(plan.values()) == {0, 1} and len(plan) >= 4


def test_workers_refuse_stdin() -> None:
    with pytest.raises(SourceError, match="standard input"):
        run_replay(["-"], settings=Settings(), fmt="auto", service="default", deployments=None,
                   sinks=[], dead_letter=None, workers=2)


def test_a_worker_that_dies_is_one_clear_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import detector.jobs.replay_workers as rw

    simulate(tmp_path / "sim", hours=1, seed=3, rate=0.2)
    files = [str(f) for f in sorted((tmp_path / "sim").glob("access-*.log"))]
    real = rw._worker

    def dying(me: int, *args: object) -> None:
        if me == 1:
            os._exit(9)  # killed without a word, as by the OOM killer
        real(me, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(rw, "_worker", dying)
    with pytest.raises(SourceError, match=r"worker 1 died \(exit code 9\)"):
        run_replay(files, settings=Settings(), fmt="auto", service="default", deployments=None,
                   sinks=[MemorySink()], dead_letter=None, workers=2)


def test_a_worker_error_is_reported_in_one_line(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import detector.jobs.replay_workers as rw

    simulate(tmp_path / "sim", hours=1, seed=3, rate=0.2)
    files = [str(f) for f in sorted((tmp_path / "sim").glob("access-*.log"))]

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(rw, "Pipeline", broken)
    with pytest.raises(SourceError, match=r"worker \d: RuntimeError: disk on fire"):
        run_replay(files, settings=Settings(), fmt="auto", service="default", deployments=None,
                   sinks=[MemorySink()], dead_letter=None, workers=2)


@pytest.mark.slow
def test_a_file_mixing_services_split_by_bytes_gives_one_process_incidents(
        tmp_path: Path) -> None:
    import heapq

    simulate(tmp_path / "sim", hours=2, seed=12, rate=0.3)
    logs = sorted((tmp_path / "sim").glob("access-*.otel.log"))  # flat and nested service
    assert len(logs) >= 2
    streams = [[(orjson.loads(raw)["timestamp"], raw) for raw in log.read_bytes().splitlines()]
               for log in logs]
    mixed = tmp_path / "mixed.log"  # every service interleaved by time, as one host logs them
    mixed.write_bytes(b"\n".join(raw for _, raw in heapq.merge(*streams)) + b"\nnot a line\n")
    deps = tmp_path / "sim" / "deployments.jsonl"
    one, p1, c1 = _replay([mixed], deps, 1, tmp_path / "dl1.jsonl")
    two, p2, c2 = _replay([mixed], deps, 2, tmp_path / "dl2.jsonl")
    assert len({c[3] for c in c1}) >= 2  # incidents of several services
    assert c1 and c1 == c2 and p1 == p2
    for attr in ("events", "bad", "late", "incidents", "findings", "bad_reasons"):
        assert getattr(one, attr) == getattr(two, attr), attr
    assert (tmp_path / "dl1.jsonl").read_bytes().count(b"\n") == 1
    assert (tmp_path / "dl2.jsonl").read_bytes().count(b"\n") == 1
