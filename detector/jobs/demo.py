"""``detector demo``: embedded broker, simulated traffic, the service, incidents on stdout.

Everything runs on this machine and stops by itself: the broker (Tansu, in
memory), ~2 h of simulated traffic with bad deploys streamed into a
4-partition topic keyed by service as fast as the broker takes it (event time
is what matters), and the service draining when the topic is exhausted.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

from detector.config import Settings
from detector.incidents.model import Incident
from detector.jobs.feed import merged_keyed, produce_keyed, sim_access_files
from detector.kafka import BrokerUnavailable, EmbeddedBroker, TopicAdmin, TopicSpec, produce_lines
from detector.service.config import ServiceSettings
from detector.service.runtime import JsonLog, ServiceRuntime
from detector.simulate import simulate
from detector.sinks import MemorySink
from detector.sinks.files import StdoutSink

ACCESS, DEPLOYMENTS, INCIDENTS, DEAD = "access", "deployments", "incidents", "access.dead-letter"


def _say(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def summary_lines(items: list[Incident]) -> list[str]:
    opened = [i for i in items if i.status == "open"]
    kinds = Counter(i.kind for i in opened)
    lines = [f"incidents: {len(opened)} ("
             + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none") + ")"]
    for i in opened:
        if i.deployment is not None and i.deployment.suspect:
            lines.append(f"  deploy-caused: {i.service} {i.deployment.version} -> {i.kind} "
                         f"{i.route or i.client or ''} ({i.id})")
    return lines


def _against_labels(sim_dir: Path, items: list[Incident]) -> list[str]:
    """What the simulation injected (labels.jsonl) next to what the service found."""
    from detector.evaluate.matching import load_incidents, load_labels
    from detector.jobs.demo_report import injected_vs_found

    found = sim_dir / "incidents.jsonl"
    found.write_bytes(b"".join(orjson.dumps(i.model_dump(mode="json")) + b"\n" for i in items))
    return injected_vs_found(load_labels(sim_dir / "labels.jsonl"),
                             load_incidents([found]) if items else [])


async def run_demo(hours: float = 2.0, seed: int = 7, rate: float = 0.5,
                   settings: Settings | None = None) -> int:
    began = time.monotonic()
    try:
        broker = await EmbeddedBroker().__aenter__()
    except BrokerUnavailable as exc:
        _say(f"detector: error: the embedded broker cannot run here: {exc}")
        return 2
    try:
        bs = broker.bootstrap_servers
        from detector.kafka import KafkaConnection

        async with TopicAdmin(KafkaConnection(bootstrap_servers=bs)) as admin:
            await admin.ensure_topics([TopicSpec(ACCESS, 4), TopicSpec(DEPLOYMENTS, 1),
                                       TopicSpec(INCIDENTS, 1), TopicSpec(DEAD, 1)])
        with tempfile.TemporaryDirectory(prefix="detector-demo-") as tmp:
            d = Path(tmp)
            _say(f"demo: broker on {bs}; simulating {hours:g} h of traffic (seed {seed})...")
            await asyncio.to_thread(simulate, d, hours=hours, seed=seed, rate=rate)
            records = await asyncio.to_thread(merged_keyed, sim_access_files(d))
            deps = [ln for ln in (d / "deployments.jsonl").read_bytes().splitlines() if ln]
            await produce_lines(bs, DEPLOYMENTS, deps,
                                key_fn=lambda ln: str(orjson.loads(ln)["service.name"]).encode())
            cfg = ServiceSettings(
                bootstrap_servers=bs, topics=(ACCESS,), deployments_topic=DEPLOYMENTS,
                group_id="detector-demo", metrics_port=0, dead_letter_topic=DEAD,
                checkpoint_every=2.0, drain_when_idle=3.0, session_timeout_ms=2000,
                heartbeat_interval_ms=250, poll_timeout_ms=200, request_timeout_ms=5000,
            )
            memory = MemorySink()
            log_path = d / "service.log"
            with open(log_path, "w") as log_file:
                rt = ServiceRuntime(cfg, settings or Settings(), [StdoutSink(), memory],
                                    log=JsonLog(log_file), handle_signals=True)
                service = asyncio.create_task(rt.run())
                _say(f"demo: streaming {len(records):,} events into '{ACCESS}' "
                     f"(4 partitions, keyed by service); incidents follow:")
                await produce_keyed(bs, ACCESS, records)
                await service
            for line in summary_lines(memory.items):
                _say(line)
            for line in _against_labels(d, memory.items):
                _say(line)
            _say(f"demo: done in {time.monotonic() - began:.0f} s")
        return 0
    finally:
        await broker.__aexit__(None, None, None)
