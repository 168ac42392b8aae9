"""Sinks: where incident state changes go (CONTRACTS §4 sink specs)."""

from detector.sinks import registry_all as _registry_all  # noqa: F401  (registers every sink)
from detector.sinks.base import MemorySink, Sink, SinkError, make_sink
from detector.sinks.delivery import SinkDeliveryError

__all__ = ["MemorySink", "Sink", "SinkDeliveryError", "SinkError", "make_sink"]
