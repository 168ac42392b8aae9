"""Persistence of learned route trees: plain JSON bytes with a format version.

A node is ``[flags, [[key, node], ...]]`` with children in insertion order, so
a loaded tree walks exactly like the saved one. Stdlib json rather than orjson:
service names may carry lone surrogates, which json escapes and restores.
The raw-path cache is not saved: it is a pure accelerator (see tree.py).
"""

from __future__ import annotations

import json
from typing import Any

from detector.routes.tree import Node, RouteTree

FORMAT = "detector.routes"
VERSION = 1

_VARIABLE, _END, _REST = 1, 2, 4


def _dump(node: Node) -> list[Any]:
    flags = _VARIABLE * node.variable | _END * node.end | _REST * node.rest
    return [flags, [[k, _dump(c)] for k, c in node.children.items()]]


def _load(raw: Any, depth: int, max_depth: int) -> tuple[Node, int]:
    """Rebuild a node; returns it and the number of nodes below it."""
    if depth > max_depth or not isinstance(raw, list) or len(raw) != 2:
        raise ValueError("route state: malformed node")
    flags, kids = raw
    if not isinstance(flags, int) or not isinstance(kids, list):
        raise ValueError("route state: malformed node")
    node = Node()
    node.variable, node.end, node.rest = (bool(flags & f) for f in (_VARIABLE, _END, _REST))
    count = 0
    for item in kids:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
            raise ValueError("route state: malformed child")
        key = item[0]
        if not key:
            raise ValueError("route state: empty segment")
        child, below = _load(item[1], depth + 1, max_depth)
        node.children[key] = child
        node.nlit += key[0] != "{"
        count += 1 + below
    return node, count


def dump_state(config: dict[str, int], trees: dict[str, RouteTree]) -> bytes:
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "config": config,
        "services": [[name, _dump(tree.root)] for name, tree in trees.items()],
    }
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


def load_state(data: bytes) -> tuple[dict[str, int], list[tuple[str, Node, int]]]:
    """Config and ``(service, root, node count)`` triples; ValueError if unusable."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"route state: not JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("route state: unknown format")
    if doc.get("version") != VERSION:
        raise ValueError(f"route state: unsupported version {doc.get('version')!r}")
    config, services = doc.get("config"), doc.get("services")
    if not isinstance(config, dict) or not isinstance(services, list):
        raise ValueError("route state: missing config or services")
    if not all(isinstance(v, int) for v in config.values()):
        raise ValueError("route state: bad config")
    max_depth = int(config.get("max_depth", 0))
    out: list[tuple[str, Node, int]] = []
    for item in services:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
            raise ValueError("route state: malformed service")
        root, count = _load(item[1], 0, max_depth)
        out.append((item[0], root, count))
    return config, out
