"""Sinks: where incident state changes go (CONTRACTS §4 sink specs)."""

from detector.sinks.base import MemorySink, Sink, SinkError
from detector.sinks.delivery import SinkDeliveryError
from detector.sinks.registry import make_sink

__all__ = ["MemorySink", "Sink", "SinkDeliveryError", "SinkError", "make_sink"]
