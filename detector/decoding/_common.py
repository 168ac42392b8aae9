"""Field coercions shared by every format: the values arrive as whatever the log writer chose.

Each helper takes one raw field value and returns the canonical type or raises
DecodeError with a short reason. Decoders call them only off their fast path
(when a value is not already the common type), so they favour clarity.
"""

from __future__ import annotations

from typing import Any, NoReturn

from orjson import JSONDecodeError, dumps, loads

from detector.decoding.base import BODY_CAP, MAX_LINE_BYTES, DecodeError

REASON_CAP = 200  # dead-letter reasons are one short line
EXCERPT = 40  # characters of a bad value quoted in a reason

new_event = tuple.__new__  # skips NamedTuple.__new__'s Python frame: ~2.5x cheaper per event

ABSENT = ("", "-")  # how nginx, envoy and CLF write "no value"; a tuple: values may be unhashable


def excerpt(value: object) -> str:
    """A bounded repr for a reason, never the whole payload."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > EXCERPT:
        text = text[: EXCERPT - 3] + "..."
    return text.replace("\n", "\\n").replace("\r", "\\r")


def fail(reason: str) -> NoReturn:
    raise DecodeError(reason[:REASON_CAP])


def internal_error(exc: BaseException) -> DecodeError:
    """The safety net's reason: only DecodeError may leave a decoder, whatever the bytes.

    Tests assert this reason never appears, so a bug still shows up there.
    """
    return DecodeError(f"internal error: {type(exc).__name__}: {excerpt(str(exc))}")


def check_size(raw: bytes) -> None:
    if len(raw) > MAX_LINE_BYTES and len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
        fail(f"line exceeds {MAX_LINE_BYTES} bytes")


def load_object(raw: bytes) -> dict[str, Any]:
    """One JSON object from one record (a trailing newline is JSON whitespace)."""
    if len(raw) > MAX_LINE_BYTES:
        check_size(raw)
    try:
        obj = loads(raw)
    except JSONDecodeError as e:
        msg = str(e)
        if "UTF-8" in msg:
            fail("invalid UTF-8")
        fail(f"invalid JSON: {msg.split(':', 1)[0]}")
    if type(obj) is not dict:
        fail(f"JSON value is not an object: {type(obj).__name__}")
    return obj


def text_line(raw: bytes) -> str:
    """One text record as str, without its line ending."""
    if len(raw) > MAX_LINE_BYTES:
        check_size(raw)
    try:
        line = raw.decode()
    except UnicodeDecodeError:
        fail("invalid UTF-8")
    return line.rstrip("\r\n")


def to_status(v: object) -> int | None:
    """HTTP status; 0 and absent mean "no response was sent"."""
    t = type(v)
    if t is int:
        if 100 <= v <= 599:  # type: ignore[operator]
            return v  # type: ignore[return-value]
        if v == 0:
            return None
    elif v is None:
        return None
    elif t is str:
        if v in ABSENT:
            return None
        s: str = v  # type: ignore[assignment]
        if len(s) <= 3 and s.isdigit() and s.isascii():
            return to_status(int(s))
    elif t is float and v.is_integer():  # type: ignore[attr-defined]
        return to_status(int(v))  # type: ignore[call-overload]
    fail(f"bad status: {excerpt(v)}")


def to_seconds(v: object, scale: float = 1.0) -> float | None:
    """A duration in seconds (``scale`` converts ms/ns); unusable or negative -> None.

    A broken duration loses one measurement, not the request: the event is kept.
    """
    t = type(v)
    if t is float or t is int:
        d = v * scale  # type: ignore[operator]
    elif t is str:
        try:
            d = float(v) * scale  # type: ignore[arg-type]
        except ValueError:
            return None
    else:
        return None
    if d >= 0.0 and d != float("inf"):
        return float(d)
    return None  # negative, NaN (fails >=), inf


def sum_seconds(v: object) -> float | None:
    """nginx $upstream_response_time: "0.1, 0.2" (retries) or "0.1 : 0.2" (internal redirect)."""
    if type(v) is not str:
        return to_seconds(v)
    total = 0.0
    seen = False
    for part in v.replace(":", ",").split(","):
        d = to_seconds(part.strip())
        if d is not None:
            total += d
            seen = True
    return total if seen else None


def to_count(v: object) -> int | None:
    """A byte count; absent, negative or unparseable -> None."""
    if type(v) is int:
        return v if v >= 0 else None
    if type(v) is str:
        return int(v) if v.isdigit() and v.isascii() and len(v) < 20 else None
    if type(v) is float and 0 <= v < 1e18:  # NaN fails the comparison
        return int(v)
    return None


def opt_text(v: object) -> str | None:
    """A free-text field (version, request id): str, or None when absent."""
    t = type(v)
    if t is str:
        return None if v in ABSENT else v  # type: ignore[return-value]
    if t is int or t is float:
        return str(v)
    return None


def strip_port(addr: str) -> str:
    """'1.2.3.4:5678' -> '1.2.3.4', '[::1]:80' -> '::1'; bare IPv6 stays as it is."""
    if ":" not in addr:
        return addr
    if addr[0] == "[":
        end = addr.find("]")
        return addr[1:end] if end > 0 else addr
    host, _, port = addr.partition(":")
    if ":" in port:
        return addr  # bare IPv6: every colon is part of the address
    return host


def client_of(xff: object, peer: object) -> str:
    """The original client: first X-Forwarded-For hop, else the peer (never the LB itself)."""
    if type(xff) is list and xff:
        xff = xff[0]
    if type(xff) is str and xff not in ABSENT:
        first = xff.split(",", 1)[0].strip()
        if first and first not in ABSENT and first != "unknown":
            return strip_port(first)
    if type(peer) is str:
        return "" if peer in ABSENT else strip_port(peer)
    return opt_text(peer) or ""


def to_body(v: object) -> str | None:
    """The request body, whole (see BODY_CAP); JSON bodies go back to compact JSON text."""
    t = type(v)
    if t is str:
        return None if v in ABSENT else v  # type: ignore[return-value]  # within its record
    if v is None:
        return None
    if t is dict or t is list:
        try:
            return dumps(v).decode()[:BODY_CAP]
        except TypeError:  # orjson refuses ints beyond 64 bits
            return repr(v)[:BODY_CAP]
    return str(v)[:BODY_CAP]


def to_method(v: object, field: str = "method") -> str:
    """An upper-case HTTP method token."""
    if type(v) is not str or not v:
        fail(f"missing {field}" if v is None or v == "" else f"bad method: {excerpt(v)}")
    m = v.upper()
    if m.isalpha() and m.isascii() and len(m) <= 24:
        return m
    if len(m) <= 24 and m.isascii() and m.replace("-", "").replace("_", "").isalnum():
        return m
    fail(f"bad method: {excerpt(v)}")


def split_target(target: object, field: str = "path") -> tuple[str, str]:
    """A request target (origin or absolute form) -> (path, query without '?')."""
    if type(target) is not str or target in ABSENT:
        fail(f"missing {field}" if target in (None, "", "-") else f"bad {field}: {excerpt(target)}")
    t = target
    if t[0] != "/" and "://" in t:
        # Absolute form (ALB, proxies): drop scheme and authority.
        rest = t.split("://", 1)[1]
        cut = len(rest)
        for sep in "/?#":
            i = rest.find(sep)
            if 0 <= i < cut:
                cut = i
        t = rest[cut:]
        if not t or t[0] != "/":
            t = "/" + t
    path, _, query = t.partition("?")
    if not path:
        fail(f"missing {field}")
    return path, query


def split_request(line: str) -> tuple[str, str, str]:
    """'GET /p?q HTTP/1.1' -> (method, path, query); HTTP/0.9 lines have no protocol."""
    parts = line.split(" ")
    n = len(parts)
    if n == 3:
        method, target = parts[0], parts[1]
    elif n == 2:
        method, target = parts
    elif n > 3:
        # Unencoded spaces in the target (seen in 1995-era logs).
        end = n - 1 if parts[-1].startswith("HTTP/") else n
        method, target = parts[0], " ".join(parts[1:end])
    else:
        fail(f"bad request line: {excerpt(line)}")
    path, query = split_target(target)
    return to_method(method), path, query


def deep_get(obj: dict[str, Any], dotted: str) -> Any:
    """obj['a.b.c'], else obj['a']['b']['c'] (nested form of the same OTel/ECS name)."""
    v = obj.get(dotted)
    if v is not None:
        return v
    cur: Any = obj
    for part in dotted.split("."):
        if type(cur) is not dict:
            return None
        cur = cur.get(part)
    return cur


def flatten(obj: dict[str, Any], depth: int = 8) -> dict[str, Any]:
    """Nested objects -> dotted keys, so nested and flat OTel/ECS share one lookup path.

    Depth is bounded so a hostile record cannot recurse without limit; a nested
    object's own key wins over a flat key with the same dotted name only when
    the flat one is absent.
    """
    out: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any], int]] = [("", obj, 0)]
    while stack:
        prefix, cur, level = stack.pop()
        for k, v in cur.items():
            key = prefix + k
            if type(v) is dict and level < depth:
                stack.append((key + ".", v, level + 1))
                out.setdefault(key, v)
            elif key not in out or out[key] is None:
                out[key] = v
    return out
