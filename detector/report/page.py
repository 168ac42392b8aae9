"""The HTML page: one file, no script, nothing loaded from anywhere.

A Content-Security-Policy in the page forbids scripts and every fetch, so even a text
that escaping missed could not run or call out; escaping (:func:`~detector.report.svg.esc`)
is still applied to every value that came from the logs, incidents or records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from detector import __version__
from detector.incidents.model import Incident
from detector.incidents.timefmt import iso
from detector.report.charts import incident_chart, service_chart
from detector.report.data import ReportData, anchor, route_key
from detector.report.inputs import Deploy
from detector.report.metrics import BAND_WIDTH, BAND_WINDOWS
from detector.report.svg import esc
from detector.report.tables import top_clients, top_routes

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
EVIDENCE_TEXT_MAX = 400  # characters of a nested evidence value shown
SAMPLES_MAX = 5
CHECKS_MAX = 12

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:12px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}
h3{font-size:15px;margin:0 0 4px}
svg{width:100%;height:auto;display:block}
.pane{fill:#fcfcfc;stroke:#ccc}.grid{stroke:#eee}
.ttl{font-size:11px;fill:#555}.yl{font-size:10px;fill:#777;text-anchor:end}
.xl{font-size:10px;fill:#777;text-anchor:middle}
.ln{fill:none;stroke:#1f5fa8;stroke-width:1.2;stroke-linejoin:round;stroke-linecap:round}
.m-p50{stroke:#7fa7d6;stroke-width:.8}.m-err5{stroke:#c0392b}.m-err4_all,.m-err4{stroke:#d68910}
.m-auth{stroke:#8e44ad}.m-nf{stroke:#6c3483}.m-flagged{stroke:#b03a2e}
.band{fill:#1f5fa8;fill-opacity:.13;stroke:none}
.span{fill-opacity:.18}.sev-critical,.sev-high{fill:#e74c3c}.sev-medium{fill:#f39c12}
.sev-low{fill:#f7dc6f}a.incident:hover .span{fill-opacity:.35}
.deploy line{stroke:#2c3e50;stroke-dasharray:3 2}.deploy text{font-size:10px;fill:#2c3e50}
.v-fail line{stroke:#c0392b}.v-fail text{fill:#c0392b}.depl{stroke:#2c3e50;stroke-dasharray:3 2}
.detbase{stroke:#000;stroke-dasharray:5 3;stroke-width:1}
.incchart{width:440px;max-width:100%}.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 8px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}td.n{text-align:right;white-space:nowrap;
font-variant-numeric:tabular-nums}
section.inc{border:1px solid #ddd;border-radius:4px;padding:8px;margin:10px 0}
section.inc:target{border-color:#e74c3c;box-shadow:0 0 0 2px #f5b7b1}
code,pre{font-size:12px;white-space:pre-wrap;word-break:break-all}
.sev{font-weight:bold}.muted{color:#777}.legend{font-size:12px;color:#555}
.verdict-fail{color:#c0392b;font-weight:bold}.verdict-pass{color:#1e8449;font-weight:bold}
"""


def _pct(part: int, whole: int | None) -> str:
    return f"{part / whole * 100:.1f} %" if whole else "-"


def _links(ids: Iterable[str]) -> str:
    return " ".join(f'<a href="#{anchor(i)}">{esc(i)}</a>' for i in ids)


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _value(v: Any) -> str:
    if isinstance(v, float):
        return esc(f"{v:.4g}")
    if isinstance(v, str | int | bool) or v is None:
        return esc(v)
    text = orjson.dumps(v, default=str).decode()
    if len(text) > EVIDENCE_TEXT_MAX:
        text = text[:EVIDENCE_TEXT_MAX] + " ..."
    return f"<code>{esc(text)}</code>"


