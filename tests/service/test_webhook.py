"""``POST /verdict`` (Flagger webhook): real HTTP round trips on loopback.

The judge is a test double of the verdict engine: a table of releases with
their verdict and record, the shape the engine returns (CONTRACTS §6).
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from detector.service.jsonlog import JsonLog
from detector.service.metrics import HttpEndpoints, Metrics
from detector.service.webhook import (
    MAX_BODY,
    MAX_LISTED_CHECKS,
    JudgeNotReady,
    UnknownRelease,
    Verdict,
    VerdictWebhook,
)


def check(name: str, route: str, result: str, critical: bool = False,
          **extra: Any) -> dict[str, Any]:
    return {"check": name, "route": route, "baseline": 0.004, "candidate": 0.118,
            "interval": [0.09, 0.14], "mde": 0.01, "result": result, "critical": critical,
            "incidents": [], **extra}


def record(verdict: str, checks: list[dict[str, Any]], score: int) -> dict[str, Any]:
    return {"schema": 1, "service": "payments", "version": "x", "checks": checks,
            "not_evaluated": ["attack_findings"], "score": score, "verdict": verdict,
            "traffic": {"baseline_requests": 41230, "candidate_requests": 40112},
            "digest": "sha256:" + "0" * 64, "signature": None}


RELEASES: dict[tuple[str, str], Verdict] = {
    ("payments", "2.32.0"): ("pass", record("pass", [check("error_share", "*", "pass")], 96)),
    ("payments", "2.33.0"): ("fail", record("fail", [
        check("latency_p95", "GET /v2/payments", "marginal"),
        check("error_share", "POST /v2/payments/{id}/refunds", "fail", critical=True,
              incidents=["inc-7f3a9c2e41d0"]),
        check("error_share", "*", "pass"),
    ], 12)),
    ("payments", "2.34.0"): ("marginal", record("marginal", [
        check("latency_p95", "GET /v2/payments", "marginal")], 70)),
    ("payments", "2.35.0"): ("inconclusive", record("inconclusive", [
        check("error_share", "*", "inconclusive", needed_requests=12000)], 0)),
    ("catalog", "1.0.0"): ("fail", record("fail", [
        check("error_share", f"GET /r{i}", "fail") for i in range(25)], 0)),
}


class Judge:
    """Looks releases up in :data:`RELEASES`; records who asked, from which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.threads: set[str] = set()

    def __call__(self, service: str, version: str) -> Verdict:
        self.calls.append((service, version))
        self.threads.add(threading.current_thread().name)
        if service == "restoring":
            raise JudgeNotReady("partitions restoring")
        try:
            return RELEASES[service, version]
        except KeyError:
            raise UnknownRelease("no deployment seen") from None


async def start(judge: Any, **kw: Any) -> HttpEndpoints:
    http = HttpEndpoints(Metrics(), lambda: (True, "ok"), lambda: (True, "ok"),
                         log=JsonLog(io.StringIO()), deadline=5.0,
                         verdict=VerdictWebhook(judge, **kw) if judge is not None else None)
    await http.start("127.0.0.1", 0)
    return http


@pytest.fixture
async def served() -> AsyncIterator[tuple[HttpEndpoints, Judge]]:
    judge = Judge()
    http = await start(judge)
    try:
        yield http, judge
    finally:
        await http.stop()


async def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(raw)
        await w.drain()
        w.write_eof()  # all sent: a body shorter than announced ends here, not at the deadline
        resp = await asyncio.wait_for(r.read(), 10)
    finally:
        w.close()
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    return int(lines[0].split()[1]), headers, body


