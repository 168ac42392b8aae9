"""HTTP sinks against a local server: payload shapes, retries, give-ups, secrets."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from detector.incidents.model import DeploymentRef
from detector.sinks.alertmanager import AlertmanagerSink
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError
from detector.sinks.http_base import HttpSink, Retry
from detector.sinks.pagerduty import PagerDutySink
from detector.sinks.registry import make_sink
from detector.sinks.slack import SlackSink
from detector.sinks.webhook import WebhookSink

from .incidents import incident, lifecycle

FAST = Retry(base_s=0.01, max_s=0.05, request_timeout_s=2.0, flush_timeout_s=5.0)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Target:
    """What the local server does: fail ``fail_times`` with ``fail_status`` first."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    fail_times: int = 0
    fail_status: int = 503
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DETECTOR_SINKS__ALLOW_PRIVATE", "1")  # the targets here are loopback


@pytest.fixture
def target() -> Iterator[Target]:
    state = Target(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(n))
            with state.lock:
                state.attempts += 1
                failing = state.fail_times > 0
                if failing:
                    state.fail_times -= 1
                else:
                    state.requests.append(Recorded(self.path, dict(self.headers), body))
            self.send_response(state.fail_status if failing else 202)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def dead_url() -> str:
    from detector.kafka.broker import free_port

    return f"http://127.0.0.1:{free_port()}/hook"


def test_all_registered() -> None:
    for spec in ("webhook:http://127.0.0.1:9/x", "slack:http://127.0.0.1:9/x",
                 "alertmanager:http://127.0.0.1:9", "pagerduty:KEY"):
        sink = make_sink(spec)
        assert isinstance(sink, HttpSink)
        sink.close()


def test_webhook_payload_and_idempotency_key(target: Target) -> None:
    sink = WebhookSink(target.url + "/hook", retry=FAST)
    changes = lifecycle()
    for inc in changes:
        sink.write(inc)
    sink.flush()
    sink.close()
    assert [r.body for r in target.requests] == [c.model_dump(mode="json") for c in changes]
    keys = [r.headers["Idempotency-Key"] for r in target.requests]
    assert len(set(keys)) == 4
    assert keys[0] == "inc-000000000001/open/2026-03-17T09:08:00Z/high"
    assert target.requests[0].path == "/hook"
    assert target.requests[0].headers["Content-Type"] == "application/json"


def test_slack_payload(target: Target) -> None:
    sink = SlackSink(target.url + "/services/T/B/X", retry=FAST)
    sink.write(incident(summary="5xx rate <11.8%> & rising"))
    sink.close()
    (req,) = target.requests
    assert set(req.body) == {"text"}
    text = req.body["text"]
    assert "*open*" in text and "error_surge" in text and "*payments*" in text
    assert "&lt;11.8%&gt; &amp; rising" in text and "inc-000000000001" in text


def test_alertmanager_payload(target: Target) -> None:
    sink = AlertmanagerSink(target.url + "/", retry=FAST)
    dep = DeploymentRef(version="2.32.0", previous_version="2.31.0",
                        deployed_at="2026-03-17T09:06:00Z", seconds_since_deploy=60,
                        suspect=True)
    for inc in lifecycle(deployment=dep):
        sink.write(inc)
    sink.close()
    assert {r.path for r in target.requests} == {"/api/v2/alerts"}
    opened, update, escalated, resolved = (r.body for r in target.requests)
    assert len(opened) == 1
    labels = opened[0]["labels"]
    assert labels == {"alertname": "error_surge", "service": "payments", "severity": "high",
                      "incident_id": "inc-000000000001", "route": "/v2/payments/{id}/refunds"}
    assert opened[0]["startsAt"] == "2026-03-17T09:07:00Z"
    assert opened[0]["endsAt"] > "2026-"  # firing: a future wall-clock end
    assert opened[0]["annotations"]["deployment"] == "2.32.0"
    # Same label set for every change of the incident (same fingerprint)...
    assert update[0]["labels"] == labels
    # ...except severity: the escalation resolves the alerts under lower severities.
    assert escalated[0]["labels"] == {**labels, "severity": "critical"}
    lower = {a["labels"]["severity"] for a in escalated[1:]}
    assert lower == {"low", "medium", "high"}
    assert resolved[0]["labels"] == {**labels, "severity": "critical"}
    assert resolved[0]["endsAt"] == "2026-03-17T09:18:00Z"


def test_alertmanager_client_keyed_labels_do_not_carry_the_route(target: Target) -> None:
    sink = AlertmanagerSink(target.url + "/api/v2/alerts", retry=FAST)
    sink.write(incident(kind="scanning", route=None, client="203.0.113.9"))
    sink.write(incident(kind="scanning", status="update", end="2026-03-17T09:30:00Z",
                        route="/wp-login.php", client="203.0.113.9"))
    sink.close()
    first, second = (r.body[0] for r in target.requests)
    assert first["labels"] == second["labels"]
    assert first["labels"]["client"] == "203.0.113.9" and "route" not in first["labels"]
    assert second["annotations"]["route"] == "/wp-login.php"


