"""Item 15: user mistakes are exit 2 with one line (they were exit 3 "internal error"), and
input that is not an access log is exit 2 (it was exit 0) — CONTRACTS §4."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

OTEL = (b'{"timestamp":"2026-03-17T09:%02d:%02dZ","service.name":"pay","service.version":"1.0",'
        b'"http.request.method":"GET","url.path":"/v1/items/%d",'
        b'"http.response.status_code":200,"client.address":"10.0.0.1"}\n')
CLF = (b'10.0.0.%d - - [17/Mar/2026:09:%02d:%02d +0000] "GET /items/%d HTTP/1.1" 200 512 "-" '
       b'"curl/8"\n')
LABEL = {"id": "lbl-001", "service": "pay", "kind": "error_surge", "route": "/v1/items/{id}",
         "method": "GET", "client": None, "start": "2026-03-17T09:00:00Z",
         "end": "2026-03-17T09:10:00Z", "deployment": "1.0", "description": "x"}
INCIDENT = {"id": "inc-1", "status": "open", "kind": "error_surge", "severity": "high",
            "service": "pay", "route": "/v1/items/{id}", "start": "2026-03-17T09:01:00Z",
            "end": "2026-03-17T09:02:00Z", "detected_at": "2026-03-17T09:02:30Z",
            "deployment": {"version": "1.0", "suspect": True}}


def otel(n: int = 120) -> bytes:
    return b"".join(OTEL % (i // 60, i % 60, i) for i in range(n))


def clf(n: int = 120) -> bytes:
    return b"".join(CLF % (i % 9, i // 60, i % 60, i) for i in range(n))


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def jsonl(path: Path, *docs: dict[str, object]) -> str:
    return write(path, b"".join(orjson.dumps(d) + b"\n" for d in docs))


def refused_registry(d: Path) -> str:
    (d / "models" / "request").mkdir(parents=True)
    (d / "models" / "request" / "current").write_text("../../etc\n")
    return str(d / "models")


def incident_store(d: Path) -> str:
    from detector.sinks.sqlite import SqliteSink

    SqliteSink(str(d / "i.db")).close()
    return str(d / "i.db")


def busy_port() -> tuple[socket.socket, str]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, str(s.getsockname()[1])


Case = Callable[[Path], list[str]]
CASES: dict[str, Case] = {
    "evaluate swapped": lambda d: [
        "evaluate", jsonl(d / "incidents.jsonl", INCIDENT), jsonl(d / "labels.jsonl", LABEL)],
    "evaluate wrong files": lambda d: [
        "evaluate", write(d / "a.log", otel()), write(d / "b.log", clf())],
    "evaluate incidents not JSON": lambda d: [
        "evaluate", jsonl(d / "labels.jsonl", LABEL), write(d / "b.log", clf())],
    "unwritable dead letter": lambda d: [
        "replay", write(d / "a.log", otel()), "--dead-letter", str(d / "a.log" / "dl.jsonl")],
    "simulate into a file": lambda d: ["simulate", write(d / "taken", b"mine")],
    "since far back": lambda d: [
        "incidents", "list", "--db", incident_store(d), "--since", "99999999999d"],
    "replay refused registry": lambda d: [
        "replay", write(d / "a.log", otel()), "--models", refused_registry(d)],
    "replay a binary": lambda d: ["replay", "/bin/ls"],
    "replay a csv": lambda d: ["replay", write(d / "t.csv", b"a,b,c\n1,2,3\n4,5,6\n")],
    "replay wrong format": lambda d: ["replay", write(d / "a.log", clf()), "--format", "otel"],
    "replay mostly bad": lambda d: [
        "replay", write(d / "a.log", otel(5) + b"garbage line\n" * 20)],
    "replay empty": lambda d: ["replay", write(d / "a.log", b"")],
    "access log as deployments (clf)": lambda d: [
        "replay", write(d / "a.log", otel()), "--deployments", write(d / "d.log", clf())],
    "access log as deployments (json)": lambda d: [
        "replay", write(d / "a.log", otel()), "--deployments", write(d / "d.log", otel())],
    "scan missing models": lambda d: [
        "scan", write(d / "a.log", otel()), "--models", str(d / "nonexistent")],
    "scan a binary": lambda d: ["scan", "/bin/ls"],
}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def assert_one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    lines = res.stderr.strip().splitlines()
    errors = [x for x in lines if x.startswith("detector: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], res.stderr
    return errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_user_mistake_is_exit_2_in_one_line(case: str, tmp_path: Path) -> None:
    res = run(CASES[case](tmp_path), tmp_path)
    err = assert_one_line_error(res)
    if not case.startswith(("replay", "scan a")):  # those print their summary first
        assert res.stderr.strip() == err


def test_busy_metrics_port_is_exit_2(tmp_path: Path) -> None:
    sock, port = busy_port()
    with sock:
        res = run(["run", "--metrics-port", port, "--bootstrap-servers", "127.0.0.1:9"],
                  tmp_path)
    err = assert_one_line_error(res)
    assert "metrics" in err and port in err


@pytest.mark.slow
def test_messages_say_what_is_wrong(tmp_path: Path) -> None:
    swapped = assert_one_line_error(run(CASES["evaluate swapped"](tmp_path), tmp_path))
    assert "labels file comes first" in swapped
    deploys = assert_one_line_error(
        run(CASES["access log as deployments (json)"](tmp_path), tmp_path))
    assert "not a deployments file" in deploys and "bad records" not in deploys
    fmt = assert_one_line_error(run(CASES["replay wrong format"](tmp_path), tmp_path))
    assert "--format otel" in fmt


def test_endless_deployments_input_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    res = run(["replay", write(tmp_path / "a.log", otel()), "--deployments", "/dev/zero"],
              tmp_path)
    err = assert_one_line_error(res)
    assert "larger than 64 MiB" in err, err


@pytest.mark.slow
def test_a_few_bad_deployment_lines_do_not_stop_a_replay(tmp_path: Path) -> None:
    dep = {"type": "deployment", "timestamp": "2026-03-17T09:00:30Z", "service.name": "pay",
           "service.version": "1.1"}
    deps = write(tmp_path / "d.jsonl", orjson.dumps(dep) + b"\n" + orjson.dumps(dep)
                 + b"\n{broken\n")
    res = run(["replay", write(tmp_path / "a.log", otel()), "--deployments", deps], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "2 deployments" in res.stderr and "deployments file, invalid JSON x1" in res.stderr


def test_valid_evaluate_still_scores(tmp_path: Path) -> None:
    res = run(["evaluate", jsonl(tmp_path / "labels.jsonl", LABEL),
               jsonl(tmp_path / "i.jsonl", INCIDENT)], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "error_surge" in res.stdout
