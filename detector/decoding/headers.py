"""Request headers of a JSON record (``AccessEvent.headers``): which keys carry them, and how.

Recognised, per format (a name becomes lower case):

- ``otel``: ``http.request.header.<name>`` keys, flat or nested
  (``{"http": {"request": {"header": {"<name>": ...}}}}``); a value is a string, or a
  list of strings for a repeated header.
- ``nginx_json``: ``http_<name>`` keys (nginx's ``$http_<name>`` variables), '_' becoming
  '-': ``http_x_api_version`` is ``x-api-version``, ``http_referer`` is ``referer``. Not
  ``http_version``, ``http_status``, ``http_method``, ``http_protocol``: names people give
  to other variables, and no request header.
- ``envoy`` (``%REQ(X-API-VERSION)%`` under a key of the user's choice): an object
  ``request_headers`` (name -> value, names as they are); keys ``req_<name>`` and
  ``request_header_<name>``, '_' becoming '-'; and keys that are header names themselves:
  a letter, then letters, digits, '_' and at least one '-' (``x-api-version``,
  ``X-Tenant``), or ``referer``, ``origin``, ``cookie``, ``authorization``. Envoy's own
  fields (``authority``, ``user_agent``, ``x_forwarded_for``, ...) are not headers here.

Everywhere: User-Agent and X-Forwarded-For are left out (the event's ``user_agent`` and
``client`` carry them); null, "" and "-" mean the header was not sent; a list is joined
with ", " (HTTP's own rule for a repeated header; "; " for Cookie, RFC 6265); other JSON
values become their text. The headers are sorted by name, at most :data:`MAX_HEADERS` of
them (the first by name), each value up to :data:`HEADER_CAP` characters (whole, in
practice: no value is longer than its record).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from orjson import dumps

from detector.decoding.base import HEADER_CAP, MAX_HEADERS

__all__ = [
    "CARRIED",
    "HEADER_CAP",
    "MAX_HEADERS",
    "HeaderKeys",
    "Headers",
    "envoy_header_name",
    "header_value",
    "nginx_header_name",
    "otel_header_name",
    "with_object",
]

Headers = tuple[tuple[str, str], ...]
# Headers the event carries in fields of their own (user_agent, client).
CARRIED: Final = frozenset({"user-agent", "x-forwarded-for"})
OBJECT: Final = "\x00object"  # a name_of answer: the key's value is an object of headers
_LEARN_MAX = 1024  # keys a source's HeaderKeys remembers; past it, records are walked


def _text(v: object) -> str | None:
    t = type(v)
    if t is str:
        return None if v == "" or v == "-" else v  # type: ignore[return-value]
    if v is None:
        return None
    if t is bool:
        return "true" if v else "false"
    if t is int or t is float:
        return str(v)
    try:
        return dumps(v).decode()
    except TypeError:  # orjson refuses ints beyond 64 bits
        return repr(v)


def header_value(v: object, sep: str = ", ") -> str | None:
    """One header's value as text; None when it was not sent.

    A list (a repeated header) is joined with ``sep``: ", " (RFC 9110), "; " for Cookie.

    >>> header_value(["gzip", "-", "br"]), header_value("-"), header_value(2)
    ('gzip, br', None, '2')
    """
    if type(v) is list:
        parts = [p for p in map(_text, v) if p is not None]
        return sep.join(parts)[:HEADER_CAP] if parts else None
    s = _text(v)
    return s if s is None or len(s) <= HEADER_CAP else s[:HEADER_CAP]


_OTEL_PREFIX = "http.request.header."
_NGINX_OTHER = frozenset({"http_version", "http_status", "http_method", "http_protocol"})
_ENVOY_WORDS = frozenset({"referer", "origin", "cookie", "authorization"})
_ENVOY_NAME = re.compile(r"[a-z][a-z0-9_]*-[a-z0-9_-]*")


def otel_header_name(key: str) -> str | None:
    """``http.request.header.<name>`` -> name (None: not a header, or one carried already).

    >>> otel_header_name("http.request.header.X-Api-Version"), otel_header_name("url.path")
    ('x-api-version', None)
    """
    if key.startswith(_OTEL_PREFIX) and len(key) > len(_OTEL_PREFIX):
        name = key[len(_OTEL_PREFIX):].lower()
        return None if name in CARRIED else name
    return None


def nginx_header_name(key: str) -> str | None:
    """``http_<name>`` -> name with '-' (None: not a header, or one carried already).

    >>> nginx_header_name("http_x_api_version"), nginx_header_name("http_user_agent")
    ('x-api-version', None)
    """
    if key.startswith("http_") and len(key) > 5 and key not in _NGINX_OTHER:
        name = key[5:].lower().replace("_", "-")
        return None if name in CARRIED else name
    return None


def envoy_header_name(key: str) -> str | None:
    """An Envoy record's header key -> name (:data:`OBJECT` for ``request_headers``).

    >>> [envoy_header_name(k) for k in ("req_x_tenant", "X-Api-Version", "referer", "authority")]
    ['x-tenant', 'x-api-version', 'referer', None]
    """
    if key == "request_headers":
        return OBJECT
    low = key.lower()
    if low.startswith("request_header_"):
        name = low[15:].replace("_", "-")
    elif low.startswith("req_"):
        name = low[4:].replace("_", "-")
    elif low in _ENVOY_WORDS or ("-" in low and _ENVOY_NAME.fullmatch(low)):
        name = low
    else:
        return None
    return None if not name or name in CARRIED else name


class HeaderKeys:
    """Which keys of one source's records carry request headers, learned key by key.

    A source's records share their keys, so after its first record, telling a record's
    headers costs one C-level set check, plus a lookup per header key the source has
    sent: :attr:`known` holds every key seen in the source's records (up to a thousand or
    so; past that, records are walked key by key), :attr:`names` the header keys among
    them. ``unusual`` keys are never put in :attr:`usual`, the known keys a fast path may
    ignore: ``usual.issuperset(record)`` says "every key known, nothing unusual" at once.
    ``known`` also says which keys a record lacks: when its keys are all known, every key
    that ``known`` lacks.

    >>> hk = HeaderKeys(nginx_header_name)
    >>> hk.headers({"status": "200", "http_x_api_version": "2", "http_referer": "https://a/"})
    (('referer', 'https://a/'), ('x-api-version', '2'))
    >>> hk.headers({"status": "200", "http_referer": "-"}) is None, hk.count, sorted(hk.known)
    (True, 1, ['http_referer', 'http_x_api_version', 'status'])
    """

    __slots__ = ("count", "known", "names", "usual", "_name_of", "_unusual")

    def __init__(self, name_of: Callable[[str], str | None], unusual: Iterable[str] = ()) -> None:
        self._name_of = name_of
        self._unusual = frozenset(unusual)
        self.known: set[str] = set()
        self.usual: set[str] = set()
        self.names: dict[str, str] = {}  # header key -> header name
        self.count = 0  # header keys in the last record (sent or not, kept or not)

    def headers(self, obj: dict[str, Any]) -> Headers | None:
        """The headers of one record, None when it has none."""
        if self.known.issuperset(obj):
            if self.names:
                return self.pick(obj)
            self.count = 0
            return None
        return self._walk(obj)

    def sent(self, obj: dict[str, Any]) -> Headers | None:
        """:meth:`headers` of a record whose keys are all :attr:`known` and some of them
        :attr:`names`; a record whose header keys all say "not sent" (a log with a
        referer column, "-" in most lines) costs a lookup per header key. Sets no
        :attr:`count`.
        """
        get = obj.get
        for key in self.names:
            v = get(key)
            if v is not None and v != "-" and v != "":
                return self.pick(obj)
        return None

    def pick(self, obj: dict[str, Any]) -> Headers | None:
        """:meth:`headers` of a record whose keys are all :attr:`known`."""
        names = self.names
        if len(names) > _PICK_MAX:
            return self._walk(obj)
        get = obj.get
        out: list[tuple[str, str]] = []
        count = 0
        for key, name in names.items():
            raw = get(key, _NO)
            if raw is _NO:
                continue
            count += 1
            if raw == "-" or raw is None or raw == "":  # most records: not sent
                continue
            if raw.__class__ is str and len(raw) <= HEADER_CAP and name is not OBJECT:
                out.append((name, raw))
            else:
                _collect(out, name, raw)
        self.count = count
        if not out:
            return None
        return (out[0],) if len(out) == 1 else _finish(out)

    def _walk(self, obj: dict[str, Any]) -> Headers | None:
        known = self.known
        names = self.names
        out: list[tuple[str, str]] = []
        count = 0
        for key, raw in obj.items():
            name = names.get(key)
            if name is None:
                if key in known:
                    continue
                name = self._name_of(key)
                if len(known) < _LEARN_MAX:
                    known.add(key)
                    if key not in self._unusual:
                        self.usual.add(key)
                    if name is not None:
                        names[key] = name
                if name is None:
                    continue
            count += 1
            _collect(out, name, raw)
        self.count = count
        return _finish(out)


_NO: Final = object()
_PICK_MAX = 2 * MAX_HEADERS  # header keys a source may have sent before records are walked


def _collect(out: list[tuple[str, str]], name: str, raw: object) -> None:
    if name is OBJECT:
        if type(raw) is dict:
            for k, v in raw.items():
                low = k.lower()
                if low and low not in CARRIED:
                    value = header_value(v, "; " if low == "cookie" else ", ")
                    if value is not None:
                        out.append((low, value))
        return
    value = header_value(raw, "; " if name == "cookie" else ", ")
    if value is not None:
        out.append((name, value))


def with_object(headers: Headers | None, obj: object) -> Headers | None:
    """``headers`` and those of an object of headers (name -> value), as one tuple.

    >>> with_object((("b", "2"),), {"A": "1", "User-Agent": "x"})
    (('a', '1'), ('b', '2'))
    """
    if type(obj) is not dict or not obj:
        return headers
    out = list(headers) if headers else []
    _collect(out, OBJECT, obj)
    return _finish(out)


def _finish(out: list[tuple[str, str]]) -> Headers | None:
    """Sorted by name (whatever order the record or the path took); the first MAX_HEADERS."""
    if not out:
        return None
    if len(out) == 1:
        return (out[0],)
    return tuple(sorted(out) if len(out) <= MAX_HEADERS else heapq.nsmallest(MAX_HEADERS, out))
