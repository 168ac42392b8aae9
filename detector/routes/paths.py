"""Raw path -> segments: the normalisation every template goes through.

Repeated slashes collapse, a trailing slash goes, case is kept, ``.`` and ``..``
stay literal (a route says what was asked for; resolving would hide traversal
from whoever reads the route). The query and fragment never belong to a route,
and an absolute-form target (``http://host/p``, sent to proxies) keeps its path.

>>> split_path("//api//v1/users/?page=2")
['api', 'v1', 'users']
>>> split_path("https://shop.example/cart#top"), split_path("")
(['cart'], [])
"""

from __future__ import annotations

import re

_SLASHES = re.compile(r"//+")


def split_path(path: str, limit: int = 64) -> list[str]:
    """Non-empty segments of ``path``, in order; past ``limit`` the tail is one item.

    ``limit`` keeps the work on a 100k-segment path proportional to what is used.
    """
    cut = len(path)
    for mark in ("?", "#"):
        i = path.find(mark, 0, cut)
        if i >= 0:
            cut = i
    path = path[:cut]
    if path[:1] != "/":
        scheme = path.find("://", 0, 16)
        if scheme > 0 and path[:scheme].isalpha():
            slash = path.find("/", scheme + 3)
            path = path[slash:] if slash >= 0 else ""
    if "//" in path:
        path = _SLASHES.sub("/", path)
    return [s for s in path.split("/", limit + 1) if s]
