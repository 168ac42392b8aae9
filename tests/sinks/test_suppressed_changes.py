"""Suppressed incident changes (CONTRACTS §7): stores keep them, paging sinks skip them."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from detector.sinks.alertmanager import AlertmanagerSink
from detector.sinks.files import JsonlSink, StdoutSink
from detector.sinks.pagerduty import PagerDutySink
from detector.sinks.slack import SlackSink
from detector.sinks.webhook import WebhookSink
from tests.sinks.incidents import incident


def test_stores_keep_suppressed_changes_and_say_so(tmp_path: Path) -> None:
    hidden, shown = incident(suppressed=True), incident("inc-000000000002")
    out = tmp_path / "i.jsonl"
    sink = JsonlSink(str(out))
    sink.write(hidden)
    sink.write(shown)
    sink.close()
    lines = [orjson.loads(ln) for ln in out.read_bytes().splitlines()]
    assert [ln.get("suppressed") for ln in lines] == [True, None]  # absent when not set
    term = io.StringIO()
    pretty = StdoutSink(term, pretty=True)
    pretty.write(hidden)
    pretty.write(shown)
    first, second = term.getvalue().splitlines()
    assert first.endswith("suppressed") and not second.endswith("suppressed")


def test_paging_sinks_skip_suppressed_changes() -> None:
    url = "http://127.0.0.1:9/x"
    for sink in (WebhookSink(url, allow_private=True), SlackSink(url, allow_private=True),
                 AlertmanagerSink(url, allow_private=True)):
        try:
            sink.write(incident(suppressed=True))
            assert (sink.withheld, sink.pending, sink.undelivered) == (1, 0, 0)
        finally:
            sink.close()
    pd = PagerDutySink("R0UT1NGKEY0123456789012345678901")
    try:
        pd.write(incident(suppressed=True))
        assert (pd.withheld, pd.pending) == (1, 0)
    finally:
        pd.close()
