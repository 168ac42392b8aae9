"""Per-format throughput: the same requests in every supported format, three rates each.

    .venv/bin/python scripts/bench_formats.py [--lines 200000] [--repeat 3] [--json OUT]

The corpus is generated once under ``.bench/formats/``: the simulator's bench profile
(flat OTel, several services) merged into one time-ordered file, then the same
requests re-rendered with the simulator's own writers (:mod:`detector.simulate.writers`:
nested OTel, nginx_json, envoy, CLF) and, for ALB and WSGI (which the simulator does
not write), with the two renderers below. For each format, in the same run:

  raw     the format's cheapest honest parse of a line: ``orjson.loads`` for the JSON
          formats; for CLF, ALB and WSGI the compiled regex ``match`` the decoder uses,
          on the line decoded to str (the decoder's first two steps, nothing else);
  decode  :class:`~detector.decoding.stage.LineDecoder` over the file's lines (chunked,
          as replay reads a file), items only;
  replay  ``run_replay`` without request analysis in a child process.

The code measured is this checkout's, or the one on the caller's PYTHONPATH (to measure
another checkout on the same corpus: ``PYTHONPATH=../other python scripts/bench_formats.py``).

Rates are per CPU second (user + system of the measuring process), best of
``--repeat``: the machine is shared, and CPU time is what other jobs do not inflate.
Ratios are to the format's raw rate. Not a test: a benchmark.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
if "PYTHONPATH" not in os.environ:  # this checkout's code, unless the caller chose another
    sys.path.insert(0, str(REPO))
FORMATS = ("otel", "otel_nested", "nginx_json", "envoy", "clf", "alb", "wsgi")
_MIX = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1

CHILD = r"""
import json, resource, sys
from detector.config import Settings
from detector.jobs.replay import run_replay
from detector.sinks import make_sink
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
out, fmt, path = sys.argv[1:4]
c0 = cpu()
summary, _ = run_replay([path], analyzer=None, settings=Settings(), fmt=fmt, service="default",
                        deployments=None, sinks=[make_sink("jsonl:" + out)], dead_letter=None,
                        progress=False)
import detector
print(json.dumps({"code": detector.__file__, "events": summary.events, "bad": summary.bad,
                  "cpu_s": cpu() - c0, "incidents": sum(summary.incidents.values())}))
"""


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --- the corpus ---------------------------------------------------------------------------

def _otel_lines(sim: Path, lines: int, seed: int) -> list[bytes]:
    """The bench profile's requests, every service in one time-ordered stream."""
    from detector.simulate import simulate

    logs = sorted(sim.glob("access-*.log")) if sim.exists() else []
    if not logs:
        simulate(sim, profile="bench", lines=lines, seed=seed)
        logs = sorted(sim.glob("access-*.log"))
    per_file = [[(orjson.loads(raw)["timestamp"], i, raw.rstrip(b"\n")) for raw in log.open("rb")]
                for i, log in enumerate(logs)]
    return [raw for _, _, raw in heapq.merge(*per_file)]


def _rows(otel: list[bytes]) -> tuple[list[object], list[SimpleNamespace], SimpleNamespace]:
    """Writer rows of the OTel records, each with its service, and the client pool."""
    from detector.decoding.timestamps import parse_timestamp
    from detector.simulate.writers import Row

    pool = SimpleNamespace(ip=[], ua=[], peer=[], xff=[])
    clients: dict[tuple[object, ...], int] = {}
    rows: list[object] = []
    services: list[SimpleNamespace] = []
    by_name: dict[str, SimpleNamespace] = {}
    for i, raw in enumerate(otel):
        d = orjson.loads(raw)
        xff = d.get("http.request.header.x-forwarded-for")
        key = (d["client.address"], d["user_agent.original"], d.get("network.peer.address"),
               xff[0] if xff else None)
        c = clients.setdefault(key, len(clients))
        if c == len(pool.ip):
            for col, v in zip((pool.ip, pool.ua, pool.peer, pool.xff), key, strict=True):
                col.append(v)
        # + 0.0004: the writers read milliseconds back with int(ts * 1000)
        ts = parse_timestamp(d["timestamp"]) + 0.0004
        name = d["service.name"]
        services.append(by_name.setdefault(name, SimpleNamespace(name=name, authority="")))
        rows.append(Row(ts, d["http.request.method"], d["url.path"], d.get("url.query", ""),
                        d["http.response.status_code"], d["http.server.request.duration"],
                        d["http.response.body.size"], c, d.get("http.request.body.content"),
                        d["service.version"], (i * _MIX) & _MASK))
    return rows, services, pool


def _alb(svc: SimpleNamespace, t: SimpleNamespace) -> Callable[[object], bytes]:
    """ALB lines (AWS's documented field order) of the writers' rows."""
    ips, uas = t.pool.ip, t.pool.ua

    def fmt(r: Any) -> bytes:
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(r.ts)))
        iso += f".{int(r.ts * 1e6) % 1000000:06d}Z"
        uri = f"{r.path}?{r.query}" if r.query else r.path
        host = f"{svc.name}.example"
        ua = uas[r.client].replace('"', '\\"')
        return (f"https {iso} app/lb/50dc6c495c0c9188 {ips[r.client]}:{1024 + r.rnd % 60000}"
                f" 10.0.1.5:80 0.000 {r.dur:.3f} 0.000 {r.status} {r.status} 120 {r.nbytes}"
                f' "{r.method} https://{host}:443{uri} HTTP/1.1" "{ua}"'
                f" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:tg/{svc.name}"
                f' "Root=1-{r.rnd:016x}" "{host}" "arn:cert" 0 {iso} "forward" "-" "-"'
                f' "10.0.1.5:80" "{r.status}" "-" "-"').encode()

    return fmt