async def post(port: int, payload: Any, *, raw: bytes | None = None,
               extra: bytes = b"") -> tuple[int, dict[str, Any]]:
    body = raw if raw is not None else orjson.dumps(payload)
    code, headers, data = await exchange(
        port, b"POST /verdict HTTP/1.1\r\nHost: detector\r\nContent-Type: application/json\r\n"
        + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(data)
    doc = orjson.loads(data)
    assert isinstance(doc, dict)
    return code, doc


def flagger(name: str = "payments", **metadata: str) -> dict[str, Any]:
    """A payload as Flagger sends it (metadata values are strings)."""
    return {"name": name, "namespace": "prod", "phase": "Progressing",
            "checksum": "6c8b7f9d5", "metadata": metadata}


# ---- verdicts ------------------------------------------------------------------


async def test_pass_is_200_with_the_verdict(served: tuple[HttpEndpoints, Judge]) -> None:
    http, judge = served
    code, body = await post(http.port, flagger(version="2.32.0"))
    assert code == 200
    assert body["verdict"] == "pass" and body["score"] == 96
    assert body["failing_checks"] == [] and body["reason"] == "payments 2.32.0: pass"
    assert judge.calls == [("payments", "2.32.0")]
    # A plain function runs off the event loop (the service's consume loop lives there).
    assert judge.threads and threading.main_thread().name not in judge.threads


async def test_fail_is_412_naming_the_failing_checks(
        served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    code, body = await post(http.port, flagger(service="payments", version="2.33.0"))
    assert code == 412
    assert body["verdict"] == "fail" and body["score"] == 12
    failing = body["failing_checks"]
    # Worst first: the critical failure, then the marginal one; the passing check is left out.
    assert [(c["check"], c["route"], c["result"]) for c in failing] == [
        ("error_share", "POST /v2/payments/{id}/refunds", "fail"),
        ("latency_p95", "GET /v2/payments", "marginal")]
    assert failing[0]["critical"] is True and failing[0]["incidents"] == ["inc-7f3a9c2e41d0"]
    assert failing[0]["baseline"] == 0.004 and failing[0]["candidate"] == 0.118
    assert body["reason"] == ("payments 2.33.0: fail "
                              "(error_share on POST /v2/payments/{id}/refunds: fail)")
    assert body["not_evaluated"] == ["attack_findings"]


async def test_marginal_passes_unless_strict(served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    code, body = await post(http.port, flagger(version="2.34.0"))
    assert (code, body["verdict"]) == (200, "marginal")
    code, body = await post(http.port, flagger(version="2.34.0", strict="true"))
    assert (code, body["verdict"]) == (412, "marginal")
    assert body["failing_checks"][0]["check"] == "latency_p95"
    code, _ = await post(http.port, {"name": "payments",
                                     "metadata": {"version": "2.34.0", "strict": True}})
    assert code == 412
    code, _ = await post(http.port, flagger(version="2.34.0", strict="false"))
    assert code == 200


async def test_inconclusive_is_412_with_the_traffic_needed(
        served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    code, body = await post(http.port, flagger(version="2.35.0"))
    assert (code, body["verdict"]) == (412, "inconclusive")
    assert body["failing_checks"][0]["needed_requests"] == 12000
    assert body["traffic"]["candidate_requests"] == 40112


async def test_rollback_mode_answers_200_only_for_a_fail(
        served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    expected = {"2.32.0": 412, "2.33.0": 200, "2.34.0": 412, "2.35.0": 412}
    for version, want in expected.items():
        code, _ = await post(http.port, flagger(version=version, mode="rollback"))
        assert code == want, version


async def test_a_long_list_of_failing_checks_is_cut(
        served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    code, body = await post(http.port, flagger("catalog", version="1.0.0"))
    assert code == 412
    assert len(body["failing_checks"]) == MAX_LISTED_CHECKS
    assert body["more_failing_checks"] == 25 - MAX_LISTED_CHECKS


async def test_service_name_falls_back_to_the_canary_name_and_unknown_fields_are_ignored(
        served: tuple[HttpEndpoints, Judge]) -> None:
    http, judge = served
    payload = flagger("payments", version="2.32.0", cmd="ignored")
    payload["unexpected"] = {"nested": [1, 2]}
    code, _ = await post(http.port, payload)
    assert code == 200
    code, _ = await post(http.port, flagger("payments-canary", service="payments",
                                            version="2.32.0"))
    assert code == 200
    assert judge.calls == [("payments", "2.32.0")] * 2


# ---- releases the judge does not know, judge not ready -------------------------


async def test_unknown_release_is_404(served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    code, body = await post(http.port, flagger(version="9.9.9"))
    assert code == 404
    assert body == {"error": "unknown release payments 9.9.9: no deployment seen"}
    code, _ = await post(http.port, flagger("orders", version="2.32.0"))
    assert code == 404


async def test_judge_not_ready_is_503(served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    code, body = await post(http.port, flagger("restoring", version="1"))
    assert code == 503 and body == {"error": "verdict not ready: partitions restoring"}


async def test_without_a_judge_every_call_is_503() -> None:
    http = await start(None)
    try:
        code, body = await post(http.port, flagger(version="2.32.0"))
        assert code == 503
        assert body == {"error": "no verdict judge configured in this service"}
    finally:
        await http.stop()


async def test_a_judge_slower_than_its_timeout_is_503_and_the_server_goes_on() -> None:
    release = asyncio.Event()

    async def slow(service: str, version: str) -> Verdict:
        await release.wait()
        return "pass", None

    http = await start(slow, timeout=0.2)
    try:
        code, body = await post(http.port, flagger(version="1"))
        assert code == 503 and body["error"] == "no verdict within 0.2 s: try again"
        code, _, _ = await exchange(http.port, b"GET /healthz HTTP/1.1\r\n\r\n")
        assert code == 200
    finally:
        release.set()
        await http.stop()


async def test_an_async_judge_runs_on_the_loop() -> None:
    async def judge(service: str, version: str) -> Verdict:
        return "pass", {"checks": [], "score": 100}

    http = await start(judge)
    try:
        code, body = await post(http.port, flagger(version="1"))
        assert (code, body["score"]) == (200, 100)
    finally:
        await http.stop()


async def test_verdicts_in_flight_are_bounded() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def blocking(service: str, version: str) -> Verdict:
        started.release()
        release.wait(10)
        return "pass", None

    http = await start(blocking, max_in_flight=1)
    try:
        first = asyncio.ensure_future(post(http.port, flagger(version="1")))
        await asyncio.to_thread(started.acquire, True, 10)
        code, body = await post(http.port, flagger(version="2"))
        assert code == 503 and "1 verdicts being computed" in body["error"]
        release.set()
        assert (await first)[0] == 200
    finally:
        release.set()
        await http.stop()


async def test_a_hung_thread_keeps_its_place_until_it_ends() -> None:
    release = threading.Event()

    def hung(service: str, version: str) -> Verdict:
        release.wait(10)
        return "pass", None

    hook = VerdictWebhook(hung, timeout=0.2, max_in_flight=1)
    http = await start(None)
    http.verdict = hook
    try:
        code, body = await post(http.port, flagger(version="1"))
        assert code == 503 and body["error"].startswith("no verdict within 0.2 s")
        # Timed out, but its thread still runs: no second one is started.
        code, body = await post(http.port, flagger(version="1"))
        assert code == 503 and "1 verdicts being computed" in body["error"]
        release.set()
        for _ in range(100):  # the thread hands its place back through the loop
            if hook.in_flight == 0:
                break
            await asyncio.sleep(0.05)
        code, _ = await post(http.port, flagger(version="1"))
        assert code == 200 and hook.in_flight == 0
    finally:
        release.set()
        await http.stop()


async def test_a_judge_returning_garbage_is_a_500_not_a_verdict() -> None:
    http = await start(lambda service, version: ("maybe", None))
    try:
        code, _, body = await exchange(
            http.port, b"POST /verdict HTTP/1.1\r\nContent-Length: 40\r\n\r\n"
            + orjson.dumps(flagger(version="1"))[:40])
        assert code == 400  # cut JSON: refused before the judge is asked
        payload = orjson.dumps(flagger(version="1"))
        code, _, body = await exchange(
            http.port, b"POST /verdict HTTP/1.1\r\nContent-Length: "
            + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        assert code == 500 and body == b"internal error\n"
    finally:
        await http.stop()


# ---- bad requests ----------------------------------------------------------------


@pytest.mark.parametrize(("raw", "why"), [
    (b'{"name": "payments", "metadata": {"version": "1"', "body is not JSON"),
    (b"\xff\xfe", "body is not JSON"),
    (b"[1, 2]", "body must be a JSON object"),
    (b'{"name": "payments", "metadata": "version=1"}', "metadata must be a JSON object"),
    (b'{"namespace": "prod", "metadata": {"version": "1"}}', "no service"),
    (b'{"name": "payments", "metadata": {}}', "no version"),
    (b'{"name": "payments", "metadata": {"version": 2}}', "version must be a non-empty"),
    (b'{"name": "", "metadata": {"version": "1"}}', "service must be a non-empty"),
    (b'{"name": "payments", "metadata": {"version": "1", "mode": "maybe"}}',
     "metadata.mode must be"),
    (b"", "body is not JSON"),
])
async def test_bad_payloads_are_400_with_a_one_line_reason(
        served: tuple[HttpEndpoints, Judge], raw: bytes, why: str) -> None:
    http, judge = served
    code, body = await post(http.port, None, raw=raw)
    assert code == 400
    assert body["error"].startswith(why) and "\n" not in body["error"]
    assert judge.calls == []


async def test_an_oversize_body_is_413_before_it_is_read(
        served: tuple[HttpEndpoints, Judge]) -> None:
    http, judge = served
    # Only the announced length: the server answers without waiting for the bytes.
    code, _, body = await exchange(
        http.port, b"POST /verdict HTTP/1.1\r\nContent-Length: "
        + str(MAX_BODY + 1).encode() + b"\r\n\r\n")
    assert code == 413
    assert orjson.loads(body)["error"] == f"body of {MAX_BODY + 1} bytes is over the " \
                                          f"{MAX_BODY} byte limit"
    # At the limit it is read (and judged).
    payload = orjson.dumps(flagger(version="2.32.0", pad="x" * 10))
    padded = payload + b" " * (MAX_BODY - len(payload))
    code, _ = await post(http.port, None, raw=padded)
    assert code == 200 and judge.calls == [("payments", "2.32.0")]


async def test_other_methods_and_framing_errors(served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    code, _, body = await exchange(http.port, b"GET /verdict HTTP/1.1\r\n\r\n")
    assert code == 405 and b"POST" in body
    code, _, body = await exchange(
        http.port, b"POST /verdict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    assert code == 411
    code, _, _ = await exchange(
        http.port, b"POST /verdict HTTP/1.1\r\nContent-Length: -3\r\n\r\n")
    assert code == 400
    code, _, body = await exchange(
        http.port, b"POST /verdict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{}")
    assert code == 400  # the client closed before the announced end
    # The other endpoints are unchanged: still GET/HEAD only.
    code, _, _ = await exchange(http.port, b"POST /metrics HTTP/1.1\r\n\r\n")
    assert code == 405


async def test_answers_are_counted_by_code(served: tuple[HttpEndpoints, Judge]) -> None:
    http, _ = served
    await post(http.port, flagger(version="2.32.0"))
    await post(http.port, flagger(version="2.33.0"))
    await post(http.port, flagger(version="2.33.0"))
    assert http.metrics.value("detector_verdict_requests_total", code="200") == 1
    assert http.metrics.value("detector_verdict_requests_total", code="412") == 2


# ---- the service's own judge: its release book --------------------------------------


async def test_unknown_as_a_verdict_is_404_and_on_loop_judges_run_on_the_loop() -> None:
    threads: list[str] = []

    def judge(service: str, version: str) -> Verdict:
        threads.append(threading.current_thread().name)
        return ("unknown", None) if version == "0" else ("pass", None)

    http = await start(judge, on_loop=True)
    try:
        code, body = await post(http.port, flagger(version="0"))
        assert code == 404 and body == {"error": "unknown release payments 0"}
        code, _ = await post(http.port, flagger(version="1"))
        assert code == 200
        assert threads == [threading.current_thread().name] * 2  # the loop's thread
    finally:
        await http.stop()


async def test_the_service_answers_from_its_release_book() -> None:
    from detector.config import Settings
    from detector.service.config import ServiceSettings
    from detector.service.runtime import ServiceRuntime
    from tests.verdict.records import sample_record

    rt = ServiceRuntime(ServiceSettings(topics=("access",)), Settings(), [],
                        log=JsonLog(io.StringIO()))
    assert rt.ctx.releases is not None  # verdicts are on by default
    hook = rt._verdict_webhook()
    assert hook.on_loop
    payload = orjson.dumps(flagger(version="2.32.0"))
    assert (await hook.answer(payload))[0] == 404  # never deployed
    rt.ctx.releases.add(sample_record())  # judged as its window closed
    code, body = await hook.answer(payload)
    assert code == 412 and body["verdict"] == "fail" and body["digest"].startswith("sha256:")
    assert body["failing_checks"][0]["route"] == "POST /v2/payments/{id}/refunds"
    assert "notes" not in body  # a closed window's record, not an interim judgement
    # A judge given to the runtime wins; without verdicts and without one: 503.
    given = ServiceRuntime(ServiceSettings(topics=("access",)), Settings(), [],
                           log=JsonLog(io.StringIO()), judge=lambda s, v: ("pass", None))
    assert (await given._verdict_webhook().answer(payload))[0] == 200
    off = ServiceRuntime(ServiceSettings(topics=("access",), verdicts=False), Settings(), [],
                         log=JsonLog(io.StringIO()))
    assert (await off._verdict_webhook().answer(payload))[0] == 503
