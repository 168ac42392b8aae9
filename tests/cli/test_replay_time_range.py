"""Replay judges event times by the input itself, never by the machine's clock (issue 8, item 19).

A log dated years after today must replay exactly like the same log dated in
the past; absurd outliers among normal lines are still dead-lettered with a
reason, and ``--workers`` decides alike.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

PAST = datetime(2020, 3, 1, tzinfo=UTC).timestamp()
FUTURE = datetime(2035, 1, 1, tzinfo=UTC).timestamp()  # years after any wall clock running this
SHIFT = FUTURE - PAST  # whole days: times of day in summaries agree


def _log(t0: float, *, outliers: bool = False) -> bytes:
    """Two hours of two services; 5xx surge on shop in minutes 90-99."""
    out: list[bytes] = []
    for m in range(120):
        for i in range(40):
            for svc in ("shop", "cart"):
                bad = svc == "shop" and 90 <= m < 100 and i % 3 == 0
                out.append(orjson.dumps({
                    "timestamp": t0 + m * 60 + i * 1.5, "service.name": svc,
                    "http.request.method": "GET", "url.path": f"/items/{i}",
                    "http.response.status_code": 500 if bad else 200,
                    "client.address": f"10.0.0.{i % 7}", "event.duration": 20_000_000,
                }))
        if outliers and m in (20, 50, 70):
            for ts in ("2999-01-01T00:00:00Z", 0, "2090-06-01T00:00:00Z"):
                out.append(orjson.dumps({
                    "timestamp": ts, "service.name": "shop", "http.request.method": "GET",
                    "url.path": "/outlier", "http.response.status_code": 200,
                }))
    return b"\n".join(out) + b"\n"


def _replay(log: Path, *extra: str) -> tuple[list[dict[str, Any]], str]:
    sink = log.parent / f"incidents-{len(list(log.parent.glob('incidents-*')))}.jsonl"
    res = subprocess.run(
        [sys.executable, "-m", "detector", "replay", str(log), "--no-analysis",
         "--sink", f"jsonl:{sink}", *extra],
        capture_output=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr.decode()
    return [orjson.loads(x) for x in sink.read_bytes().splitlines()], res.stderr.decode()


def _shape(incs: list[dict[str, Any]], shift: float) -> list[tuple[Any, ...]]:
    """Incidents without their ids, times moved back by ``shift``."""
    def t(s: str) -> float:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() - shift

    return [(i["status"], i["kind"], i["service"], i["route"], i["summary"], t(i["start"]),
             t(i["end"]), t(i["detected_at"]), i["evidence"]["requests"]) for i in incs]


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_log_dated_in_the_future_replays_like_the_same_log_in_the_past(tmp_path: Path) -> None:
    past, _ = _replay(_write(tmp_path / "past" / "access.log", _log(PAST)))
    future, err = _replay(_write(tmp_path / "future" / "access.log", _log(FUTURE)))
    assert "bad records: 0" in err and "9,600 events" in err
    assert any(i["kind"] == "error_surge" and i["service"] == "shop" for i in past)
    assert _shape(future, SHIFT) == _shape(past, 0.0)


def test_absurd_outliers_are_dead_lettered_and_change_nothing(tmp_path: Path) -> None:
    clean, _ = _replay(_write(tmp_path / "clean" / "access.log", _log(FUTURE)))
    log = _write(tmp_path / "dirty" / "access.log", _log(FUTURE, outliers=True))
    dl = tmp_path / "dead.jsonl"
    dirty, err = _replay(log, "--dead-letter", str(dl))
    assert _shape(dirty, 0.0) == _shape(clean, 0.0)
    dead = [orjson.loads(x) for x in dl.read_bytes().splitlines()]
    assert len(dead) == 9 and "bad records: 9" in err
    reasons = sorted({d["reason"].split(":")[0] for d in dead})
    assert reasons == ["absurd timestamp", "timestamp far outside the input's time range"]
    far = [d for d in dead if d["reason"].startswith("timestamp far outside")]
    assert [d["reason"].split(": ")[1] for d in far] == ["2090-06-01T00:00:00Z"] * 3
    # --workers: the same incidents, the same bad records (each once).
    dl2 = tmp_path / "dead2.jsonl"
    workers, err2 = _replay(log, "--dead-letter", str(dl2), "--workers", "2")
    assert sorted(_shape(workers, 0.0)) == sorted(_shape(dirty, 0.0))
    assert "bad records: 9" in err2
    assert sorted(dl2.read_bytes().splitlines()) == sorted(dl.read_bytes().splitlines())


def _ev(ts: float, n: int) -> Any:
    from detector.events import AccessEvent

    return AccessEvent(ts, "s", None, "GET", "/", "", 200, None, None, "c", "", None, None, "f", n)


def _kept(times: list[float]) -> tuple[list[int], list[int]]:
    from detector.events import BadRecord
    from detector.sources.timeguard import plausible_times

    out = list(plausible_times([_ev(t, n) for n, t in enumerate(times)]))
    bad = [r.offset for r in out if isinstance(r, BadRecord)]
    good = [r.offset for r in out if not isinstance(r, BadRecord)]
    assert sorted(bad + good) == list(range(len(times)))  # nothing silently dropped
    return good, bad


def test_a_gap_in_the_logs_is_not_an_outlier() -> None:
    day = 86400.0
    # Two days of silence, then the log goes on: every event is kept, in order.
    times = [FUTURE + i for i in range(100)] + [FUTURE + 2 * day + i for i in range(100)]
    assert _kept(times) == (list(range(200)), [])
    # A short tail after the gap is kept too (it outnumbers what came after it: nothing).
    good, bad = _kept([FUTURE + i for i in range(100)] + [FUTURE + 3 * day + i for i in range(3)])
    assert bad == [] and len(good) == 103


def test_outliers_first_among_the_first_lines_and_scattered_are_rejected() -> None:
    times = [FUTURE + i for i in range(300)]
    times[0] = FUTURE + 5000 * 86400.0  # the very first line anchors nothing
    times[3] = PAST  # far before its neighbours, early in the input
    times[150] = times[151] = FUTURE + 400 * 86400.0
    good, bad = _kept(times)
    assert bad == [0, 3, 150, 151]
    assert good == [n for n in range(300) if n not in (0, 3, 150, 151)]
