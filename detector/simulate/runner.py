"""``simulate``: plan the run, generate each service, write logs, labels, manifest."""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict

from detector.simulate import benign, denials_stop, routine
from detector.simulate.anomalies import REGISTRY, Anomaly, PlanContext, injector_for
from detector.simulate.anomalies.new_endpoint import with_launched
from detector.simulate.catalog import CLF_SERVICE, PARTNERS, SERVICES, ServiceSpec
from detector.simulate.clients import ClientPool
from detector.simulate.deploys import ROLLOUT_S, Deploy, assign_versions
from detector.simulate.fillers import Fillers
from detector.simulate.planner import (
    plan_anomalies,
    plan_denials_deploy,
    plan_harmless_deploys,
    plan_releases,
    plan_shapes,
    real_world,
)
from detector.simulate.rates import expected_rates
from detector.simulate.size_control import plan_size_control, size_control_effects
from detector.simulate.traffic import Traffic
from detector.simulate.writers import FORMATTERS, rows, write_lines

DEFAULT_START = datetime(2026, 3, 17, 6, 0, tzinfo=UTC)
PROFILES = ("default", "bench")
BENCH_LINES = 1_000_000


class SimulationSummary(BaseModel):
    """What ``simulate`` wrote.

    >>> SimulationSummary(out_dir="x", files=[], lines=0, lines_per_file={}, labels=0,
    ...                   labels_by_kind={}, deployments=0, elapsed_s=0.0).labels
    0
    """

    model_config = ConfigDict(frozen=True)

    out_dir: str
    files: list[str]
    lines: int  # access-log lines, CLF copy included
    lines_per_file: dict[str, int]
    labels: int
    labels_by_kind: dict[str, int]
    deployments: int  # published in deployments.jsonl
    elapsed_s: float


