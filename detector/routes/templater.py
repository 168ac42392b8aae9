"""RouteTemplater: the routes stage facade, a cache in front of per-service trees."""

from __future__ import annotations

import re
import sys
from typing import Any

from detector.routes import state
from detector.routes.paths import split_path
from detector.routes.shapes import PREFIXED_NUMBER
from detector.routes.tree import RouteTree
from detector.state.component import assign, fields, stamp, unstamp

# Plain integer and UUID segments are ids whatever the tree has learned (the
# shapes stage maps them to {id} before the tree sees them), so a path that
# differs from a cached one only there can reuse its template: one regex
# substitution instead of a walk. Linear: no nested quantifiers.
_PLAIN_IDS = re.compile(
    r"/(?:\d{1,20}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?=/|$)"
)
# The same holds for prefixed numbers (SKU-19786) and content-hashed file names
# (3f2a9c1be9d04c7a.png -> {id}.png), as routes.shapes decides them; these cost
# more to find, so they are looked for only when the plain ids leave a miss.
# Hashed names are kept apart: the tree maps a segment longer than
# max_segment_len to {id}, extension and all, so they hold only while no such
# name can pass that length.
_MORE_IDS = re.compile(rf"/(?:{PREFIXED_NUMBER})(?=/|$)")
_MORE_IDS_AND_FILES = re.compile(
    rf"/(?:{PREFIXED_NUMBER}|(?=[a-fA-F]*[0-9])[0-9a-fA-F]{{8,247}}(\.[A-Za-z][A-Za-z0-9]{{0,7}}))"
    r"(?=/|$)"
)
HASHED_FILES_MIN_SEGMENT_LEN = 256  # 247 hex digits, a dot and 8 characters of extension


def _placeholder(m: re.Match[str]) -> str:
    return "/{id}" + (m[1] or "")


# Longer raw paths are templated every time rather than cached: it keeps the
# cache's memory bounded by cache_size * this, whatever the input.
MAX_CACHED_PATH_LEN = 512
# And by bytes: raw paths and their templates (string sizes plus ~150 bytes of
# dict entries each), cleared wholesale past this, whatever the entry count.
CACHE_BYTES = 32 << 20
ENTRY_BYTES = 150


