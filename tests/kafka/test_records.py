"""Pure helpers: lag under both ListOffsets behaviours, schema prefix, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from detector.kafka import KafkaConnection, partition_lag, strip_schema_prefix


@pytest.mark.parametrize(
    ("position", "end", "highwater", "lag"),
    [
        # standard Kafka: end offset = last offset + 1
        (0, 0, None, 0),  # empty partition
        (0, 20, None, 20),
        (15, 20, None, 5),
        (20, 20, None, 0),
        (20, 20, 20, 0),
    ],
)
def test_lag_standard_semantics(position: int, end: int, highwater: int | None, lag: int) -> None:
    assert partition_lag(position, end, highwater) == lag


@pytest.mark.parametrize(
    ("position", "end", "highwater", "lag"),
    [
        # end offset = the last record's offset: a caught-up consumer reads -1 naively
        (20, 19, None, 0),
        (15, 19, None, 4),
        # Tansu 0.6: (base of the last batch) + 1; the fetch high-watermark is exact
        (20, 18, None, 0),
        (20, 18, 20, 0),
        (10, 18, 20, 10),
        # a stale high-watermark never hides newer records reported by ListOffsets
        (10, 30, 20, 20),
    ],
)
def test_lag_tansu_semantics_clamped(
    position: int, end: int, highwater: int | None, lag: int
) -> None:
    assert partition_lag(position, end, highwater) == lag


def test_schema_prefix() -> None:
    assert strip_schema_prefix(b"\x00\x00\x00\x01\x02{}") == b"{}"
    assert strip_schema_prefix(b"\x00\x00\x00\x01\x02") == b""
    assert strip_schema_prefix(b"{}") == b"{}"
    assert strip_schema_prefix(b"\x00\x01") == b"\x00\x01"  # too short to be framed


def test_security_settings_pass_through() -> None:
    kw = KafkaConnection(
        bootstrap_servers="k:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="svc",
        sasl_plain_password=SecretStr("secret"),
    ).client_kwargs()
    assert kw["security_protocol"] == "SASL_SSL"
    assert kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kw["sasl_plain_username"], kw["sasl_plain_password"]) == ("svc", "secret")
    assert kw["ssl_context"] is not None
    plain = KafkaConnection().client_kwargs()
    assert "ssl_context" not in plain and "sasl_mechanism" not in plain


def test_password_is_not_printed() -> None:
    c = KafkaConnection(
        security_protocol="SASL_PLAINTEXT", sasl_plain_password=SecretStr("hunter2")
    )
    assert "hunter2" not in repr(c)


def test_ssl_files_need_an_ssl_protocol() -> None:
    with pytest.raises(ValidationError, match="SSL"):
        KafkaConnection(ssl_cafile=Path("/etc/ca.pem"))
    with pytest.raises(ValidationError, match="go together"):
        KafkaConnection(security_protocol="SSL", ssl_certfile=Path("/c.pem"))
