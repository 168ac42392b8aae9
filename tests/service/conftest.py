"""Service integration tests: a real Kafka-protocol broker (embedded Tansu), small sim data."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.config import Settings
from detector.jobs.feed import Keyed, merged_keyed, produce_keyed, sim_access_files
from detector.jobs.replay import build_analyzer, run_replay
from detector.kafka import TopicAdmin, TopicSpec, produce_lines
from detector.service.config import ServiceSettings
from detector.service.runtime import JsonLog, ServiceRuntime
from detector.simulate import simulate
from detector.sinks import MemorySink, make_sink
from tests.conftest import once_per_run

OpenKey = tuple[str, str, str | None, bool | None]

# Tansu completes a JoinGroup about half a session timeout after it starts.
FAST: dict[str, Any] = {
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 250,
    "poll_timeout_ms": 200,
    "request_timeout_ms": 5000,
}


@dataclass
class SimData:
    dir: Path
    files: list[Path]
    records: list[Keyed]
    deployments: list[bytes]
    expected: set[OpenKey]
    changes: list[bytes]  # every incident change of the replay, canonical JSON, sorted


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def open_keys(records: list[dict[str, Any]]) -> set[OpenKey]:
    out: set[OpenKey] = set()
    for r in records:
        if r["status"] != "open":
            continue
        dep = r.get("deployment") or {}
        out.add((r["id"], r["kind"], dep.get("version"), dep.get("suspect")))
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimData:
    return once_per_run(tmp_path_factory, "service-sim", _make_sim)


def _make_sim(d: Path) -> SimData:
    simulate(d, hours=2, seed=7, rate=0.3)
    files = sim_access_files(d)
    sink = MemorySink()
    run_replay([str(f) for f in files], settings=Settings(), fmt="auto", service="default",
               deployments=d / "deployments.jsonl", sinks=[sink], dead_letter=None,
               progress=False, analyzer=build_analyzer(None))  # the service's default too
    records = [i.model_dump(mode="json") for i in sink.items]
    expected = open_keys(records)
    assert expected, "the simulated scenario raises incidents"
    deps = [ln for ln in (d / "deployments.jsonl").read_bytes().splitlines() if ln.strip()]
    return SimData(d, files, merged_keyed(files), deps, expected, canonical(records))


_PROVENANCE = re.compile(rb' \[[^\["\]]+:\d+\](?=")')  # " [file.log:12]" / " [topic:2:11]"


def canonical(records: list[dict[str, Any]]) -> list[bytes]:
    """Incident changes as sorted canonical JSON, comparable whatever the emission order;
    samples lose their provenance (a file line in a replay, a topic offset live)."""
    return sorted(_PROVENANCE.sub(b"", orjson.dumps(r, option=orjson.OPT_SORT_KEYS))
                  for r in records)


async def make_topics(bootstrap: str, partitions: int = 4) -> tuple[str, str]:
    """A fresh access topic (``partitions``) and deployments topic."""
    from detector.kafka import KafkaConnection

    access, deps = unique("access"), unique("deployments")
    async with TopicAdmin(KafkaConnection(bootstrap_servers=bootstrap)) as admin:
        await admin.ensure_topics([TopicSpec(access, partitions), TopicSpec(deps, 1)])
    return access, deps


async def load_deployments(bootstrap: str, topic: str, sim: SimData) -> None:
    await produce_lines(bootstrap, topic, sim.deployments,
                        key_fn=lambda line: orjson.loads(line)["service.name"].encode())


async def feed(bootstrap: str, topic: str, records: list[Keyed]) -> None:
    await produce_keyed(bootstrap, topic, records)


async def prepared_topics(bootstrap: str, sim: SimData,
                          records: list[Keyed] | None = None) -> tuple[str, str]:
    """Fresh access and deployments topics holding the scenario's deployments and
    ``records`` (default: all of them; ``[]`` for none yet)."""
    access, deps = await make_topics(bootstrap)
    await load_deployments(bootstrap, deps, sim)
    await feed(bootstrap, access, sim.records if records is None else records)
    return access, deps


def service_settings(bootstrap: str, access: str, deps: str, group: str,
                     **kw: Any) -> ServiceSettings:
    base: dict[str, Any] = {
        "bootstrap_servers": bootstrap, "topics": (access,), "deployments_topic": deps,
        "group_id": group, "metrics_port": 0, "checkpoint_every": 1.0,
        "drain_when_idle": 3.0, "dead_letter_topic": f"{group}-dlq", **FAST,
    }
    base.update(kw)
    return ServiceSettings(**base)


def runtime(cfg: ServiceSettings, sink_path: Path, log_path: Path | None = None) -> ServiceRuntime:
    stream = open(log_path, "a") if log_path else open("/dev/null", "w")  # noqa: SIM115
    return ServiceRuntime(cfg, Settings(), [make_sink(f"jsonl:{sink_path}")],
                          log=JsonLog(stream, instance=sink_path.stem))


async def run_until_drained(rt: ServiceRuntime, timeout: float = 60.0) -> None:
    await asyncio.wait_for(rt.run(), timeout)


def consumed(*rts: ServiceRuntime) -> int:
    """Records processed by the instances together (the furthest offset per partition)."""
    best: dict[object, int] = {}
    for rt in rts:
        for tp, st in list(rt.parts.items()):
            if st.ready and st.next_offset is not None:
                best[tp] = max(best.get(tp, 0), st.next_offset)
    return sum(best.values())


async def wait_for(cond: object, timeout: float = 40.0) -> None:
    """Poll ``cond()`` every 0.1 s until it holds; TimeoutError after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.1)
