"""RecordDecoder: Kafka records of one partition -> events or dead letters with reasons."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.decoding.records import RecordDecoder
from detector.events import AccessEvent, BadRecord, DeploymentEvent
from detector.kafka.records import KafkaRecord
from detector.service.config import ServiceSettings


def _otel(i: int, service: str = "shop") -> bytes:
    return orjson.dumps({
        "timestamp": 1_780_000_000 + i, "service.name": service, "http.request.method": "GET",
        "url.path": f"/cart/{i}", "http.response.status_code": 200,
    })


CLF = b'10.0.0.1 - - [29/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 12'


def _recs(values: list[bytes | None], key: bytes | None = b"shop", topic: str = "access",
          start: int = 0) -> list[KafkaRecord]:
    return [KafkaRecord(topic, 0, start + i, key, v, 0, ()) for i, v in enumerate(values)]  # type: ignore[arg-type]


def _kinds(items: list[object]) -> list[str]:
    return [type(i).__name__ for i in items]


def test_every_record_comes_out_once_in_offset_order() -> None:
    dec = RecordDecoder(ServiceSettings(topics=("access",)))
    recs = _recs([_otel(0), _otel(1), b"{broken", None, _otel(4)])
    items = dec.decode_partition("access", 0, recs)
    assert _kinds(items) == ["AccessEvent", "AccessEvent", "BadRecord", "BadRecord",
                             "AccessEvent"]
    assert [getattr(i, "offset", None) or i[14] for i in items] == [0, 1, 2, 3, 4]  # type: ignore[index]
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert bad[1].reason == "null value (tombstone)"
    assert all(b.source == "access:0" for b in bad)
    # The decoder learned for this key is reused: a clean poll takes the fast pass.
    again = dec.decode_partition("access", 0, _recs([_otel(5), _otel(6)], start=5))
    assert all(isinstance(i, AccessEvent) for i in again)


def test_size_cap_per_topic_keeps_a_prefix_of_the_record() -> None:
    cfg = ServiceSettings(topics=("access",), topic_max_record_bytes={"access": 150})
    dec = RecordDecoder(cfg)
    big = _otel(1)[:-1] + b', "pad": "' + b"x" * 200 + b'"}'
    items = dec.decode_partition("access", 0, _recs([_otel(0), big]))
    assert isinstance(items[0], AccessEvent)
    assert isinstance(items[1], BadRecord) and "over the 150-byte cap" in items[1].reason
    assert len(items[1].raw) == 150


def test_schema_registry_prefix_is_stripped_where_configured() -> None:
    dec = RecordDecoder(ServiceSettings(topics=("access",), strip_schema_prefix=("access",)))
    framed = b"\x00\x00\x00\x00\x07" + _otel(0)
    items = dec.decode_partition("access", 0, _recs([framed, _otel(1), b"\x00\x01"]))
    assert _kinds(items) == ["AccessEvent", "AccessEvent", "BadRecord"]
    assert items[2].reason == "truncated schema-registry prefix"  # type: ignore[union-attr]


def test_formats_are_detected_per_key_and_topic_default_service_applies() -> None:
    cfg = ServiceSettings(topics=("access",), topic_service={"access": "edge"})
    dec = RecordDecoder(cfg)
    recs = _recs([_otel(0)], key=b"shop") + _recs([CLF, CLF], key=b"edge", start=1)
    items = dec.decode_partition("access", 0, recs)
    assert [i.service for i in items] == ["shop", "edge", "edge"]  # type: ignore[union-attr]


def test_configured_format_wins_over_detection() -> None:
    dec = RecordDecoder(ServiceSettings(topics=("access",), topic_format={"access": "clf"}))
    items = dec.decode_partition("access", 0, _recs([_otel(0)]))
    assert isinstance(items[0], BadRecord)


def test_undetectable_key_dead_letters_with_the_reason_and_retries_later() -> None:
    dec = RecordDecoder(ServiceSettings(topics=("access",)))
    items = dec.decode_partition("access", 0, _recs([b"hello", b"world"], key=b"k"))
    assert _kinds(items) == ["BadRecord", "BadRecord"]
    assert items[0].reason  # type: ignore[union-attr]
    later = dec.decode_partition("access", 0, _recs([_otel(0, "k")], key=b"k", start=2))
    assert isinstance(later[0], AccessEvent)


def test_deployment_events_on_an_undetected_key_are_recognised() -> None:
    dec = RecordDecoder(ServiceSettings(topics=("access",)))
    dep = orjson.dumps({"type": "deployment", "service.name": "shop", "version": "2.0.0",
                        "timestamp": "2026-11-29T10:00:00Z"})
    items = dec.decode_partition("access", 0, _recs([dep], key=b"deploys"))
    assert isinstance(items[0], (DeploymentEvent, BadRecord))
    if isinstance(items[0], BadRecord):
        pytest.fail(f"deployment not recognised: {items[0].reason}")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=300), st.none(),
                          st.integers(0, 50).map(_otel)), max_size=30))
def test_hostile_values_never_raise_and_nothing_is_lost(values: list[bytes | None]) -> None:
    dec = RecordDecoder(ServiceSettings(topics=("access",), strip_schema_prefix=("access",),
                                        max_record_bytes=200))
    items = dec.decode_partition("access", 0, _recs(values))
    assert len(items) == len(values)
    for it in items:
        if isinstance(it, BadRecord):
            assert it.reason and "\n" not in it.reason


def _flat(i: int, service: str) -> bytes:
    """A flat OTel record of the layout the column-wise decoder takes."""
    return orjson.dumps({
        "timestamp": f"2026-11-29T10:00:{i % 60:02d}.{i:03d}Z", "http.request.method": "GET",
        "url.path": f"/cart/{i}", "http.response.status_code": 200 + (i % 3) * 100,
        "http.server.request.duration": 0.01 * (i + 1), "client.address": f"10.0.0.{i}:5",
        "user_agent.original": "ua", "service.name": service, "service.version": "1",
        "http.response.body.size": i})


def _count_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the column-wise OTel decodes made from now on, in call order."""
    from detector.decoding.otel import OtelDecoder

    calls: list[int] = []
    real = OtelDecoder.decode_batch

    def counted(self: OtelDecoder, raws: list[bytes], src: str, first: int) -> object:
        calls.append(len(raws))
        return real(self, raws, src, first)

    monkeypatch.setattr(OtelDecoder, "decode_batch", counted)
    return calls


