"""Kafka records -> pipeline items, per topic: format, default service, prefix, size cap.

The format of a topic is configured, or detected per record key from the
first records with that key: the input topic is keyed by service, and
services may log in different formats on one topic.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from detector.decoding import DecodeError, detect_format, make_decoder, parse_deployment
from detector.decoding.base import Decoder
from detector.decoding.deployment import is_deployment
from detector.events import AccessEvent, BadRecord, DeploymentEvent
from detector.kafka.records import KafkaRecord, strip_schema_prefix
from detector.service.config import ServiceSettings

Item = AccessEvent | DeploymentEvent | BadRecord
DETECT_SAMPLES = 20


def as_deployment(raw: bytes, source: str, offset: int) -> DeploymentEvent | None:
    """A deployment record (CONTRACTS §2), None if it is not one; DecodeError if broken."""
    if b"deployment" not in raw:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not is_deployment(obj):
        return None
    return parse_deployment(obj, source, offset)


class RecordDecoder:
    """Decodes the records of one poll; keeps the per-(topic, key) decoders it learned."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._decoders: dict[tuple[str, bytes | None], Decoder] = {}
        self._strip = frozenset(settings.strip_schema_prefix)

    def _decoder(
        self, topic: str, key: bytes | None, samples: Iterable[bytes]
    ) -> Decoder | str:
        """The decoder for (topic, key), detecting it from ``samples``; else why not."""
        dk = (topic, key)
        dec = self._decoders.get(dk)
        if dec is not None:
            return dec
        fmt = self.settings.topic_format.get(topic, "auto")
        service = self.settings.topic_default_service(topic)
        try:
            if fmt == "auto":
                fmt = detect_format(list(samples)[:DETECT_SAMPLES])
            dec = make_decoder(fmt, service)
        except DecodeError as exc:
            return exc.reason  # detection is retried with the next records of this key
        self._decoders[dk] = dec
        return dec

    def decode(self, records: list[KafkaRecord | BadRecord]) -> list[Item]:
        """Items in record order (one partition's records keep their offset order)."""
        out: list[Item] = []
        append = out.append
        cache: dict[tuple[str, bytes | None], Decoder | str] = {}
        for rec in records:
            if isinstance(rec, BadRecord):
                append(rec)
                continue
            topic = rec.topic
            source = f"{topic}:{rec.partition}"
            value = rec.value
            if topic in self._strip:
                if value[:1] == b"\x00" and len(value) < 5:
                    append(BadRecord(source, rec.offset, "truncated schema-registry prefix",
                                     value))
                    continue
                value = strip_schema_prefix(value)
            cap = self.settings.topic_max_record_bytes.get(topic, self.settings.max_record_bytes)
            if len(value) > cap:
                append(BadRecord(source, rec.offset,
                                 f"record of {len(value)} bytes over the {cap}-byte cap",
                                 value[:cap]))
                continue
            ck = (topic, rec.key)
            dec = cache.get(ck)
            if dec is None:
                dec = cache[ck] = self._decoder(
                    topic, rec.key,
                    (r.value for r in records
                     if isinstance(r, KafkaRecord) and r.topic == topic and r.key == rec.key),
                )
            try:
                if isinstance(dec, str):
                    dep = as_deployment(value, source, rec.offset)
                    append(dep if dep is not None else BadRecord(source, rec.offset, dec, value))
                else:
                    append(dec.decode(value, source, rec.offset))
            except DecodeError as exc:
                append(BadRecord(source, rec.offset, exc.reason, value))
        return out
