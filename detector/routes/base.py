"""Routes stage protocol: (service, raw path) in, route template out."""

from __future__ import annotations

from typing import Protocol


class Templater(Protocol):
    """Maps raw paths to low-cardinality templates (CONTRACTS §3 ``route``)."""

    def template(self, service: str, path: str) -> str:
        """A template starting with ``/``; must never raise on any str."""
        ...

    def templates(self, service: str) -> list[str]:
        """Templates learned so far for ``service``."""
        ...
