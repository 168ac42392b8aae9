"""``POST /verdict``: the release verdict as a Flagger webhook answers it.

Flagger posts ``{"name", "namespace", "phase", "checksum", "metadata": {...}}``
(metadata is the webhook's ``metadata`` map from the Canary, string values)
and reads only the status code: 2xx lets the canary go on, anything else holds
it. So the answer is 200 for a verdict a deploy may keep (``pass``, and
``marginal`` unless ``metadata.strict`` is true) and 412 for the others, with
the verdict and the checks behind it in a short JSON body (Flagger puts the
body in its events). ``metadata.mode: rollback`` inverts the question for a
Flagger ``rollback`` hook, where 2xx means "roll back": 200 only on ``fail``.

Which release: ``metadata.service`` (else the Canary's ``name``) and
``metadata.version`` (required: Flagger knows no version, the Canary's
webhook metadata must carry it, e.g. templated from the image tag).

The port may be reachable by anyone, so a request is bounded: a body up to
64 KiB (413 beyond, refused before reading), a ``Content-Length`` (411
without), at most ``max_in_flight`` verdicts computed at once (503 beyond), and
a judge that does not answer within ``timeout`` seconds gives 503 (Flagger asks
again at its next interval; a judge's thread, which cannot be stopped, holds its
place among those in flight until it ends).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

MAX_BODY = 64 * 1024
JUDGE_TIMEOUT = 8.0  # below the HTTP server's 10 s connection deadline
MAX_IN_FLIGHT = 2
MAX_LISTED_CHECKS = 10  # a Flagger event holds the body: keep it short
VERDICTS = ("pass", "marginal", "fail", "inconclusive")
TRUE_WORDS = ("true", "1", "yes", "on")

Verdict = tuple[str, dict[str, Any] | None]
Judge = Callable[[str, str], Verdict | Awaitable[Verdict]]


class UnknownRelease(LookupError):
    """Raised by a judge that has never seen this service or version: answered 404."""


class JudgeNotReady(RuntimeError):
    """Raised by a judge that cannot answer yet (starting, restoring): answered 503."""


class WebhookError(Exception):
    """A request refused with ``code`` and a one-line ``why``."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code
        self.why = why


@dataclass(frozen=True)
class VerdictRequest:
    """What a webhook call asks: the release, how strict, and which question.

    >>> parse_request(b'{"name": "payments", "namespace": "prod", "phase": "Progressing",'
    ...               b' "metadata": {"version": "2.32.0", "strict": "true"}}')
    VerdictRequest(service='payments', version='2.32.0', strict=True, mode='gate')
    """

    service: str
    version: str
    strict: bool = False
    mode: str = "gate"  # "gate": 200 = keep it; "rollback": 200 = roll it back


def _text(meta: Mapping[str, Any], payload: Mapping[str, Any], key: str,
          fallback: str | None) -> str | None:
    value = meta.get(key)
    if value is None and fallback is not None:
        value = payload.get(fallback)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise WebhookError(400, f"{key} must be a non-empty string of at most 200 characters")
    return value.strip()


