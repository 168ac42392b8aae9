"""Redaction of request details before they are printed or stored."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_plus

from detector.events import AccessEvent

SENSITIVE_KEYS = re.compile(
    r"pass|pwd|secret|token|auth|session|cookie|key|card|cvv|ssn|iban|account|email|phone|otp|code",
    re.IGNORECASE,
)
# Values that look personal or secret whatever their parameter name. The input
# is capped before matching and the patterns have no nested quantifiers.
_EMAIL = re.compile(r"[^@\s&=]{1,64}@[^@\s&=]{1,255}\.[A-Za-z]{2,24}")
_LONG_DIGITS = re.compile(r"\d{9,19}")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-\.]{24,}")
MAX_VALUE = 64
MAX_QUERY = 512


def redact_value(key: str, value: str) -> str:
    """Redact one query value.

    >>> redact_value("password", "hunter2")
    '[REDACTED]'
    >>> redact_value("q", "red shoes")
    'red shoes'
    >>> redact_value("to", "a@b.example")
    '[EMAIL]'
    """
    if SENSITIVE_KEYS.search(key):
        return "[REDACTED]"
    v = value[:256]
    v = _EMAIL.sub("[EMAIL]", v)
    v = _LONG_DIGITS.sub("[NUMBER]", v)
    v = _TOKENISH.sub("[TOKEN]", v)
    if len(v) > MAX_VALUE:
        v = v[:MAX_VALUE] + "…"
    return v


def redact_query(query: str) -> str:
    """Redact a raw query string, keeping parameter names.

    >>> redact_query("q=shoes&api_key=abc123&page=2")
    'q=shoes&api_key=[REDACTED]&page=2'
    """
    if not query:
        return ""
    out = []
    for part in query[: MAX_QUERY * 4].split("&")[:32]:
        k, sep, v = part.partition("=")
        key = unquote_plus(k)[:64]
        if sep:
            out.append(f"{quote(key, safe='[]._-')}={redact_value(key, unquote_plus(v))}")
        else:
            out.append(quote(key, safe="[]._-"))
    text = "&".join(out)
    return text[:MAX_QUERY] + ("…" if len(text) > MAX_QUERY else "")


def sample_line(ev: AccessEvent) -> str:
    """A short, redacted one-line description of a request for incident evidence.

    >>> from detector.events import AccessEvent
    >>> ev = AccessEvent(0.0, "s", None, "GET", "/a", "token=x&q=1", 503, 0.25, 10,
    ...                  "10.1.2.3", "curl/8", None, None, "f", 7)
    >>> sample_line(ev)
    'GET /a?token=[REDACTED]&q=1 -> 503 in 250 ms from 10.1.2.3 (curl/8) [f:7]'
    """
    q = redact_query(ev.query)
    target = ev.path[:256] + (f"?{q}" if q else "")
    status = "no response" if ev.status is None else str(ev.status)
    dur = f" in {ev.duration * 1000:.0f} ms" if ev.duration is not None else ""
    ua = ev.user_agent[:60]
    return (
        f"{ev.method} {target} -> {status}{dur} from {ev.client} ({ua}) [{ev.source}:{ev.offset}]"
    )