def test_pagerduty_events(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DETECTOR_PAGERDUTY__URL", target.url + "/v2/enqueue")
    sink = PagerDutySink("R0UTINGKEY", retry=FAST)
    for inc in lifecycle():
        sink.write(inc)
    sink.close()
    events = [r.body for r in target.requests]
    assert [e["event_action"] for e in events] == ["trigger", "trigger", "trigger", "resolve"]
    assert {e["dedup_key"] for e in events} == {"inc-000000000001"}
    assert {e["routing_key"] for e in events} == {"R0UTINGKEY"}
    payload = events[0]["payload"]
    assert payload["severity"] == "error" and events[2]["payload"]["severity"] == "critical"
    assert payload["source"] == "payments" and payload["class"] == "error_surge"
    assert payload["component"] == "/v2/payments/{id}/refunds"
    assert payload["custom_details"]["status"] == "open"
    assert events[3] == {"routing_key": "R0UTINGKEY", "event_action": "resolve",
                         "dedup_key": "inc-000000000001"}
    assert {r.path for r in target.requests} == {"/v2/enqueue"}


def test_retries_5xx_then_succeeds(target: Target) -> None:
    target.fail_times = 3
    sink = WebhookSink(target.url, retry=FAST)
    sink.write(incident())
    sink.flush()
    assert target.attempts == 4 and len(target.requests) == 1 and sink.delivered == 1
    sink.close()


def test_429_is_retried(target: Target) -> None:
    target.fail_times, target.fail_status = 2, 429
    sink = SlackSink(target.url, retry=FAST)
    sink.write(incident())
    sink.close()
    assert len(target.requests) == 1


def test_4xx_gives_up_with_one_log_line(target: Target, caplog: pytest.LogCaptureFixture) -> None:
    target.fail_times, target.fail_status = 1, 400
    sink = WebhookSink(target.url + "/secret-token", retry=FAST)
    with caplog.at_level(logging.WARNING, logger="detector.sinks"):
        sink.write(incident("inc-bad"))
        sink.write(incident("inc-good"))
        sink.flush()
    assert target.attempts == 2 and sink.rejected == 1 and sink.delivered == 1
    assert [r.body["id"] for r in target.requests] == ["inc-good"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "HTTP 400" in lines[0] and "inc-bad" in lines[0]
    assert "secret-token" not in lines[0]
    sink.close()


def test_write_never_blocks_while_the_server_is_down() -> None:
    sink = WebhookSink(dead_url(), retry=Retry(base_s=0.05, max_s=0.2, request_timeout_s=1.0,
                                              flush_timeout_s=0.3))
    t0 = time.monotonic()
    for i in range(2000):
        sink.write(incident(f"inc-{i:012d}"))
    # A write that waited for delivery would wait out a retry back-off (>= 0.05 s) each:
    # >= 100 s for 2,000. Far from that bound, not a speed figure (shared CI machines
    # took 0.9 s for what takes 0.1 s idle).
    assert time.monotonic() - t0 < 20.0
    with pytest.raises(SinkDeliveryError) as info:
        sink.flush()
    assert info.value.retriable and info.value.pending == 2000
    assert "refused" in str(info.value).lower()
    with pytest.raises(SinkDeliveryError):
        sink.close()  # nothing will come up at that port: close says what is lost


def test_queued_changes_survive_the_outage(target: Target) -> None:
    target.fail_times = 10**9  # down
    sink = WebhookSink(target.url, retry=Retry(base_s=0.01, max_s=0.05, flush_timeout_s=0.3))
    for inc in lifecycle():
        sink.write(inc)
    with pytest.raises(SinkDeliveryError):
        sink.flush()
    assert sink.pending == 4
    with target.lock:
        target.fail_times = 0  # back up
    sink.flush()
    sink.close()
    assert [r.body["status"] for r in target.requests] == ["open", "update", "update",
                                                           "resolved"]


def test_overfull_queue_keeps_latest_state_of_each_incident() -> None:
    sink = WebhookSink(dead_url(), retry=Retry(base_s=1.0, flush_timeout_s=0.1),
                       max_pending=10)
    for i in range(3):
        for inc in lifecycle(f"inc-{i:012d}"):
            sink.write(inc)
    assert sink.pending <= 10 + 1
    sink.write(incident("inc-999999999999"))
    with sink._cond:
        queued = list(sink._queue)
    latest = {inc.id: inc for inc in queued}
    assert {i.status for i in list(latest.values())[1:]} <= {"resolved", "open"}
    assert "inc-999999999999" in latest
    with pytest.raises(SinkDeliveryError):
        sink.close()


def test_secrets_from_env_and_file(target: Target, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", target.url + "/from-env")
    secret = tmp_path / "hook"
    secret.write_text(target.url + "/from-file\n")
    key = tmp_path / "pd-key"
    key.write_text("KEY-FROM-FILE\n")
    monkeypatch.setenv("DETECTOR_PAGERDUTY__URL", target.url + "/pd")
    for spec in ("webhook:env:HOOK_URL", f"webhook:file:{secret}", f"pagerduty:file:{key}"):
        sink = make_sink(spec)
        sink.write(incident())
        sink.close()
    assert [r.path for r in target.requests] == ["/from-env", "/from-file", "/pd"]
    assert target.requests[2].body["routing_key"] == "KEY-FROM-FILE"


def test_bad_specs_are_sink_errors(tmp_path: Path) -> None:
    os.environ.pop("NO_SUCH_HOOK", None)
    for spec in ("webhook:env:NO_SUCH_HOOK", f"slack:file:{tmp_path / 'missing'}",
                 "webhook:ftp://example.com/x", "webhook:", "alertmanager:not a url",
                 "pagerduty:"):
        with pytest.raises(SinkError):
            make_sink(spec)
