"""The page: hostile text stays text, every incident and deploy is on it, no script."""

from __future__ import annotations

from html.parser import HTMLParser

from detector.incidents.model import DeploymentRef, Incident
from detector.report.collect import ReportCollector
from detector.report.data import ReportData, anchor
from detector.report.inputs import Deploy, Records
from detector.report.page import render
from tests.report.synth import T0, replay, traffic

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> Tags:
    t = Tags()
    t.feed(page)
    t.close()
    return t


def _incident(i: int, **over: object) -> Incident:
    base: dict[str, object] = dict(
        id=f"inc-00000000000{i}", status="open", kind="error_surge", severity="high",
        service="shop", route="/items/{id}", method="GET", client=None,
        start="2026-03-20T00:20:00Z", end="2026-03-20T00:24:00Z",
        detected_at="2026-03-20T00:21:00Z", score=0.9, summary="GET /items/{id} 5xx",
        evidence={"observed": 0.1, "baseline": 0.01, "requests": 40, "samples": ["GET /x"]},
        deployment=None)
    base.update(over)
    return Incident.model_validate(base)


def _data(incidents: list[Incident], deploys: list[Deploy]) -> ReportData:
    c = ReportCollector(watch={("shop", "GET /items/{id}")})
    replay(traffic(60), c)
    return ReportData(60.0, incidents, deploys, Records(None), services=c.services,
                      routes=c.routes, totals=c.totals, clients=[("10.0.0.1", 90, 0, 9)],
                      events=600)


def test_hostile_incident_text_is_inert() -> None:
    evil = _incident(
        1, id=f"inc-{EVIL}", summary=EVIL, route=f"/items/{EVIL}", client=EVIL,
        evidence={"observed": EVIL, "nested": {"k": EVIL}, "samples": [EVIL, "</code>" + EVIL]},
        deployment=DeploymentRef(version=EVIL, previous_version=EVIL,
                                 deployed_at="2026-03-20T00:10:00Z",
                                 seconds_since_deploy=600, suspect=True))
    deploy = Deploy("shop", EVIL, T0 + 600, EVIL, True)
    page = render(_data([evil], [deploy]))
    tags = _parse(page)
    names = {t for t, _ in tags.tags}
    assert not names & {"script", "img", "iframe", "object", "embed"}, names
    for tag, attrs in tags.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        if tag == "a":
            assert (attrs.get("href") or "#").startswith("#"), attrs
    text = "".join(tags.text)
    assert EVIL in text  # shown as the text it is
    assert "default-src 'none'" in page  # and no script could run even if one slipped in
    assert page.count(f'id="{anchor(evil.id)}"') == 1


def test_every_incident_and_deploy_is_on_the_page() -> None:
    incs = [_incident(1), _incident(2, kind="traffic_spike", start="2026-03-20T00:40:00Z",
                                    end="2026-03-20T00:41:00Z")]
    deploys = [Deploy("shop", "1.1", T0 + 900, "1.0", True),
               Deploy("shop", "1.2", T0 + 1800, "1.1", False)]
    tags = _parse(render(_data(incs, deploys)))
    sections = {a.get("id") for t, a in tags.tags if t == "section"}
    spans = {a.get("data-id") for t, a in tags.tags if t == "a" and a.get("class") == "incident"}
    marks = {a.get("data-version") for t, a in tags.tags
             if t == "g" and "deploy" in (a.get("class") or "")}
    assert sections == spans == {i.id for i in incs}
    assert marks == {"1.1", "1.2"}
    lines = [a["d"] for t, a in tags.tags if t == "path" and "ln" in (a.get("class") or "")]
    assert lines and all((d or "").count(" ") >= 2 for d in lines)  # lines with points
    assert sum(1 for t, a in tags.tags if t == "svg" and a.get("class") == "incchart") == 2


def test_a_release_record_shows_its_verdict_and_failing_checks(tmp_path: object) -> None:
    from pathlib import Path

    from detector.verdict.record import seal, write_record

    root = Path(str(tmp_path))
    record = {"schema": 1, "service": "shop", "version": "1.1", "previous_version": "1.0",
              "deployed_at": "2026-03-20T00:15:00Z", "verdict": "fail", "score": 12,
              "checks": [{"check": "error_share", "route": "GET /items/{id}",
                          "baseline": 0.01, "candidate": 0.1, "result": "fail",
                          "critical": True},
                         {"check": "latency_p95", "route": "GET /items/{id}",
                          "baseline": 0.1, "candidate": 0.1, "result": "pass"}]}
    write_record(root, seal(record, None))
    inc = _incident(1, deployment=DeploymentRef(version="1.1", previous_version="1.0",
                                                deployed_at="2026-03-20T00:15:00Z",
                                                seconds_since_deploy=300, suspect=True))
    data = _data([inc], [Deploy("shop", "1.1", T0 + 900, "1.0", True)])
    data.records = Records(root)
    page = render(data)
    assert 'class="verdict-fail">fail<' in page and "1 checks not passed" in page
    assert "error_share" in page and "latency_p95" not in page
    assert 'class="deploy v-fail"' in page


def test_a_report_without_logs_still_lists_incidents_and_deploys() -> None:
    inc = _incident(1)
    data = ReportData(60.0, [inc], [Deploy("shop", "1.1", T0 + 900, "1.0", True)],
                      Records(None))
    tags = _parse(render(data))
    assert {a.get("id") for t, a in tags.tags if t == "section"} == {inc.id}
    assert {a.get("data-version") for t, a in tags.tags if t == "g"} == {"1.1"}
