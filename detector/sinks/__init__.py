"""Sinks: where incident state changes go (CONTRACTS §4 sink specs)."""

from detector.sinks import files as _files  # noqa: F401  (registers stdout and jsonl)
from detector.sinks.base import MemorySink, Sink, SinkError, make_sink

__all__ = ["MemorySink", "Sink", "SinkError", "make_sink"]