def parse_request(body: bytes) -> VerdictRequest:
    """The request in a Flagger webhook body; :class:`WebhookError` (400) if it holds none.

    Unknown fields (``phase``, ``checksum``, other metadata) are ignored.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookError(400, f"body is not JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(payload, dict):
        raise WebhookError(400, "body must be a JSON object")
    meta = payload.get("metadata") or {}
    if not isinstance(meta, dict):
        raise WebhookError(400, "metadata must be a JSON object")
    service = _text(meta, payload, "service", "name")
    if service is None:
        raise WebhookError(400, "no service: set metadata.service (or the Canary name)")
    version = _text(meta, payload, "version", None)
    if version is None:
        raise WebhookError(400, "no version: set metadata.version in the Canary's webhook")
    strict = meta.get("strict", False)
    if isinstance(strict, str):
        strict = strict.strip().lower() in TRUE_WORDS
    mode = meta.get("mode", "gate")
    if mode not in ("gate", "rollback"):
        raise WebhookError(400, "metadata.mode must be gate or rollback")
    return VerdictRequest(service, version, strict=bool(strict), mode=str(mode))


def status_for(verdict: str, *, strict: bool = False, mode: str = "gate") -> int:
    """The HTTP status Flagger acts on.

    >>> [status_for(v) for v in VERDICTS]
    [200, 200, 412, 412]
    >>> status_for("marginal", strict=True), status_for("fail", mode="rollback")
    (412, 200)
    """
    if mode == "rollback":
        return 200 if verdict == "fail" else 412
    keep = verdict == "pass" or (verdict == "marginal" and not strict)
    return 200 if keep else 412


_RANK = {"fail": 0, "inconclusive": 1, "marginal": 2}
_CHECK_KEYS = ("check", "route", "result", "critical", "baseline", "candidate", "interval",
               "mde", "needed_requests", "incidents")


def failing_checks(record: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], int]:
    """The checks that did not pass, worst first (critical, then fail, inconclusive,
    marginal), at most :data:`MAX_LISTED_CHECKS`; and how many there are in all.

    >>> rec = {"checks": [{"check": "latency_p95", "route": "*", "result": "pass"},
    ...                   {"check": "error_share", "route": "GET /a", "result": "fail",
    ...                    "critical": True, "baseline": 0.01, "candidate": 0.2}]}
    >>> failing_checks(rec)
    ([{'check': 'error_share', 'route': 'GET /a', 'result': 'fail', 'critical': True, \
'baseline': 0.01, 'candidate': 0.2}], 1)
    """
    checks = [c for c in (record or {}).get("checks") or []
              if isinstance(c, dict) and c.get("result") in _RANK]
    checks.sort(key=lambda c: (not c.get("critical"), _RANK[c["result"]],
                               str(c.get("check")), str(c.get("route"))))
    listed = [{k: c[k] for k in _CHECK_KEYS if k in c} for c in checks[:MAX_LISTED_CHECKS]]
    return listed, len(checks)


def _reason(req: VerdictRequest, verdict: str, failing: list[dict[str, Any]]) -> str:
    head = f"{req.service} {req.version}: {verdict}"
    if not failing:
        return head
    worst = failing[0]
    return f"{head} ({worst.get('check')} on {worst.get('route')}: {worst.get('result')})"


def answer_body(req: VerdictRequest, verdict: str,
                record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON answer: a one-line reason first (Flagger logs it), then the numbers."""
    failing, total = failing_checks(record)
    body: dict[str, Any] = {"reason": _reason(req, verdict, failing), "verdict": verdict,
                            "service": req.service, "version": req.version}
    rec = record or {}
    for key in ("score", "traffic", "not_evaluated", "notes", "digest"):  # notes: "interim..."
        if key in rec:
            body[key] = rec[key]
    body["failing_checks"] = failing
    if total > len(failing):
        body["more_failing_checks"] = total - len(failing)
    return body


def content_length(headers: Mapping[str, str]) -> int:
    """The body length a request announces; 411 without one, 413 over :data:`MAX_BODY`."""
    raw = headers.get("content-length")
    if raw is None:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise WebhookError(411, "chunked bodies are not accepted: send a Content-Length")
        return 0
    if not raw.strip().isdigit():
        raise WebhookError(400, "Content-Length is not a number")
    n = int(raw)
    if n > MAX_BODY:
        raise WebhookError(413, f"body of {n} bytes is over the {MAX_BODY} byte limit")
    return n


