"""Per-service prefix tree that learns which path segments are variable (Drain-style).

Each node counts its distinct literal children. When a node (below the root)
gets more than ``collapse_threshold`` of them, it becomes variable: all its
children, existing and future, are merged under the single ``{id}`` child.
The root never collapses: a high-cardinality first segment is almost always a
scanner probing (``/wp-login.php``, ``/.env``...), and collapsing it would turn
every route of the service into ``/{id}/...`` for good. Instead the root stops
admitting new literals after ``max_root_children`` (later ones map to ``{id}``).

Memory is bounded: at most ``max_nodes`` nodes (the root excluded); once spent,
unseen literal segments map to ``{id}`` and the walk continues off the tree.
The tree only grows except through a collapse, and every collapse bumps
``generation``: a cached result stays valid exactly while the generation holds.
"""

from __future__ import annotations

import re

from detector.routes.shapes import ID, REST, shape

ROOT_WORDS_FACTOR = 2  # a full root admits word-led deeper paths up to twice its cap
_WORD = re.compile(r"[a-z][a-z0-9_-]{1,31}")


class Node:
    """One segment position; ``children`` keeps insertion order (determinism)."""

    __slots__ = ("children", "nlit", "variable", "end", "rest")

    def __init__(self) -> None:
        self.children: dict[str, Node] = {}
        self.nlit = 0  # literal children; placeholder keys start with "{"
        self.variable = False
        self.end = False  # a path ends here
        self.rest = False  # a path went deeper than max_depth from here


class RouteTree:
    """The learned structure of one service."""

    def __init__(
        self,
        *,
        collapse_threshold: int,
        max_nodes: int,
        max_root_children: int,
        max_depth: int,
        max_segment_len: int,
    ) -> None:
        self.collapse_threshold = collapse_threshold
        self.max_nodes = max_nodes
        self.max_root_children = max_root_children
        self.max_depth = max_depth
        self.max_segment_len = max_segment_len
        self.root = Node()
        self.nodes = 0
        self.generation = 0

    def walk(self, segments: list[str], learn: bool = True) -> list[str]:
        """Template keys for ``segments``, learning from them on the way (unless not
        ``learn``: then an unseen segment keeps its shape or itself, and nothing changes)."""
        if not learn:
            return self._look(segments)
        keys: list[str] = []
        node: Node | None = self.root
        for depth, seg in enumerate(segments):
            if depth == self.max_depth:
                keys.append(REST)
                if node is not None:
                    node.rest = True
                return keys
            if node is None:  # off the tree: nothing unseen may be learned
                key = ID if len(seg) > self.max_segment_len else (shape(seg) or ID)
                keys.append(key)
                continue
            if node.variable or len(seg) > self.max_segment_len:
                key = ID
            else:
                child = node.children.get(seg)
                if child is not None:  # seen before: shape is pure, no need to ask again
                    keys.append(seg)
                    node = child
                    continue
                key = shape(seg) or self._admit(node, seg, depth, len(segments) - depth > 1)
            keys.append(key)
            node = self._child(node, key)
        if node is not None:
            node.end = True
        return keys

    def _look(self, segments: list[str]) -> list[str]:
        """:meth:`walk` on a frozen tree: what it learned applies, nothing is learned, so
        no burst of unseen paths (a scan of probes) can collapse a known route."""
        keys: list[str] = []
        node: Node | None = self.root
        for depth, seg in enumerate(segments):
            if depth == self.max_depth:
                keys.append(REST)
                return keys
            if len(seg) > self.max_segment_len or node is not None and node.variable:
                key = ID
            elif node is not None and seg in node.children:
                key = seg
            else:
                key = shape(seg) or seg
            keys.append(key)
            node = node.children.get(key) if node is not None else None
        return keys

    def _admit(self, node: Node, seg: str, depth: int, deeper: bool = False) -> str:
        """Key for a new literal child of ``node``: itself, or ``{id}``.

        A full root still admits a plain word leading a deeper path (``/internal/
        debug/vars`` shipped after scanners filled it), up to ROOT_WORDS_FACTOR
        times its cap: probes are mostly one segment or a file name, an
        application's new routes are words with something below them.
        """
        if depth == 0:
            if node.nlit >= self.max_root_children and not (
                    deeper and _WORD.fullmatch(seg) is not None
                    and node.nlit < ROOT_WORDS_FACTOR * self.max_root_children):
                return ID
        elif node.nlit >= self.collapse_threshold:
            self._collapse(node)
            return ID
        return seg if self.nodes < self.max_nodes else ID

    def _child(self, node: Node, key: str) -> Node | None:
        child = node.children.get(key)
        if child is None and self.nodes < self.max_nodes:
            child = node.children[key] = Node()
            self.nodes += 1
            if key[0] != "{":
                node.nlit += 1
        return child

    def _collapse(self, node: Node) -> None:
        self.generation += 1
        node.variable = True
        kids, node.children, node.nlit = node.children, {}, 0
        wild: Node | None = None
        for child in kids.values():
            if wild is None:
                wild = node.children[ID] = child
            else:
                self._merge(wild, child)

    def _merge(self, dst: Node, src: Node) -> None:
        """Fold ``src`` into ``dst``; ``src`` and its duplicates are freed."""
        self.nodes -= 1
        dst.end |= src.end
        dst.rest |= src.rest
        if src.variable and not dst.variable:
            self._collapse(dst)
        for key, child in src.children.items():
            k = ID if dst.variable else key
            mine = dst.children.get(k)
            if mine is not None:
                self._merge(mine, child)
                continue
            dst.children[k] = child
            if k[0] != "{":
                dst.nlit += 1
                if dst.nlit > self.collapse_threshold:
                    self._collapse(dst)

    def templates(self) -> list[str]:
        """Every template that ends on the tree, sorted."""
        out: list[str] = []
        stack: list[tuple[str, Node]] = [("", self.root)]
        while stack:
            prefix, node = stack.pop()
            if node.end:
                out.append(prefix or "/")
            if node.rest:
                out.append(f"{prefix}/{REST}")
            stack.extend((f"{prefix}/{k}", c) for k, c in node.children.items())
        return sorted(out)
