"""Decoding stage: raw bytes of one record -> AccessEvent / DeploymentEvent, or DecodeError.

Its entry points for whole streams are :class:`detector.decoding.stage.LineDecoder` (the
lines of a file) and :class:`detector.decoding.records.RecordDecoder` (Kafka records).
"""

from detector.decoding.base import BODY_CAP, MAX_LINE_BYTES, DecodeError, Decoder
from detector.decoding.deployment import parse_deployment
from detector.decoding.registry import FORMATS, detect_format, make_decoder
from detector.decoding.timestamps import parse_timestamp

__all__ = [
    "BODY_CAP",
    "FORMATS",
    "MAX_LINE_BYTES",
    "DecodeError",
    "Decoder",
    "detect_format",
    "make_decoder",
    "parse_deployment",
    "parse_timestamp",
]
