"""Request parameters: query string, JSON and form bodies as (name, value, json_type).

Everything is bounded whatever the input: at most :data:`MAX_PARAMS` parameters
per request, values capped at :data:`MAX_VALUE_CHARS`, names at
:data:`MAX_NAME_CHARS`, JSON flattened to :data:`MAX_DEPTH` levels. Nested JSON
becomes dotted paths (``user.address.zip``), array elements share one name
(``items[].sku``), and bracket keys in query strings read the same way
(``a[b]=1`` -> ``a.b``, ``ids[]=1`` / ``ids[0]=1`` -> ``ids[]``). A part without
``=`` (``?95,177`` from a server-side image map, ``?wsdl``, ``?12345``) is not a
name: it is positional, and every such part is a value of :data:`QUERY_PARAM`,
so that its shape (kind, length, characters) is what gets learned.

``json_type`` says what the request carried: ``str`` for every query and form
value (the wire has no types there), and ``str``/``int``/``float``/``bool``/
``null``/``object``/``array`` for JSON. Nothing here raises on any input.

>>> parse_query("q=red+shoes&ids[]=1&ids[]=2&f[color]=%E2%9C%93")
[('q', 'red shoes', 'str'), ('ids[]', '1', 'str'), ('ids[]', '2', 'str'), ('f.color', '✓', 'str')]
>>> parse_body('{"user": {"address": {"zip": "75001"}}, "items": [{"qty": 2}], "gift": null}')
[('user.address.zip', '75001', 'str'), ('items[].qty', '2', 'int'), ('gift', '', 'null')]
>>> parse_body("a=1&b=two")
[('a', '1', 'str'), ('b', 'two', 'str')]
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, unquote_plus

import orjson

__all__ = [
    "BODY_PARAM",
    "QUERY_PARAM",
    "MAX_DEPTH",
    "MAX_NAME_CHARS",
    "MAX_PARAMS",
    "MAX_VALUE_CHARS",
    "Param",
    "parse_body",
    "parse_query",
    "parse_request",
]

MAX_PARAMS = 64
MAX_VALUE_CHARS = 4096
MAX_NAME_CHARS = 128
MAX_DEPTH = 8
MAX_ARRAY_ITEMS = 16  # elements of one array looked at; the rest share their names anyway
MAX_BODY_CHARS = 64 * 1024
BODY_PARAM = "_body"  # a body that is neither JSON nor a form: one value under this name
# Query parts without '=' ("?95,177", "?wsdl"): positional values, never parameter names
# (each distinct image-map click would otherwise be a new "unknown parameter").
QUERY_PARAM = "_query"

Param = tuple[str, str, str]  # (name, value, json_type)


def _name(raw: str) -> str:
    """``a[b][0][c]`` -> ``a.b[].c``; a plain name is returned as is."""
    if "[" not in raw:
        return raw[:MAX_NAME_CHARS]
    head, _, rest = raw.partition("[")
    out = [head]
    for part in rest.split("["):
        key = part.split("]", 1)[0]
        if key == "" or key.isdigit():
            out.append("[]")
        else:
            out.append("." + key)
    return "".join(out)[:MAX_NAME_CHARS]


def _unquote(s: str, plus: bool) -> str:
    if "%" not in s and not (plus and "+" in s):
        return s
    try:
        return unquote_plus(s, errors="replace") if plus else unquote(s, errors="replace")
    except Exception:  # never raise on hostile encodings
        return s


def parse_query(query: str, limit: int = MAX_PARAMS) -> list[Param]:
    """Parameters of a query string or form body (``+`` is a space, repeated keys kept).

    >>> parse_query("97%2C140"), parse_query("wsdl&v=2")
    ([('_query', '97,140', 'str')], [('_query', 'wsdl', 'str'), ('v', '2', 'str')])
    """
    out: list[Param] = []
    if not query:
        return out
    for part in query.split("&", limit):
        if len(out) >= limit:
            break
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:  # positional: the part is a value, its shape is what the route knows
            out.append((QUERY_PARAM, _unquote(key[: MAX_VALUE_CHARS * 3], True)[:MAX_VALUE_CHARS],
                        "str"))
            continue
        key = _unquote(key[: MAX_NAME_CHARS * 3], True)
        if not key:
            continue
        value = _unquote(value[: MAX_VALUE_CHARS * 3], True)[:MAX_VALUE_CHARS]
        out.append((_name(key), value, "str"))
    return out


def _scalar(value: Any) -> tuple[str, str]:
    if value is None:
        return "", "null"
    if value is True:
        return "true", "bool"
    if value is False:
        return "false", "bool"
    if isinstance(value, int):
        return str(value)[:MAX_VALUE_CHARS], "int"
    if isinstance(value, float):
        return repr(value), "float"
    return str(value)[:MAX_VALUE_CHARS], "str"


def _flatten(value: Any, name: str, depth: int, out: list[Param], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(value, dict):
        if not value or depth >= MAX_DEPTH:
            out.append((name or BODY_PARAM, _compact(value), "object"))
            return
        for k, v in value.items():
            key = str(k)[:MAX_NAME_CHARS]
            _flatten(v, f"{name}.{key}" if name else key, depth + 1, out, limit)
            if len(out) >= limit:
                return
    elif isinstance(value, list):
        if not value or depth >= MAX_DEPTH:
            out.append((name + "[]" if name else "[]", _compact(value), "array"))
            return
        for v in value[:MAX_ARRAY_ITEMS]:
            _flatten(v, name + "[]", depth + 1, out, limit)
            if len(out) >= limit:
                return
    else:
        text, kind = _scalar(value)
        out.append(((name or BODY_PARAM)[:MAX_NAME_CHARS], text, kind))


def _compact(value: Any) -> str:
    try:
        return orjson.dumps(value)[:MAX_VALUE_CHARS].decode("utf-8", "replace")
    except Exception:
        return ""


def _looks_form(body: str) -> bool:
    head = body[:256]
    return "=" in head and not any(c in head for c in " \n\r\t<{")


def parse_body(body: str | None, limit: int = MAX_PARAMS) -> list[Param]:
    """Parameters of a JSON or form body; any other body is one ``_body`` value."""
    if not body or limit <= 0:
        return []
    body = body[:MAX_BODY_CHARS]
    head = body.lstrip()[:1]
    if head in ("{", "["):
        try:
            doc = orjson.loads(body)
        except Exception:  # truncated or broken JSON: the raw text is the value
            return [(BODY_PARAM, body[:MAX_VALUE_CHARS], "str")]
        out: list[Param] = []
        _flatten(doc, "", 0, out, limit)
        return out
    form = body.strip()
    if _looks_form(form):
        return parse_query(form, limit)
    return [(BODY_PARAM, body[:MAX_VALUE_CHARS], "str")]


def parse_request(query: str, body: str | None) -> list[Param]:
    """Query parameters then body parameters, :data:`MAX_PARAMS` in all."""
    out = parse_query(query) if query else []
    if body and len(out) < MAX_PARAMS:
        out += parse_body(body, MAX_PARAMS - len(out))
    return out