class RouteTemplater:
    """Raw URL path -> low-cardinality route template, per service.

    Known id shapes become ``{id}``; segments whose distinct values keep growing
    collapse to ``{id}`` once a node has more than ``collapse_threshold`` literal
    children; paths deeper than ``max_depth`` end in ``{rest}`` (a tail of
    unknown length, so it is told apart from a single ``{id}`` segment).

    >>> t = RouteTemplater(collapse_threshold=3)
    >>> t.template("shop", "/api/v1/users/42/orders/")
    '/api/v1/users/{id}/orders'
    >>> t.template("shop", "//img/3f2a9c1be9d04c7a.png")
    '/img/{id}.png'
    >>> [t.template("shop", f"/catalog/items/{s}") for s in ("red", "blue", "green")]
    ['/catalog/items/red', '/catalog/items/blue', '/catalog/items/green']
    >>> t.template("shop", "/catalog/items/mauve"), t.template("shop", "/catalog/items/red")
    ('/catalog/items/{id}', '/catalog/items/{id}')
    >>> t.templates("shop")
    ['/api/v1/users/{id}/orders', '/catalog/items/{id}', '/img/{id}.png']
    """

    def __init__(
        self,
        *,
        collapse_threshold: int = 50,
        max_nodes_per_service: int = 5000,
        cache_size: int = 200_000,
        max_depth: int = 16,
        max_segment_len: int = 256,
        max_root_children: int = 200,
    ) -> None:
        self.collapse_threshold = collapse_threshold
        self.max_nodes_per_service = max_nodes_per_service
        self.cache_size = cache_size
        self.max_depth = max_depth
        self.max_segment_len = max_segment_len
        self.max_root_children = max_root_children
        for name, value in self._config().items():
            if value < (0 if name == "cache_size" else 1):
                raise ValueError(f"{name} must be positive, got {value}")
        self._trees: dict[str, RouteTree] = {}
        self._caches: dict[str, dict[str, str]] = {}
        self._cached = 0  # entries over all services, bounded by cache_size
        self._cached_bytes = 0  # their size (keys and interned templates), under CACHE_BYTES
        self._interned: dict[str, str] = {}  # one str per template, shared by cache values
        # Bumped whenever a learned collapse changes templates, so callers that
        # cache templating results of their own know to drop them.
        self.generation = 0
        # Frozen: template with what was learned, learn nothing more (scanning with a
        # trained model: probes in the scanned traffic must not reshape its routes).
        # A run-time switch, not state.
        self.frozen = False

    def template(self, service: str, path: str) -> str:
        """The route template of ``path``; never raises, always starts with ``/``."""
        cache = self._caches.get(service)
        if cache is not None:
            hit = cache.get(path)
            if hit is not None:
                return hit
            if len(path) <= MAX_CACHED_PATH_LEN:
                norm = _PLAIN_IDS.sub("/{id}", path)
                if norm != path:
                    hit = cache.get(norm)
                    if hit is not None:
                        return hit
                more = self.normalise_more(norm)
                if more == norm:
                    return self._miss(service, norm)
                hit = cache.get(more)
                if hit is None:
                    hit = self._miss(service, more)
                return self._keep(service, norm, hit)  # the next one stops at the plain ids
        return self._miss(service, path)

    def normalise_more(self, path: str) -> str:
        """``path`` with its prefixed-number and hashed-file segments as placeholders."""
        if self.max_segment_len >= HASHED_FILES_MIN_SEGMENT_LEN:
            return _MORE_IDS_AND_FILES.sub(_placeholder, path)
        return _MORE_IDS.sub("/{id}", path)

    def _miss(self, service: str, path: str) -> str:
        tree = self._trees.get(service)
        if tree is None:
            tree = self._trees[service] = self._new_tree()
            self._caches[service] = {}
        generation = tree.generation
        result = "/" + "/".join(tree.walk(split_path(path, self.max_depth), not self.frozen))
        cache = self._caches[service]
        if tree.generation != generation:  # a collapse: every cached result may be stale
            self._cached -= len(cache)
            cache.clear()  # (its bytes stay counted: the next wholesale clear comes early)
            self.generation += 1
        return self._keep(service, path, result)

    def _keep(self, service: str, path: str, result: str) -> str:
        """Cache ``result`` as the template of ``path`` (within the bounds); the interned
        template."""
        cache = self._caches[service]
        if len(path) > MAX_CACHED_PATH_LEN or self.cache_size == 0:
            return result
        if (
            self._cached >= self.cache_size
            or len(self._interned) >= self.cache_size
            or self._cached_bytes >= CACHE_BYTES
        ):
            # Wholesale clear rather than LRU: a hit then stays a plain dict lookup.
            for c in self._caches.values():
                c.clear()
            self._interned.clear()
            self._cached = 0
            self._cached_bytes = 0
        size = sys.getsizeof(path) + ENTRY_BYTES
        interned = self._interned.setdefault(result, result)
        if interned is result:  # a new template string
            size += sys.getsizeof(result) + ENTRY_BYTES
        cache[path] = interned
        self._cached += 1
        self._cached_bytes += size
        return interned

    def templates(self, service: str) -> list[str]:
        """Templates learned so far for ``service``, sorted.

        Paths templated off the tree (node budget spent) are not listed.
        """
        tree = self._trees.get(service)
        return tree.templates() if tree is not None else []

    def node_count(self, service: str) -> int:
        """Nodes held for ``service`` (never above ``max_nodes_per_service``)."""
        tree = self._trees.get(service)
        return tree.nodes if tree is not None else 0

    def cached_paths(self) -> int:
        """Raw paths in the cache over all services (never above ``cache_size``)."""
        return self._cached

    def cached_bytes(self) -> int:
        """Approximate bytes the cache holds (never far above ``CACHE_BYTES``)."""
        return self._cached_bytes

    def save_state(self) -> bytes:
        """Learned trees and config as bytes (Drain3-style persistence port)."""
        return state.dump_state(self._config(), self._trees)

    @classmethod
    def load_state(cls, data: bytes) -> RouteTemplater:
        """A templater that continues exactly where the saved one stopped."""
        config, services = state.load_state(data)
        try:
            templater = cls(**config)
        except TypeError as exc:
            raise ValueError(f"route state: bad config ({exc})") from exc
        for name, root, count in services:
            tree = templater._new_tree()
            tree.root, tree.nodes = root, count
            templater._trees[name] = tree
            templater._caches[name] = {}
        return templater

    # ---- state (detector.state.component): everything, caches included, since a cache
    # hit skips learning and a restored templater must continue exactly
    STATE_VERSION = 1
    _STATE = ("collapse_threshold", "max_nodes_per_service", "cache_size", "max_depth",
              "max_segment_len", "max_root_children", "_trees", "_caches", "_cached",
              "_cached_bytes", "_interned", "generation")

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        what = "templater"
        assign(self, unstamp(data, self.STATE_VERSION, _MIGRATIONS, what), self._STATE, what)

    def _config(self) -> dict[str, int]:
        return {
            "collapse_threshold": self.collapse_threshold,
            "max_nodes_per_service": self.max_nodes_per_service,
            "cache_size": self.cache_size,
            "max_depth": self.max_depth,
            "max_segment_len": self.max_segment_len,
            "max_root_children": self.max_root_children,
        }

    def _new_tree(self) -> RouteTree:
        return RouteTree(
            collapse_threshold=self.collapse_threshold,
            max_nodes=self.max_nodes_per_service,
            max_root_children=self.max_root_children,
            max_depth=self.max_depth,
            max_segment_len=self.max_segment_len,
        )


def _cache_bytes(data: dict[str, Any]) -> dict[str, Any]:
    """State 0 (before the cache had a byte budget) -> 1: the bytes the cache holds."""
    caches, interned = data["_caches"], data["_interned"]
    held = sum(sys.getsizeof(p) + ENTRY_BYTES for c in caches.values() for p in c)
    held += sum(sys.getsizeof(t) + ENTRY_BYTES for t in interned)
    return {**data, "_cached_bytes": held}


_MIGRATIONS = {0: _cache_bytes}