class VerdictWebhook:
    """Answers ``POST /verdict`` with an injected ``judge(service, version)``.

    ``judge`` returns ``(verdict, release record or None)``, ``("unknown", None)``
    or raises :class:`UnknownRelease` for a release it has never seen (404), and
    raises :class:`JudgeNotReady` when it cannot answer yet (503). A plain
    function runs in a worker thread, or on the loop with ``on_loop`` (a judge
    reading state the event loop owns, such as the service's pipelines: it must
    be quick); an ``async def`` one runs on the loop. Without a judge every call
    is 503.

    >>> hook = VerdictWebhook(lambda service, version: ("fail", None))
    >>> code, body = asyncio.run(hook.answer(b'{"name": "payments",'
    ...                                       b' "metadata": {"version": "2.32.0"}}'))
    >>> code, body["reason"]
    (412, 'payments 2.32.0: fail')
    >>> asyncio.run(VerdictWebhook(None).answer(b"{}"))[0]
    503
    """

    def __init__(self, judge: Judge | None, *, on_loop: bool = False,
                 timeout: float = JUDGE_TIMEOUT, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.judge = judge
        self.on_loop = on_loop
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def read(self, headers: Mapping[str, str], reader: asyncio.StreamReader) -> bytes:
        """The request body, bounded (see :func:`content_length`)."""
        n = content_length(headers)
        if n == 0:
            return b""
        try:
            return await reader.readexactly(n)
        except asyncio.IncompleteReadError:
            raise WebhookError(400, f"body shorter than its Content-Length ({n})") from None

    async def answer(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """``(status, JSON body)`` for one request body."""
        if self.judge is None:
            return 503, {"error": "no verdict judge configured in this service"}
        try:
            req = parse_request(body)
        except WebhookError as exc:
            return exc.code, {"error": exc.why}
        if self.in_flight >= self.max_in_flight:
            return 503, {"error": f"{self.in_flight} verdicts being computed: try again"}
        self.in_flight += 1  # given back when the judge is done (see _judge)
        try:
            verdict, record = await self._judge(self.judge, req)
        except UnknownRelease as exc:
            return 404, {"error": f"unknown release {req.service} {req.version}"
                                  + (f": {exc}" if str(exc) else "")}
        except JudgeNotReady as exc:
            return 503, {"error": f"verdict not ready: {exc}" if str(exc)
                         else "verdict not ready"}
        except TimeoutError:
            return 503, {"error": f"no verdict within {self.timeout:g} s: try again"}
        if verdict == "unknown":
            return 404, {"error": f"unknown release {req.service} {req.version}"}
        return (status_for(verdict, strict=req.strict, mode=req.mode),
                answer_body(req, verdict, record))

    async def _judge(self, judge: Judge, req: VerdictRequest) -> Verdict:
        if self.on_loop or inspect.iscoroutinefunction(judge):
            try:
                async with asyncio.timeout(self.timeout):
                    res = judge(req.service, req.version)
                    out: object = await res if inspect.isawaitable(res) else res
            finally:
                self.in_flight -= 1
        else:
            # A thread cannot be cancelled: past the timeout it runs on, and keeps its
            # place in ``in_flight`` until it ends, so hung judges cannot pile up.
            loop = asyncio.get_running_loop()
            work = loop.run_in_executor(None, self._in_thread, loop, judge, req)
            async with asyncio.timeout(self.timeout):
                out = await work
        return _checked(out)

    def _in_thread(self, loop: asyncio.AbstractEventLoop, judge: Judge,
                   req: VerdictRequest) -> object:
        try:
            return judge(req.service, req.version)
        finally:
            loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        self.in_flight -= 1

    async def serve(self, method: str, headers: Mapping[str, str],
                    reader: asyncio.StreamReader) -> tuple[int, str]:
        """One HTTP exchange: ``(status, JSON text)``; only POST is accepted."""
        if method != "POST":
            return 405, _dump({"error": "POST a Flagger webhook payload to /verdict"})
        try:
            body = await self.read(headers, reader)
        except WebhookError as exc:
            return exc.code, _dump({"error": exc.why})
        code, doc = await self.answer(body)
        return code, _dump(doc)


def _checked(out: object) -> Verdict:
    """A judge's answer, or ValueError: a bug in the judge is a 500, never a verdict."""
    if isinstance(out, tuple) and len(out) == 2 and out[0] in (*VERDICTS, "unknown") \
            and (out[1] is None or isinstance(out[1], dict)):
        return str(out[0]), out[1]
    raise ValueError(f"judge returned {type(out).__name__} {str(out)[:80]!r}, "
                     "not (verdict, record or None)")


def _dump(doc: Mapping[str, Any]) -> str:
    return orjson.dumps(doc).decode() + "\n"