def _rng(seed: int, name: str) -> np.random.Generator:
    """An independent stream per component, stable when other components change."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(math.floor(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def simulate(out_dir: Path, *, hours: float | None = None, seed: int = 0, rate: float = 1.0,
             start: datetime | None = None, profile: str = "default", gzip: bool = False,
             lines: int | None = None, shapes: bool | None = None) -> SimulationSummary:
    """Write labelled, realistic access logs into ``out_dir``.

    ``hours`` defaults to 8 (``default``) or 2 (``bench``). ``bench`` writes
    one format (flat otel) sized by ``lines`` (default 1,000,000); ``rate``
    is then derived from ``lines``. ``shapes`` adds the real-world shapes, the
    low-traffic service and the benign routines (default: runs of a day or
    more, see ``planner.real_world``; never in ``bench``).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    began = time.perf_counter()
    bench = profile == "bench"
    hours = hours if hours is not None else (2.0 if bench else 8.0)
    if hours <= 0 or rate <= 0:
        raise ValueError("hours and rate must be positive")
    start = (start or DEFAULT_START).astimezone(UTC)
    t0 = start.timestamp()
    minutes = max(1, round(hours * 60))
    t1 = t0 + minutes * 60.0
    real = not bench and (real_world(hours) if shapes is None else shapes)
    services = tuple(replace(s, format="otel") for s in SERVICES) if bench else SERVICES
    if real:
        services += (PARTNERS,)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    lams = {s.name: expected_rates(s, t0, minutes, 1.0, _rng(seed, f"rates/{s.name}"))
            for s in services}
    if bench:
        rate = (lines or BENCH_LINES) / sum(float(x.sum()) * 60.0 for x in lams.values())
    for lam in lams.values():
        lam *= rate
    ctx = PlanContext(services, {k: v.mean(axis=0).tolist() for k, v in lams.items()}, t0, t1)
    batch = None
    denied = None
    if real:
        ctx.minute_rates = lams
        batch = routine.plan_batch(ctx, _rng(seed, "batch"))
        denied = denials_stop.plan_route(ctx, _rng(seed, "denials"))
        if denied is not None:  # before the anomalies: they keep clear of its deploy
            plan_denials_deploy(ctx, _rng(seed, "denials/deploy"), denied)
        plan_shapes(ctx, _rng(seed, "shapes"), hours)
        plan_releases(ctx, _rng(seed, "releases"), hours)
    plan_rng = _rng(seed, "plan")
    anomalies = plan_anomalies(ctx, plan_rng, hours)
    # A benign release (real-world runs): placed clear of the labelled anomalies.
    sized = plan_size_control(ctx, _rng(seed, "size_control")) if real else None
    plan_harmless_deploys(ctx, plan_rng)
    deploys = {s.name: [d for d in ctx.deploys if d.service == s.name] for s in services}
    for s in services:
        assign_versions(s.first_version, deploys[s.name])
    # Routes shipped by deploys join their service's table (no traffic before).
    extended = [with_launched(s, lams[s.name], ctx, anomalies) for s in services]
    services = tuple(s for s, _ in extended)
    lams = {s.name: lam for s, lam in extended}
    since = {(a.service, a.template): a.deploy.version for a in anomalies
             if a.kind == "new_endpoint" and a.deploy is not None}

    total = sum(float(x.sum()) * 60.0 for x in lams.values())
    pool = ClientPool(_rng(seed, "clients"),
                      max(2000, int(total * 0.45)) if bench else 30_000,
                      zipf=0.55 if bench else 1.05)
    fillers = Fillers(_rng(seed, "fillers"), pool,
                      id_span=50_000_000 if bench else 3_000_000)
    benign_rng = _rng(seed, "benign")
    bumped = services[int(benign_rng.integers(len(services)))].name
    found = [benign.bump(lams[bumped], bumped, t0, benign_rng)]
    if real:
        found += routine.marketing_ramps(services, lams, t0, _rng(seed, "marketing"))
    found += routine.weekend_troughs(services, t0, t1)

    counts: dict[str, int] = {}
    versions: dict[str, list[str]] = {}
    for svc in services:
        t = Traffic(svc, t0, lams[svc.name], pool, _rng(seed, f"traffic/{svc.name}"))
        t.baseline()
        if batch is not None and svc.name == batch.service:
            found.append(routine.batch_arrivals(batch, t, _rng(seed, "batch/traffic")))
        if svc.name == CLF_SERVICE:
            found.append(benign.crawler(t, _route(svc, "/v1/products/{sku}"), benign_rng))
        benign.singletons(t, benign_rng)
        denials_here = denied is not None and denied.service == svc.name
        if denied is not None and denials_here:
            found.append(denials_stop.arrivals(denied, t))
        mine = [a for a in anomalies if a.service == svc.name]
        for a in mine:
            injector_for(a).arrivals(a, t)
        t.assign(deploys[svc.name])
        for a in mine:
            injector_for(a).effects(a, t)
        if denied is not None and denials_here:
            denials_stop.effects(denied, t)
        benign.singleton_effects(t)
        if sized is not None and svc.name == sized.deploy.service:
            found.append(size_control_effects(sized, t))
        vs = [svc.first_version] + [d.version for d in t.deploys]
        versions[svc.name] = list(dict.fromkeys(vs))
        name = f"access-{svc.name}.{'otel' if svc.format == 'otel_nested' else svc.format}.log"
        fmt = FORMATTERS[svc.format](svc, t)
        counts[name] = write_lines(_gz(out / name, gzip), map(fmt, rows(t, fillers, vs)), gzip)
        if svc.name == CLF_SERVICE and not bench:
            clf_name = f"clf/access-{svc.name}.clf.log"
            fmt = FORMATTERS["clf"](svc, t)
            counts[clf_name] = write_lines(_gz(out / clf_name, gzip),
                                           map(fmt, rows(t, fillers, vs)), gzip)

    published = _write_deployments(out / "deployments.jsonl", ctx.deploys)
    # Benign cases planned like anomalies (a clean canary) are no label: the manifest lists them.
    labelled = [a for a in anomalies if injector_for(a).labelled]
    found += [_unlabelled(a) for a in anomalies if not injector_for(a).labelled]
    labels = _write_labels(out / "labels.jsonl", labelled)
    kinds = dict.fromkeys([*REGISTRY, *(a.kind for a in labelled)])
    by_kind = {k: sum(a.kind == k for a in labelled) for k in kinds}
    files = [n + (".gz" if gzip else "") for n in counts]
    manifest = {
        "generator": "detector.simulate", "version": 1, "profile": profile, "seed": seed,
        "hours": hours, "rate": rate, "start": _iso(t0), "end": _iso(t1),
        "services": [_service_entry(s, counts, gzip, versions[s.name], since)
                     for s in services],
        "formats": {s.name: ("otel" if s.format == "otel_nested" else s.format)
                    for s in services},
        "clf": None if bench else {"service": CLF_SERVICE,
                                   "file": f"clf/access-{CLF_SERVICE}.clf.log"
                                   + (".gz" if gzip else "")},
        "files": {f: n for f, n in zip(files, counts.values(), strict=True)},
        "rates": {s.name: round(float(lams[s.name].sum()) / minutes, 3) for s in services},
        "labels": by_kind,
        "shapes": _shapes(labelled),
        "real_world": real,
        "deployments": {"published": published, "total": len(ctx.deploys)},
        "benign": [{"kind": b.kind, "service": b.service, "start": _iso(b.start),
                    "end": _iso(b.end), "description": b.description}
                   for b in [*found, *benign.standing(services, t0, t1)] if b is not None],
    }
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return SimulationSummary(
        out_dir=str(out), files=[*files, "deployments.jsonl", "labels.jsonl", "manifest.json"],
        lines=sum(counts.values()), lines_per_file=dict(zip(files, counts.values(), strict=True)),
        labels=labels, labels_by_kind=by_kind, deployments=published,
        elapsed_s=round(time.perf_counter() - began, 3))


