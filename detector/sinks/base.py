"""Sink protocol and the name -> factory registry for sink specs (CONTRACTS §4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from detector.incidents.model import Incident


class SinkError(ValueError):
    """A sink spec cannot be used (unknown scheme, unwritable path). Not retriable."""


class Sink(Protocol):
    """Delivers incident state changes; idempotent by incident id and status."""

    def write(self, incident: Incident) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


SinkFactory = Callable[[str], Sink]
_REGISTRY: dict[str, SinkFactory] = {}


def register(scheme: str) -> Callable[[SinkFactory], SinkFactory]:
    def deco(factory: SinkFactory) -> SinkFactory:
        _REGISTRY[scheme] = factory
        return factory

    return deco


def make_sink(spec: str) -> Sink:
    """Build a sink from a spec like ``stdout`` or ``jsonl:out/incidents.jsonl``."""
    scheme, _, arg = spec.partition(":")
    factory = _REGISTRY.get(scheme)
    if factory is None:
        known = ", ".join(sorted(_REGISTRY))
        raise SinkError(f"unknown sink {scheme!r} in {spec!r} (available here: {known})")
    return factory(arg)


class MemorySink:
    """Keeps incidents in a list (tests, embedding).

    >>> s = MemorySink(); s.flush(); s.items
    []
    """

    def __init__(self) -> None:
        self.items: list[Incident] = []

    def write(self, incident: Incident) -> None:
        self.items.append(incident)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
