"""Exit codes and signals (CONTRACTS §4): user mistakes and input that is not an access
log end with exit 2 and one line (not exit 3 "internal error", not exit 0); SIGTERM during
a replay flushes every sink and prints the summary (exit 143)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from probes import Probe, ProbeFailed, check, detector_cmd, run_detector

LINE = ('{"timestamp":%d,"service.name":"%s","http.request.method":"GET","url.path":"%s"%s,'
        '"http.response.status_code":200,"client.address":"%s","user_agent.original":"curl/8"}\n')
SQLI = ',"url.query":"q=1%27%20UNION%20SELECT%20password%20FROM%20users--"'
CLF = '10.0.0.%d - - [17/Mar/2026:09:%02d:%02d +0000] "GET /items/%d HTTP/1.1" 200 5 "-" "-"\n'
T0 = 1773738000


def _otel(n: int = 120) -> str:
    return "".join(LINE % (T0 + i, "pay", f"/v1/items/{i}", "", "10.0.0.1") for i in range(n))


def _clf(n: int = 120) -> str:
    return "".join(CLF % (i % 9, i // 60, i % 60, i) for i in range(n))


def _file(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _one_line_exit_2(args: list[str], cwd: Path) -> str:
    res = run_detector(args, cwd=cwd)
    err = res.stderr.decode(errors="replace")
    lines = err.strip().splitlines()
    shown = " ".join(args)[:60]
    check(res.returncode == 2, f"{shown}: exit {res.returncode}: {err[-300:]}")
    check("Traceback" not in err, f"{shown}: a traceback")
    check(bool(lines) and lines[-1].startswith("detector: error:")
          and sum(x.startswith("detector: error:") for x in lines) == 1,
          f"{shown}: not one error line: {err[-300:]}")
    return lines[-1]


def _refused_registry(work: Path) -> str:
    reg = work / "models" / "request"
    reg.mkdir(parents=True, exist_ok=True)
    (reg / "current").write_text("../../etc")  # a version outside the registry
    return str(work / "models")


def _cases(work: Path) -> dict[str, Callable[[], list[str]]]:
    return {
        "evaluate swapped": lambda: [
            "evaluate", _file(work / "i.jsonl", json.dumps(
                {"id": "inc-1", "status": "open", "kind": "error_surge", "service": "pay",
                 "start": "2026-03-17T09:00:00Z", "end": "2026-03-17T09:01:00Z",
                 "detected_at": "2026-03-17T09:01:00Z"}) + "\n"),
            _file(work / "labels.jsonl", json.dumps(
                {"id": "l", "service": "pay", "kind": "error_surge",
                 "start": "2026-03-17T09:00:00Z", "end": "2026-03-17T09:05:00Z"}) + "\n")],
        "unwritable --dead-letter": lambda: [
            "replay", _file(work / "a.log", _otel()), "--dead-letter",
            str(work / "a.log" / "dl.jsonl")],
        "simulate into a file": lambda: ["simulate", _file(work / "taken", "x")],
        "refused registry": lambda: ["replay", _file(work / "a.log", _otel()),
                                     "--models", _refused_registry(work)],
        "replay /bin/ls": lambda: ["replay", "/bin/ls"],
        "replay a CSV": lambda: ["replay", _file(work / "t.csv", "a,b\n1,2\n")],
        "--format otel on CLF": lambda: ["replay", _file(work / "c.log", _clf()),
                                         "--format", "otel"],
        "access log as --deployments": lambda: [
            "replay", _file(work / "a.log", _otel()), "--deployments",
            _file(work / "d.log", _otel())],
        "scan --models /nonexistent": lambda: [
            "scan", _file(work / "a.log", _otel()), "--models", str(work / "nonexistent")],
    }


def user_mistakes(work: Path) -> str:
    """Every user mistake and non-log input of issue 8 item 15."""
    cases = _cases(work)
    for name, args in cases.items():
        try:
            _one_line_exit_2(args(), work)
        except ProbeFailed as exc:
            raise ProbeFailed(f"{name}: {exc}") from None
    return f"{len(cases)} mistakes refused: exit 2, one line each, no traceback"


def sigterm_mid_replay(work: Path) -> str:
    """SIGTERM once incidents are written: exit 143, summary, every sink the same."""
    out: list[str] = []
    for m in range(120 + 6000):
        out.extend(LINE % (T0 + m * 60 + s, "shop", f"/items/{s}", "", "10.0.0.1")
                   for s in range(40 if m >= 120 else 20))
        if m < 120:
            out.extend(LINE % (T0 + m * 60 + 45 + k, f"svc{m}", "/search", SQLI, f"203.0.{m}.9")
                       for k in range(5))
    log = _file(work / "big.log", "".join(out))
    jl, db, so = work / "i.jsonl", work / "i.db", work / "stdout.jsonl"
    with so.open("wb") as stdout:
        proc = subprocess.Popen([*detector_cmd(), "replay", log, "--sink", "stdout",
                                 "--sink", f"jsonl:{jl}", "--sink", f"sqlite:{db}"],
                                stdout=stdout, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (jl.exists() and jl.stat().st_size):
            check(proc.poll() is None, f"replay ended before any incident: {proc.returncode}")
            check(time.monotonic() < deadline, "no incident written within 120 s")
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, err_b = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err_b.decode(errors="replace")
    check(proc.returncode == 143, f"exit {proc.returncode}: {err[-300:]}")
    check(err.strip().splitlines()[-1].startswith("detector: interrupted by SIGTERM"),
          f"no one-line message: {err[-300:]}")
    check(err.startswith("replay: "), "no summary")

    def ids(raw: bytes) -> set[tuple[str, str]]:
        return {(d["id"], d["status"]) for d in map(json.loads, raw.splitlines())}

    with sqlite3.connect(db) as conn:
        in_db = set(conn.execute("SELECT id, status FROM incident_changes"))
    in_jl, in_so = ids(jl.read_bytes()), ids(so.read_bytes())
    check(in_jl == in_so == in_db, f"sinks differ: jsonl {len(in_jl)}, stdout {len(in_so)}, "
                                   f"sqlite {len(in_db)}")
    return f"exit 143, summary printed, {len(in_jl)} incident changes in all 3 sinks"


PROBES = [
    Probe("exit_codes_user_mistakes", user_mistakes),
    Probe("exit_codes_sigterm_mid_replay", sigterm_mid_replay),
]
