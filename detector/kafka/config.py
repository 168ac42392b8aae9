"""Connection and source settings: frozen pydantic models, one per concern.

Names follow the Kafka client settings (``security_protocol``,
``sasl_mechanism``...), so a value from a Kafka client's documentation can be
pasted as is. The CLI (``detector run``) maps its flags onto these models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from detector.decoding.base import MAX_LINE_BYTES

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]


class KafkaConnection(BaseModel):
    """Where the brokers are and how to authenticate; shared by every client.

    >>> c = KafkaConnection(bootstrap_servers="k1:9092,k2:9092")
    >>> c.client_kwargs()["bootstrap_servers"]
    'k1:9092,k2:9092'
    >>> kw = KafkaConnection(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
    ...                      sasl_plain_username="u", sasl_plain_password="p").client_kwargs()
    >>> kw["sasl_mechanism"], kw["sasl_plain_password"]
    ('SCRAM-SHA-256', 'p')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = "localhost:9092"
    client_id: str = "detector"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_plain_username: str | None = None
    sasl_plain_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_password: SecretStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> KafkaConnection:
        # A certificate given with a plaintext protocol is almost always a
        # mistake that would silently send credentials in clear: refuse it.
        uses_ssl = self.security_protocol in ("SSL", "SASL_SSL")
        ssl_files = (self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile)
        if not uses_ssl and any(f is not None for f in ssl_files):
            raise ValueError(f"ssl_* files need SSL or SASL_SSL, not {self.security_protocol}")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        return self

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (consumer, producer, admin)."""
        kw: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            kw["sasl_mechanism"] = self.sasl_mechanism
            kw["sasl_plain_username"] = self.sasl_plain_username
            pw = self.sasl_plain_password
            kw["sasl_plain_password"] = pw.get_secret_value() if pw is not None else None
        if self.security_protocol in ("SSL", "SASL_SSL"):
            pw = self.ssl_password
            kw["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile,
                certfile=self.ssl_certfile,
                keyfile=self.ssl_keyfile,
                password=pw.get_secret_value() if pw is not None else None,
            )
        return kw


class KafkaSourceConfig(BaseModel):
    """What to consume and how; see :class:`detector.kafka.source.KafkaSource`.

    >>> KafkaSourceConfig(topics=("access",), group_id="detector").max_record_bytes
    1048576
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    topics: tuple[str, ...] = Field(min_length=1)
    group_id: str = "detector"
    # Only used when the group has no committed offset for a partition.
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_record_bytes: int = Field(default=MAX_LINE_BYTES, gt=0)
    strip_schema_prefix: bool = False
    max_batch_records: int = Field(default=10_000, gt=0)
    poll_timeout_ms: int = Field(default=1_000, ge=0)
    session_timeout_ms: int = Field(default=10_000, gt=0)
    heartbeat_interval_ms: int = Field(default=3_000, gt=0)
    max_poll_interval_ms: int = Field(default=300_000, gt=0)
    request_timeout_ms: int = Field(default=40_000, gt=0)
