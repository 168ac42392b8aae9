"""Kafka records -> pipeline items, per topic: format, default service, prefix, size cap.

The format of a topic is configured, or detected per record key from the
first records with that key: the input topic is keyed by service, and
services may log in different formats on one topic.

This is the service's per-record hot path, so it works on the consumer's own
record objects (anything with ``offset``, ``key`` and ``value``) one
partition at a time, in a single pass: no intermediate record objects, the
source label built once per partition, one dict lookup for the decoder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import orjson

from detector.decoding.base import SCHEMA_PREFIX_LEN, DecodeError, Decoder
from detector.decoding.deployment import is_deployment, parse_deployment
from detector.decoding.stage import Item, choose_decoder
from detector.events import AccessEvent, BadRecord, DeploymentEvent

COLUMNAR_MIN = 16  # records in a poll before a column-wise decode pays for its checks

Prepared = tuple[int, bytes | None, bytes, int]  # (offset, key, value, timestamp) to decode


class TopicDecoding(Protocol):
    """The settings the decoder reads (``ServiceSettings`` has them): per-topic format,
    default service, size cap and schema-registry prefix."""

    @property
    def topic_format(self) -> Mapping[str, str]: ...
    @property
    def strip_schema_prefix(self) -> Sequence[str]: ...
    @property
    def max_record_bytes(self) -> int: ...
    @property
    def topic_max_record_bytes(self) -> Mapping[str, int]: ...
    def topic_default_service(self, topic: str) -> str: ...


class RawRecord(Protocol):
    """What the decoder reads of a consumer record (aiokafka's, or a KafkaRecord)."""

    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> int: ...  # ms; goes with a dead-lettered record


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


def deployment_record(r: RawRecord, source: str) -> DeploymentEvent | BadRecord:
    """A deployments-topic record (``source`` = "topic:partition") as a deployment, or the
    bad record it is with its reason: the service's consumer and the verdict's Kafka
    reader take them alike."""
    value = r.value or b""
    try:
        dep = as_deployment(value, source, r.offset)
    except DecodeError as exc:
        return BadRecord(source, r.offset, exc.reason, value, timestamp_ms=r.timestamp)
    if dep is None:
        return BadRecord(source, r.offset, "not a deployment event", value,
                         timestamp_ms=r.timestamp)
    return dep


class RecordDecoder:
    """Decodes one partition's records at a time; keeps the per-(topic, key) decoders it learned.

    >>> from detector.kafka.records import KafkaRecord
    >>> from detector.service.config import ServiceSettings
    >>> dec = RecordDecoder(ServiceSettings(topics=("access",)))
    >>> line = (b'{"timestamp": "2026-11-29T10:00:00Z", "service.name": "shop", '
    ...         b'"http.request.method": "GET", "url.path": "/cart", '
    ...         b'"http.response.status_code": 200}')
    >>> recs = [KafkaRecord("access", 0, 7, b"shop", line, 0, ()),
    ...         KafkaRecord("access", 0, 8, b"shop", None, 0, ())]
    >>> [type(it).__name__ for it in dec.decode_partition("access", 0, recs)]
    ['AccessEvent', 'BadRecord']
    """

    def __init__(self, settings: TopicDecoding) -> None:
        self.settings = settings
        self._decoders: dict[str, dict[bytes | None, Decoder]] = {}
        self._strip = frozenset(settings.strip_schema_prefix)

    def _detect(self, topic: str, key: bytes | None, samples: list[bytes]) -> Decoder | str:
        """The decoder for (topic, key), detected from ``samples``; else why not."""
        fmt = self.settings.topic_format.get(topic, "auto")
        try:
            dec = choose_decoder(fmt, samples, self.settings.topic_default_service(topic))
        except DecodeError as exc:
            return exc.reason  # detection is retried with the next records of this key
        self._decoders.setdefault(topic, {})[key] = dec
        return dec

    def _prepared(self, source: str, strip: bool, cap: int,
                  records: Sequence[RawRecord]) -> list[Prepared | BadRecord]:
        """(offset, key, value, timestamp) after the null check, prefix stripping and size cap."""
        out: list[Prepared | BadRecord] = []
        for r in records:
            v, ts = r.value, r.timestamp
            if v is None:
                out.append(BadRecord(source, r.offset, "null value (tombstone)", b"", 0, ts))
                continue
            if strip and v[:1] == b"\x00":
                if len(v) < SCHEMA_PREFIX_LEN:
                    out.append(BadRecord(source, r.offset, "truncated schema-registry prefix", v,
                                         timestamp_ms=ts))
                    continue
                v = v[SCHEMA_PREFIX_LEN:]
            if len(v) > cap:
                # A prefix only; the dead-letter record carries the true length.
                out.append(BadRecord(source, r.offset,
                                     f"record of {len(v)} bytes over the {cap}-byte cap", v[:cap],
                                     len(v), ts))
                continue
            out.append((r.offset, r.key, v, ts))
        return out

    def decode_partition(self, topic: str, partition: int,
                         records: Sequence[RawRecord]) -> list[Item]:
        """Items of one partition's records, in offset order."""
        source = f"{topic}:{partition}"
        decoders = self._decoders.get(topic)
        if decoders is None:
            decoders = self._decoders[topic] = {}
        cap = self.settings.topic_max_record_bytes.get(topic, self.settings.max_record_bytes)
        strip = topic in self._strip
        out: list[Item] = []
        append = out.append
        # Fast pass: every record has a known decoder, no prefix to strip, fits the cap.
        if not strip:
            got = self._columnar(topic, decoders, source, cap, records)
            if got is not None:
                return got
            try:
                for r in records:
                    v = r.value
                    if v is None or len(v) > cap:
                        break
                    append(decoders[r.key].decode(v, source, r.offset))
                else:
                    return out
            except KeyError:
                pass  # a key whose format is not known yet
            except DecodeError:
                pass  # this record is bad: the careful pass below says why
            done = len(out)
        else:
            done = 0
        out.extend(self._careful(topic, source,
                                 self._prepared(source, strip, cap, records[done:])))
        return out

    def _columnar(self, topic: str, decoders: dict[bytes | None, Decoder], source: str,
                  cap: int, records: Sequence[RawRecord]) -> list[Item] | None:
        """A poll's records decoded at once by their decoders' ``decode_batch`` (the replay
        chunk path), one call per record key, when every key has a decoder that takes its
        records whole and none is null or over the cap; else None (record by record).

        A key seen for the first time is detected here from its records in this poll,
        the samples the record-by-record pass would take: a backlog's first poll (thousands
        of records per partition) goes column-wise too.

        A batch numbers its items from its first offset; where a key's offsets are not
        consecutive (keys interleave in a partition) each item gets its record's offset.
        """
        n = len(records)
        if n < COLUMNAR_MIN:
            return None
        values = [r.value for r in records]
        if None in values or max(map(len, values)) > cap:  # type: ignore[arg-type]
            return None
        key = records[0].key
        if all(r.key == key for r in records):
            groups = {key: range(n)}
        else:
            by_key: dict[bytes | None, list[int]] = {}
            for i, r in enumerate(records):
                by_key.setdefault(r.key, []).append(i)
            groups = by_key  # type: ignore[assignment]
        out: list[Item] = [None] * n  # type: ignore[list-item]
        for k, idx in groups.items():
            dec = decoders.get(k)
            if dec is None:
                got_dec = self._detect(topic, k, [values[i] for i in idx])  # type: ignore[misc]
                if isinstance(got_dec, str):
                    return None  # the record-by-record pass says why, record by record
                dec = got_dec
            batch = getattr(dec, "decode_batch", None)
            if batch is None:
                return None
            first = records[idx[0]].offset
            got: list[AccessEvent] | None = batch([values[i] for i in idx], source, first)
            if got is None:
                return None
            if records[idx[-1]].offset - first == len(idx) - 1:  # numbered as they are
                for i, ev in zip(idx, got, strict=True):
                    out[i] = ev
            else:
                for i, ev in zip(idx, got, strict=True):
                    if ev.__class__ is not AccessEvent:
                        return None
                    out[i] = ev._replace(offset=records[i].offset)
        return out

    def _careful(self, topic: str, source: str,
                 prepared: list[Prepared | BadRecord]) -> list[Item]:
        out: list[Item] = []
        append = out.append
        decoders = self._decoders[topic]
        failed: dict[bytes | None, str] = {}
        for p in prepared:
            if isinstance(p, BadRecord):
                append(p)
                continue
            offset, key, value, ts = p
            dec = decoders.get(key)
            if dec is None:
                why = failed.get(key)
                if why is None:
                    samples = [q[2] for q in prepared
                               if not isinstance(q, BadRecord) and q[1] == key]
                    got = self._detect(topic, key, samples)
                    if isinstance(got, str):
                        why = failed[key] = got
                    else:
                        dec = got
                if dec is None:
                    try:
                        dep = as_deployment(value, source, offset)
                    except DecodeError as exc:
                        append(BadRecord(source, offset, exc.reason, value, timestamp_ms=ts))
                        continue
                    append(dep if dep is not None
                           else BadRecord(source, offset, str(why), value, timestamp_ms=ts))
                    continue
            try:
                append(dec.decode(value, source, offset))
            except DecodeError as exc:
                append(BadRecord(source, offset, exc.reason, value, timestamp_ms=ts))
        return out
