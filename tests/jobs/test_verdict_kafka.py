"""``detector verdict`` over Kafka gives the record ``--logs`` gives, byte for byte."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from detector.cli.app import app
from detector.config import Settings
from detector.jobs.verdict import VerdictInputError, judge_files
from detector.jobs.verdict_kafka import daily_history, judge_kafka
from detector.kafka import EmbeddedBroker, KafkaConnection, TopicAdmin, TopicSpec, produce_lines
from detector.verdict.policy import Policy

T0 = 1_773_734_400  # 2026-03-17T08:00:00Z
DEPLOY = T0 + 45 * 60
SERVICE = "shop"


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def access_lines() -> list[bytes]:
    """90 minutes of one service, two requests a second; version 1.1 from the
    deploy on, when one POST /orders in five fails."""
    out = []
    for i in range(90 * 60 * 2):
        ts = T0 + i / 2
        after = ts >= DEPLOY
        post = i % 2 == 1
        status = 500 if after and post and i % 10 == 1 else (201 if post else 200)
        out.append(json.dumps({
            "timestamp": iso(ts), "service.name": SERVICE,
            "service.version": "1.1" if after else "1.0",
            "http.request.method": "POST" if post else "GET",
            "url.path": "/orders" if post else f"/items/{i % 40}",
            "http.response.status_code": status,
            "http.server.request.duration": 0.02 + (i % 7) / 1000,
            "client.address": f"10.0.0.{i % 50}", "user_agent.original": "app/2"}).encode())
    return out


def deployment_line() -> bytes:
    return json.dumps({"type": "deployment", "timestamp": iso(DEPLOY), "service.name": SERVICE,
                       "service.version": "1.1"}).encode()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("verdict-kafka")
    logs, deps = d / "access.log", d / "deployments.jsonl"
    logs.write_bytes(b"\n".join(access_lines()) + b"\n")
    deps.write_bytes(deployment_line() + b"\n")
    return logs, deps


@pytest.fixture(scope="module")
def topics(broker: EmbeddedBroker) -> tuple[str, str]:
    """The same logs in a 2-partition topic keyed by service, stamped with the time
    they were published (as `detector publish` does), and the deployment in its topic."""
    access, deployments = f"access-{uuid.uuid4().hex[:8]}", f"deps-{uuid.uuid4().hex[:8]}"
    conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)

    async def fill() -> None:
        async with TopicAdmin(conn) as admin:
            await admin.ensure_topics([TopicSpec(access, 2), TopicSpec(deployments, 1)])
        await produce_lines(conn, access, access_lines(), lambda _line: SERVICE.encode())
        await produce_lines(conn, deployments, [deployment_line()])

    asyncio.run(fill())
    return access, deployments


def verdict(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, ["verdict", "--service", SERVICE, "--version", "1.1",
                                      "--window", "10m", "--delay", "1m", "--json", *args])
    return result.exit_code, result.stdout


def test_same_record_from_kafka_as_from_files(broker: EmbeddedBroker, files: tuple[Path, Path],
                                             topics: tuple[str, str]) -> None:
    logs, deps = files
    access, deployments = topics
    code_f, out_f = verdict("--logs", str(logs), "--deployments", str(deps))
    code_k, out_k = verdict("--bootstrap-servers", broker.bootstrap_servers, "--topic", access,
                            "--deployments-topic", deployments)
    assert (code_k, out_k) == (code_f, out_f)  # byte for byte, digest included
    record = json.loads(out_k)
    assert code_k == 1 and record["verdict"] == "fail"
    failed = {(c["check"], c["route"]) for c in record["checks"] if c["result"] == "fail"}
    assert ("error_share", "POST /orders") in failed
    # The deployment may come from a file as well.
    code_m, out_m = verdict("--bootstrap-servers", broker.bootstrap_servers, "--topic", access,
                            "--deployments", str(deps))
    assert (code_m, out_m) == (code_f, out_f)


def test_unknown_release_is_an_input_error(broker: EmbeddedBroker,
                                           topics: tuple[str, str]) -> None:
    access, deployments = topics
    with pytest.raises(VerdictInputError, match=r"no deployment of shop 9\.9 in topic deps-"
                                                r"\w+ \(deployments of shop seen: 1\.1\)"):
        judge_kafka(broker.bootstrap_servers, [access], service=SERVICE, version="9.9",
                    policy=Policy(), settings=Settings(), fmt="auto", deployments=None,
                    deployments_topic=deployments, analyzer=None)
    code, _ = verdict("--bootstrap-servers", broker.bootstrap_servers, "--topic", access)
    assert code == 2  # no deployment source at all: said in one line


def test_missing_deployments_topic_is_one_line(broker: EmbeddedBroker,
                                               topics: tuple[str, str]) -> None:
    access, _ = topics
    result = CliRunner().invoke(app, [
        "verdict", "--service", SERVICE, "--version", "1.1", "--bootstrap-servers",
        broker.bootstrap_servers, "--topic", access, "--deployments-topic", "no-such-topic"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "cannot read no-such-topic" in result.stderr and "unknown topic" in result.stderr


def daily_lines() -> list[bytes]:
    """26 hours of one service whose traffic follows the hour of the day (6 to 29
    requests a minute), version 1.1 deployed at 09:00 on the second day."""
    out = []
    for minute in range(26 * 60):
        start = T0 + minute * 60
        n = 6 + time.gmtime(start).tm_hour
        for k in range(n):
            ts = start + k * 60 / n
            out.append(json.dumps({
                "timestamp": iso(ts), "service.name": "daily",
                "service.version": "1.1" if ts >= DAILY_DEPLOY else "1.0",
                "http.request.method": "GET", "url.path": f"/items/{k}",
                "http.response.status_code": 200, "http.server.request.duration": 0.02,
                "client.address": f"10.0.1.{k}", "user_agent.original": "app/2"}).encode())
    return out


DAILY_DEPLOY = T0 + 25 * 3600  # 09:00 the next day (T0 is 08:00)


def test_daily_history_gives_the_daily_correction(broker: EmbeddedBroker,
                                                  tmp_path: Path) -> None:
    lines = daily_lines()
    logs = tmp_path / "daily.log"
    logs.write_bytes(b"\n".join(lines) + b"\n")
    deps = tmp_path / "deployments.jsonl"
    deps.write_bytes(json.dumps({"type": "deployment", "timestamp": iso(DAILY_DEPLOY),
                                 "service.name": "daily", "service.version": "1.1"}).encode())
    topic = f"daily-{uuid.uuid4().hex[:8]}"
    conn = KafkaConnection(bootstrap_servers=broker.bootstrap_servers)

    async def fill() -> None:
        async with TopicAdmin(conn) as admin:
            await admin.ensure_topics([TopicSpec(topic, 1)])
        await produce_lines(conn, topic, lines)

    asyncio.run(fill())
    policy, settings = Policy(window="30m"), Settings()
    common: dict[str, Any] = dict(service="daily", version="1.1", policy=policy,
                                  settings=settings, fmt="auto", deployments=deps, analyzer=None)
    from_files, _ = judge_files([str(logs)], **common)
    daily, _ = judge_kafka(conn, [topic], deployments_topic=None,
                           history=daily_history(policy, settings), **common)
    short, _ = judge_kafka(conn, [topic], deployments_topic=None, **common)

    def growth(record: dict[str, Any]) -> Any:
        rate = [c for c in record["checks"] if c["check"] == "request_rate" and c["route"] == "*"]
        return rate[0].get("daily_growth")

    assert daily == from_files  # a day of history: as the replay of the whole file
    assert growth(daily) == round(15 / 14, 4)  # 08:30-09:00 -> 09:03-09:33, a day before
    assert growth(short) is None  # two hours: no same hours yesterday to scale by
