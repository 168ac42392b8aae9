"""A model the registry refuses (issue 8, item 11).

``detector run --models`` with a tampered ``current`` version used to report
ready ("4 partitions") and process nothing: the refusal was raised inside the
rebalance callback. Now the start fails (exit 2, one line naming the model and
the registry's reason) before the group is joined; a version refused later, on
a hot reload or a new assignment, is logged once and the last good one kept.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.analysis.request_model import MODEL_NAME
from detector.config import Settings
from detector.kafka import EmbeddedBroker, produce_lines
from detector.models.registry import ModelRegistry
from detector.service.jsonlog import JsonLog
from detector.service.models import ModelLoader, ModelRefused
from detector.service.runtime import ServiceRuntime
from detector.sinks import MemorySink

from .conftest import make_topics, service_settings, unique

LINE = orjson.dumps({"timestamp": "2026-11-29T10:00:00Z", "service.name": "shop",
                     "http.request.method": "GET", "url.path": "/cart",
                     "http.response.status_code": 200})


def publish(models: Path, name: str = MODEL_NAME, *, tampered: bool = False) -> str:
    """A version of ``name``; ``tampered``: its artifact changed after publishing."""
    reg = ModelRegistry(models)
    version = reg.publish(name, None, artifacts={"notes.txt": os.urandom(8)})
    if tampered:
        (models / name / version / "notes.txt").write_bytes(b"changed afterwards")
    return version


def events(log: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in log.read_bytes().splitlines() if line.strip()]


async def until(cond: Callable[[], bool], timeout: float) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.slow
def test_refused_model_fails_the_start_with_one_line(broker: EmbeddedBroker,
                                                     tmp_path: Path) -> None:
    models = tmp_path / "models"
    version = publish(models, tampered=True)
    group = unique("refused")
    proc = subprocess.run(
        [sys.executable, "-m", "detector", "run", "--bootstrap-servers",
         broker.bootstrap_servers, "--topic", unique("access"), "--group-id", group,
         "--models", str(models), "--metrics-port", "0", "--sink", "jsonl:/dev/null"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("detector: error: model 'request'")
    assert version in last and "sha256 mismatch" in last and "Traceback" not in proc.stderr
    logged = [orjson.loads(x) for x in proc.stderr.splitlines() if x.startswith("{")]
    assert [e["event"] for e in logged] == ["model refused"]  # never started, never joined


async def test_version_refused_on_hot_reload_keeps_the_running_one(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    v1 = publish(models)
    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs, partitions=1)
    await produce_lines(bs, access, [LINE] * 3)
    cfg = service_settings(bs, access, deps, unique("reload-refused"), drain_when_idle=None,
                           models=models, model_check_every=0.2, state_dir=tmp_path / "state")
    log = tmp_path / "log.jsonl"
    rt = ServiceRuntime(cfg, Settings(), [MemorySink()], log=JsonLog(open(log, "a")))  # noqa: SIM115
    task = asyncio.create_task(rt.run())

    def versions() -> set[str | None]:
        return {st.pipeline.analyzer.version for st in rt.parts.values()
                if st.ready and st.pipeline.analyzer is not None}

    def offsets() -> int:
        return sum(st.next_offset or 0 for st in rt.parts.values())

    try:
        assert await until(lambda: versions() == {v1} and offsets() == 3, 30)
        v2 = publish(models, tampered=True)
        await asyncio.sleep(1.5)  # several model checks
        assert versions() == {v1} and not task.done()
        refused = [e for e in events(log) if e["event"] == "model refused"]
        assert len(refused) == 1, refused  # logged once, not at every check
        assert refused[0]["version"] == v2 and refused[0]["kept"] == v1
        assert "sha256 mismatch" in refused[0]["error"]
        await produce_lines(bs, access, [LINE] * 2)  # still consuming
        assert await until(lambda: offsets() == 5, 20)
        v3 = publish(models)  # a good version again: swapped in
        assert await until(lambda: versions() == {v3}, 20)
    finally:
        rt.request_stop("test")
        code = await asyncio.wait_for(task, 30)
    assert code == 0 and rt.failure is None


def test_new_assignment_after_a_refusal_gets_the_last_good_version(tmp_path: Path) -> None:
    models = tmp_path / "models"
    log: list[tuple[str, dict[str, Any]]] = []
    loader = ModelLoader(models, lambda event, **kw: log.append((event, kw)))
    v1 = publish(models)
    assert loader.check() == v1
    v2 = publish(models, tampered=True)
    own = f"{MODEL_NAME}.access.0"
    publish(models, own, tampered=True)
    name, analyzer = loader.load(MODEL_NAME)
    assert (name, analyzer.version) == (MODEL_NAME, v1)
    name, analyzer = loader.load(own)  # a refused own model: the shared one
    assert (name, analyzer.version) == (MODEL_NAME, v1)
    assert loader.is_refused(MODEL_NAME) and loader.is_refused(own)
    refused = [kw["version"] for event, kw in log if event == "model refused"]
    assert v2 in refused and len(refused) == len(set(refused))  # each logged once

    fresh = ModelLoader(models, lambda event, **kw: None)  # nothing loaded before
    with pytest.raises(ModelRefused, match="sha256 mismatch"):
        fresh.check()
    with pytest.raises(ModelRefused, match="no version the registry accepts"):
        fresh.load(MODEL_NAME)