def _wsgi(svc: SimpleNamespace, t: SimpleNamespace) -> Callable[[object], bytes]:
    """OpenStack WSGI access lines (as loghub's OpenStack sample writes them)."""
    ips = t.pool.ip

    def fmt(r: Any) -> bytes:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(r.ts)))
        uri = f"{r.path}?{r.query}" if r.query else r.path
        return (f"{svc.name}-api.log {stamp}.{int(r.ts * 1000) % 1000:03d} 25746 INFO"
                f" nova.osapi_compute.wsgi.server [req-{r.rnd:016x} u p - - -] {ips[r.client]}"
                f' "{r.method} {uri} HTTP/1.1" status: {r.status} len: {r.nbytes}'
                f" time: {r.dur:.7f}").encode()

    return fmt


def ensure_corpus(data: Path, lines: int, seed: int) -> dict[str, Path]:
    """One file per format under ``data`` (reused when present)."""
    files = {fmt: data / f"{fmt}.log" for fmt in FORMATS}
    if all(p.exists() for p in files.values()):
        return files
    from detector.simulate.writers import FORMATTERS

    otel = _otel_lines(data / "sim", lines, seed)
    rows, services, pool = _rows(otel)
    writers = {**FORMATTERS, "alb": _alb, "wsgi": _wsgi}
    for fmt, path in files.items():
        if fmt == "otel":
            out = otel
        else:
            made: dict[str, Callable[[object], bytes]] = {}
            render = writers[fmt]
            out = [made.setdefault(s.name, render(s, SimpleNamespace(pool=pool)))(r)
                   for r, s in zip(rows, services, strict=True)]
        path.write_bytes(b"\n".join(out) + b"\n")
    return files


# --- the rates ------------------------------------------------------------------------------

def _best(run: Callable[[], int], repeat: int) -> tuple[int, float]:
    """Items of one run and the least CPU seconds over ``repeat`` runs."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)  # the replay's garbage-collector settings
    best = float("inf")
    n = 0
    for _ in range(repeat):
        c0 = _cpu()
        n = run()
        best = min(best, _cpu() - c0)
    return n, best


def raw_parse(fmt: str, path: Path) -> Callable[[], int]:
    if fmt not in ("clf", "alb", "wsgi"):
        def loads_all() -> int:
            loads = orjson.loads
            n = 0
            with path.open("rb") as f:
                for raw in f:
                    loads(raw)
                    n += 1
            return n
        return loads_all
    from detector.decoding import alb, clf, wsgi

    match = {"clf": clf._CLF, "alb": alb._ALB, "wsgi": wsgi._WSGI}[fmt].match

    def match_all() -> int:
        n = 0
        with path.open("rb") as f:
            for raw in f:
                if match(raw.decode().rstrip("\r\n")) is not None:
                    n += 1
        return n
    return match_all


def decode_only(fmt: str, path: Path) -> Callable[[], int]:
    from detector.decoding.stage import LineDecoder

    def run() -> int:
        with path.open("rb") as f:
            return sum(1 for _ in LineDecoder(path.name, fmt=fmt.split("_nested")[0])
                       .decode(iter(f)))
    return run


def replay(fmt: str, path: Path, repeat: int) -> dict[str, float]:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    out = path.with_suffix(".incidents.jsonl")
    best: dict[str, float] = {}
    for _ in range(repeat):
        out.unlink(missing_ok=True)
        # -P: not the working directory first on sys.path (a checkout there would shadow
        # the one PYTHONPATH names).
        res = subprocess.run([sys.executable, "-P", "-c", CHILD, str(out),
                              fmt.split("_nested")[0], str(path)],
                             env=env, capture_output=True, text=True, check=True)
        fig = json.loads(res.stdout.strip().splitlines()[-1])
        if not best or fig["cpu_s"] < best["cpu_s"]:
            best = fig
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO / ".bench" / "formats")
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs of each measurement")
    ap.add_argument("--formats", default=",".join(FORMATS), help="comma-separated subset")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    files = ensure_corpus(args.data, args.lines, args.seed)
    figs: dict[str, dict[str, float]] = {}
    print("| format | lines | raw parse (baseline) | raw lines/s | decode lines/s | ratio "
          "| replay events/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for fmt in args.formats.split(","):
        path = files[fmt]
        n_raw, raw_s = _best(raw_parse(fmt, path), args.repeat)
        n_dec, dec_s = _best(decode_only(fmt, path), args.repeat)
        rep = replay(fmt, path, args.repeat)
        raw_rate, dec_rate = n_raw / raw_s, n_dec / dec_s
        rep_rate = rep["events"] / rep["cpu_s"]
        figs[fmt] = {"lines": n_dec, "raw_per_s": round(raw_rate), "decode_per_s": round(dec_rate),
                     "decode_ratio": round(dec_rate / raw_rate, 3), "replay_events": rep["events"],
                     "replay_bad": rep["bad"], "replay_per_s": round(rep_rate),
                     "replay_ratio": round(rep_rate / raw_rate, 3),
                     "incidents": rep["incidents"], "replay_code": rep["code"]}
        base = "orjson.loads" if fmt not in ("clf", "alb", "wsgi") else "regex match"
        print(f"| {fmt} | {n_dec:,} | {base} | {raw_rate:,.0f} | {dec_rate:,.0f} "
              f"| {dec_rate / raw_rate:.3f} | {rep_rate:,.0f} | {rep_rate / raw_rate:.3f} |",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cpu_count": os.cpu_count(), "formats": figs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
