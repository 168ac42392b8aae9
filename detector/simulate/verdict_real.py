"""Release scenarios cut from real access logs (``shared/data/access_logs``).

The real requests stay as they were (client, method, path, status, size,
user agent, latency where the format has one); what changes: the dates are
shifted by whole days into 2026 (the time of day is kept), the OpenStack
excerpt (15 minutes) is stretched to three hours, a deployment of version V
is put at a point of the log, every request after it carries V, and the
scenario's effect rewrites some of those requests. The result is written as
flat OTel JSON so that it carries service and version like the simulated ones.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

from detector.decoding import DecodeError, make_decoder
from detector.events import AccessEvent
from detector.simulate.deploys import Deploy
from detector.simulate.verdict_build import FIRST_DAY, iso, stream, write_deployment

DAY = 86400.0


@dataclass(frozen=True)
class RealSource:
    """One real log: file, format, service name, and how its time is laid out.

    >>> SOURCES["nasa"].fmt, SOURCES["openstack"].span_s
    ('clf', 10800.0)
    """

    path: str  # under the shared data directory
    fmt: str
    service: str
    deploy_at: tuple[float, float]  # where the deploy goes, as a share of the log's span
    span_s: float | None = None  # stretch the log's time to this span (a short excerpt)


SOURCES = {
    # 10,000 requests of one July night in 1995, ~45 a minute falling to ~30.
    "nasa": RealSource("access_logs/nasa_ksc_1995/NASA_access_log_small.gz", "clf", "ksc-www",
                       (0.68, 0.76)),
    # 10,000 requests of a personal site over 3.5 days, ~2 a minute.
    "apache": RealSource("access_logs/apache_logs.log", "clf", "semicomplete", (0.55, 0.85)),
    # 1,017 nova-api requests of 15 minutes, stretched to 3 h: ~5.6 a minute.
    "openstack": RealSource("access_logs/loghub_openstack/OpenStack_2k.log", "wsgi", "nova-api",
                            (0.70, 0.74), span_s=3 * 3600.0),
}


@dataclass(frozen=True)
class RealCase:
    """A deploy put into a real log, its effect and the verdict an honest gate gives.

    >>> RealCase("r", "nasa", "none", "pass", "nothing changes").route
    """

    name: str
    source: str  # a key of SOURCES
    effect: str  # none | errors | latency
    verdict: str
    why: str  # the expected verdict, explained (goes to expected.json "effect")
    path: str | None = None  # the real raw path the effect changes
    route: str | None = None  # that route as the record names it
    checks: tuple[str, ...] = ()
    strength: tuple[float, float] = (0.0, 0.0)  # 5xx share or latency factor


def events(data_dir: Path, src: RealSource) -> list[AccessEvent]:
    """The log's access events, in file order (bad lines and other messages left out)."""
    decoder = make_decoder(src.fmt, src.service)
    path = data_dir / src.path
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[AccessEvent] = []
    with opener(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                ev = decoder.decode(line.rstrip(b"\r\n"), path.name, n)
            except DecodeError:
                continue
            if isinstance(ev, AccessEvent) and ev.status is not None:
                out.append(ev)
    return out


def build_real(case: RealCase, data_dir: Path, seed: int, out: Path) -> dict[str, object]:
    """Write the real-log scenario into ``out``; returns what its expected.json says."""
    src = SOURCES[case.source]
    evs = events(data_dir, src)
    rng = stream(seed, f"real/{case.name}")
    first = min(e.ts for e in evs)
    last = max(e.ts for e in evs)
    stretch = 1.0 if src.span_s is None else src.span_s / max(last - first, 1.0)
    days = math.ceil((FIRST_DAY.timestamp() - first) / DAY) + int(rng.integers(0, 3))

    def when(ts: float) -> float:
        return first + (ts - first) * stretch + days * DAY

    deploy_ts = float(math.floor(when(first + (last - first) * float(rng.uniform(*src.deploy_at)))))
    deploy = Deploy(src.service, deploy_ts, "bad" if case.verdict == "fail" else "harmless",
                    version="2.4.0", previous="2.3.1")
    strength = round(float(rng.uniform(*case.strength)), 3)
    out.mkdir(parents=True, exist_ok=True)
    lines = _write(out / "access.log", _rewritten(evs, case, when, deploy, strength, rng))
    write_deployment(out / "deployments.jsonl", src.service, deploy)
    minutes = (when(last) - when(first)) / 60.0
    expected: dict[str, object] = {
        "scenario": case.name, "seed": seed, "kind": f"real_{case.effect}",
        "service": src.service, "version": deploy.version,
        "previous_version": deploy.previous, "deployed_at": iso(deploy_ts),
        "verdict": case.verdict, "route": case.route if case.verdict == "fail" else None,
        "checks": list(case.checks) if case.verdict == "fail" else [], "mode": "previous",
        "effect": case.why.format(strength=strength), "format": "otel",
        "source": src.path, "requests": lines,
        "requests_per_minute": round(lines / max(minutes, 1.0), 1),
        "params": {"strength": strength, "stretch": round(stretch, 3)},
    }
    return expected


def _rewritten(evs: list[AccessEvent], case: RealCase, when: Callable[[float], float],
               deploy: Deploy, strength: float,
               rng: np.random.Generator) -> Iterator[dict[str, object]]:
    for ev in evs:
        ts = when(ev.ts)
        after = ts >= deploy.ts
        status, dur, size = ev.status, ev.duration, ev.bytes
        if after and ev.path == case.path:
            if case.effect == "errors" and rng.random() < strength:
                status, size = (500 if rng.random() < 0.7 else 503), 320
            elif case.effect == "latency" and dur is not None:
                dur = dur * strength
        rec: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
            + "Z",
            "service.name": deploy.service,
            "service.version": deploy.version if after else deploy.previous,
            "http.request.method": ev.method, "url.path": ev.path,
        }
        if ev.query:
            rec["url.query"] = ev.query
        rec["http.response.status_code"] = status
        if dur is not None:
            rec["http.server.request.duration"] = round(dur, 6)
        rec["client.address"] = ev.client
        if ev.user_agent:
            rec["user_agent.original"] = ev.user_agent
        if size is not None:
            rec["http.response.body.size"] = size
        yield rec


def _write(path: Path, recs: Iterator[dict[str, object]]) -> int:
    n = 0
    with open(path, "wb") as f:
        for rec in recs:
            f.write(orjson.dumps(rec) + b"\n")
            n += 1
    return n