def _record(data: ReportData, inc: Incident) -> str:
    if inc.deployment is None:
        return ""
    rec = data.records.get(inc.service, inc.deployment.version)
    if rec is None:
        return ""
    if isinstance(rec, str):
        return f'<p class="muted">release record: {esc(rec)}</p>'
    verdict = str(rec.get("verdict"))
    found = rec.get("checks")
    checks: list[Any] = found if isinstance(found, list) else []
    failing = [c for c in checks if isinstance(c, dict) and c.get("result") != "pass"]
    rows = "".join(
        f"<tr><td>{esc(c.get('check'))}</td><td>{esc(c.get('route'))}</td>"
        f"<td class=n>{_value(c.get('baseline'))}</td><td class=n>{_value(c.get('candidate'))}"
        f"</td><td>{esc(c.get('result'))}{' (critical)' if c.get('critical') else ''}</td></tr>"
        for c in failing[:CHECKS_MAX])
    more = f"<p class=muted>{len(failing) - CHECKS_MAX} more</p>" if len(failing) > CHECKS_MAX \
        else ""
    table = ("<table><tr><th>check</th><th>route</th><th>baseline</th><th>candidate</th>"
             f"<th>result</th></tr>{rows}</table>{more}") if failing else ""
    return (f'<p>release record {esc(inc.service)} {esc(inc.deployment.version)}: verdict '
            f'<span class="verdict-{esc(verdict)}">{esc(verdict)}</span>, score '
            f"{esc(rec.get('score'))}, {len(failing)} checks not passed</p>{table}")


def _incident(data: ReportData, inc: Incident, deploys: list[Deploy]) -> str:
    ev = inc.evidence
    fields = [("service", esc(inc.service)), ("route", esc(f"{inc.method or ''} {inc.route}")
                                               if inc.route else "-"),
              ("client", esc(inc.client or "-")), ("status", esc(inc.status)),
              ("start", esc(inc.start)), ("end", esc(inc.end)),
              ("detected at", esc(inc.detected_at)), ("score", _value(inc.score))]
    if inc.version:
        fields.append(("version", esc(inc.version)))
    if inc.suppressed:
        fields.append(("suppressed", "yes"))
    dep = inc.deployment
    if dep is not None:
        fields.append(("deployment", esc(
            f"{dep.version} (after {dep.previous_version or '?'}) at {dep.deployed_at}, "
            f"{dep.seconds_since_deploy} s before"
            + (", suspect" if dep.suspect else ""))))
    evidence = _kv((k, _value(v)) for k, v in ev.items() if k != "samples")
    found = ev.get("samples")
    samples: list[Any] = found if isinstance(found, list) else []
    sample_list = "".join(f"<li><code>{esc(s)}</code></li>" for s in samples[:SAMPLES_MAX])
    rk = route_key(inc)
    windows = data.routes.get((inc.service, rk)) if rk else None
    scope = f"route {rk}" if windows else f"service {inc.service}"
    if not windows:
        windows = data.services.get(inc.service)
    mine = [d for d in deploys if d.service == inc.service]
    chart = incident_chart(inc, windows, data.window_seconds, mine, scope) if windows else ""
    return (f'<section class="inc" id="{anchor(inc.id)}" data-id="{esc(inc.id)}">'
            f'<h3><span class="sev">{esc(inc.severity)}</span> {esc(inc.kind)} · '
            f"{esc(inc.service)} · <code>{esc(inc.id)}</code></h3>"
            f'<p>{esc(inc.summary)}</p><div class="row">{chart}{_kv(fields)}</div>'
            f"<details><summary>evidence</summary>{evidence}</details>"
            + (f"<p>samples</p><ul>{sample_list}</ul>" if sample_list else "")
            + _record(data, inc) + "</section>")