def test_a_poll_decoded_column_wise_equals_record_by_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keys interleaved in a partition, offsets with a gap (compaction, transactions):
    the column-wise decode (one decode_batch per key) gives each record's own event."""
    keys = [b"shop" if i % 3 else b"cart" for i in range(40)]
    offsets = [i + (7 if i > 20 else 0) for i in range(40)]
    recs = [KafkaRecord("access", 0, o, k, _flat(i, k.decode()), 0, ())  # type: ignore[arg-type]
            for i, (o, k) in enumerate(zip(offsets, keys, strict=True))]
    dec = RecordDecoder(ServiceSettings(topics=("access",)))
    dec.decode_partition("access", 0, recs[:2] + recs[3:4])  # learn both keys' decoders
    calls = _count_batches(monkeypatch)
    got = dec.decode_partition("access", 0, recs)
    assert sorted(calls) == [14, 26]  # one batch per key, not one decode per record
    one_by_one = [dec._decoders["access"][r.key].decode(r.value, "access:0", r.offset)
                  for r in recs]
    assert got == one_by_one
    assert [e.offset for e in got] == offsets  # type: ignore[union-attr]


def test_a_first_poll_of_unknown_keys_is_detected_and_decoded_column_wise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backlog's first poll: keys never seen are detected from this poll's records (the
    samples the record-by-record pass takes) and the poll still goes column-wise."""
    keys = [b"shop" if i % 3 else b"cart" for i in range(40)]
    recs = [KafkaRecord("access", 0, i, k, _flat(i, k.decode()), 0, ())  # type: ignore[arg-type]
            for i, k in enumerate(keys)]
    careful = RecordDecoder(ServiceSettings(topics=("access",)))
    careful._decoders["access"] = {}
    expected = careful._careful("access", "access:0",
                                careful._prepared("access:0", False, 1 << 20, recs))
    calls = _count_batches(monkeypatch)
    dec = RecordDecoder(ServiceSettings(topics=("access",)))
    got = dec.decode_partition("access", 0, recs)
    assert sorted(calls) == [14, 26]
    assert got == expected
    assert set(dec._decoders["access"]) == {b"shop", b"cart"}


def test_an_undetectable_key_in_a_first_poll_still_dead_letters_with_its_reason() -> None:
    recs = _recs([b"\x01\x02 not a log line %d" % i for i in range(20)], key=b"junk")
    got = RecordDecoder(ServiceSettings(topics=("access",))).decode_partition("access", 0, recs)
    assert _kinds(got) == ["BadRecord"] * 20
    assert all(b.reason for b in got)  # type: ignore[union-attr]