def _unlabelled(a: Anomaly) -> benign.Benign:
    """The manifest entry of a benign case planned like an anomaly."""
    version = a.deploy.version if a.deploy is not None else "?"
    return benign.Benign(injector_for(a).shape, a.service, a.start, a.end,
                  a.description.replace("{version}", version))


def _shapes(anomalies: list[Anomaly]) -> dict[str, dict[str, int]]:
    """Labels per kind and shape (``params.shape``)."""
    out: dict[str, dict[str, int]] = {}
    for a in anomalies:
        by = out.setdefault(a.kind, {})
        shape = injector_for(a).shape
        by[shape] = by.get(shape, 0) + 1
    return out


def _gz(path: Path, gzip: bool) -> Path:
    return path.with_name(path.name + ".gz") if gzip else path


def _route(svc: ServiceSpec, template: str) -> int:
    return [r.template for r in svc.routes].index(template)


def _service_entry(s: ServiceSpec, counts: dict[str, int], gzip: bool, versions: list[str],
                   since: dict[tuple[str, str | None], str]) -> dict[str, object]:
    fmt = "otel" if s.format == "otel_nested" else s.format
    name = f"access-{s.name}.{fmt}.log"
    routes: list[dict[str, str]] = []
    for r in s.routes:
        routes.append({"method": r.method, "template": r.template})
        if r.launched:  # shipped during the run by this version (new_endpoint)
            routes[-1]["since"] = since[(s.name, r.template)]
    return {"name": s.name, "format": fmt,
            "layout": "nested" if s.format == "otel_nested" else "flat",
            "file": name + (".gz" if gzip else ""), "lines": counts[name],
            "versions": versions, "routes": routes}


def _write_deployments(path: Path, deploys: list[Deploy]) -> int:
    shown = sorted((d for d in deploys if d.publish), key=lambda d: (d.ts, d.service))
    with open(path, "wb") as f:
        for d in shown:
            rev = f"{zlib.crc32(f'{d.service}{d.version}{d.ts}'.encode()):08x}"[:7]
            f.write(orjson.dumps({
                "type": "deployment", "timestamp": _iso(d.ts), "service.name": d.service,
                "service.version": d.version, "deployment.environment.name": "prod",
                "vcs.revision": rev}) + b"\n")
    return len(shown)


def _write_labels(path: Path, anomalies: list[Anomaly]) -> int:
    with open(path, "wb") as f:
        for i, a in enumerate(anomalies):
            version = a.deploy.version if a.deploy is not None else None
            end = a.fix.ts + ROLLOUT_S if a.fix is not None else a.end
            f.write(orjson.dumps({
                "id": f"lbl-{i + 1:03d}", "service": a.service, "kind": a.kind,
                "route": a.template, "method": a.method, "client": a.client,
                "start": _iso(a.start), "end": _iso(math.ceil(end)), "deployment": version,
                "description": a.description.replace("{version}", version or "?"),
                "params": {"shape": injector_for(a).shape, **a.params, **a.extra}}) + b"\n")
    return len(anomalies)