def _tables(data: ReportData) -> str:
    routes = "".join(
        f"<tr><td>{esc(r.service)}</td><td><code>{esc(r.route)}</code></td>"
        f"<td class=n>{'-' if r.requests is None else f'{r.requests:,}'}</td>"
        f"<td class=n>{_pct(r.err5, r.requests)}</td><td class=n>{_pct(r.err4, r.requests)}</td>"
        f"<td class=n>{r.flagged:,}</td><td>{_links(r.incidents)}</td></tr>"
        for r in top_routes(data))
    clients = "".join(
        f"<tr><td><code>{esc(c.client)}</code></td>"
        f"<td class=n>{'-' if c.requests is None else f'{c.requests:,}'}</td>"
        f"<td class=n>{_pct(c.err4, c.requests)}</td><td class=n>{_pct(c.err5, c.requests)}</td>"
        f"<td>{_links(c.incidents)}</td></tr>" for c in top_clients(data))
    return ('<h2 id="top-routes">Top routes</h2><p class="legend">Routes with incidents first, '
            "then the busiest. Requests include those request analysis flagged.</p>"
            "<table><tr><th>service</th><th>route</th><th>requests</th><th>5xx</th><th>4xx</th>"
            f"<th>flagged</th><th>incidents</th></tr>{routes}</table>"
            '<h2 id="top-clients">Top clients</h2><p class="legend">The busiest clients in the '
            "logs, then every client an incident names.</p><table><tr><th>client</th>"
            "<th>requests</th><th>4xx</th><th>5xx</th><th>incidents</th></tr>"
            f"{clients}</table>")


def render(data: ReportData) -> str:
    """The whole report as one HTML document."""
    span = data.span()
    incidents = sorted(data.incidents, key=lambda i: (i.start, i.service, i.id))
    kinds = Counter(i.kind for i in incidents)
    head = (f"{len(data.service_names())} services, {data.events:,} events, "
            f"{len(incidents)} incidents, {len(data.deploys)} deployments")
    if span:
        head += f", {iso(span[0])} to {iso(span[1])}"
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
           '<meta name="viewport" content="width=device-width,initial-scale=1">'
           f"<title>detector report</title><style>{STYLE}</style></head><body>"
           f"<h1>detector report</h1><p>{esc(head)}</p>"]
    if kinds:
        out.append("<p>" + esc(", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
                   + "</p>")
    if data.inputs:
        out.append(f'<p class="muted">inputs: {esc(", ".join(data.inputs))}</p>')
    out.append(
        f'<p class="legend">Lines: per {data.window_seconds:.0f} s window (two points per '
        f"pixel column: each column's lowest and highest). Band: the report's own, the median "
        f"of the previous {BAND_WINDOWS} windows ± {BAND_WIDTH:.0f} robust spreads (1.4826 × "
        "MAD, at least the noise of the window's volume), not the detector's model; the "
        "detector's baseline is the dashed line of each incident chart, from its evidence. "
        "Dashed verticals: deployments (version above). Shaded: incidents (click for the "
        "details).</p>")
    out.extend(f"<p class=muted>{esc(n)}</p>" for n in data.notes)
    for k, service in enumerate(data.service_names()):
        mine = [i for i in incidents if i.service == service]
        deploys = [d for d in data.deploys if d.service == service]
        out.append(f'<h2 id="svc-{k}">{esc(service)}</h2>')
        windows = data.services.get(service, [])
        if not windows:
            out.append('<p class="muted">no traffic of this service in the logs given: '
                       "deployments and incidents only</p>")
        if span:
            out.append(service_chart(service, windows, data.window_seconds, span, deploys,
                                     mine, data.records))
        if mine:
            out.append("<p>incidents: " + _links(i.id for i in mine) + "</p>")
    out.append('<h2 id="incidents">Incidents</h2>')
    if not incidents:
        out.append("<p>none</p>")
    out.extend(_incident(data, inc, data.deploys) for inc in incidents)
    out.append(_tables(data))
    out.append(f'<p class="muted">detector {esc(__version__)}</p></body></html>\n')
    return "".join(out)
