"""Sink protocol and errors; the scheme -> factory table is :mod:`detector.sinks.registry`."""

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


SinkFactory = Callable[[str], Sink]  # the spec's argument (after "scheme:") -> a sink


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
