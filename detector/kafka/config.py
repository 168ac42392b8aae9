"""Connection and source settings: frozen pydantic models, one per concern.

Names follow the Kafka client settings (``security_protocol``,
``sasl_mechanism``...), so a value from a Kafka client's documentation can be
pasted as is. ``detector run`` reads :class:`KafkaSecurity` as the nested
``[service.kafka]`` section of its settings (detector.service.config) and
gives every client it makes the same :class:`KafkaConnection`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from aiokafka.helpers import create_ssl_context
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from detector.decoding.base import MAX_LINE_BYTES

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
# The mechanisms that need nothing beyond a user name and a password (OAUTHBEARER
# and GSSAPI need a token provider or Kerberos, which the CLI cannot give).
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
# The one default cluster of every command and client (the service, `deploy
# record`, a kafka: sink): 127.0.0.1 rather than localhost, which may be ::1 first.
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


class KafkaSecurity(BaseModel):
    """How to authenticate to a cluster: the ``[service.kafka]`` section of the settings.

    :meth:`check_usable` is the strict check of what a user configured; the
    model alone also admits partial values (tests, clients built in code).

    >>> KafkaSecurity(security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
    ...               sasl_plain_username="key", sasl_plain_password="s").check_usable()
    >>> KafkaSecurity(security_protocol="SASL_SSL").check_usable()
    Traceback (most recent call last):
    ValueError: security_protocol SASL_SSL needs sasl_mechanism (PLAIN, SCRAM-SHA-256 or ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    client_id: str = "detector"
    """Client id the brokers see (quotas, logs, ACL audit)."""
    security_protocol: SecurityProtocol = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (managed clusters: SASL_SSL)."""
    sasl_mechanism: SaslMechanism | None = None
    """PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; needed with SASL_*."""
    sasl_plain_username: str | None = None
    """SASL user name (an API key on Confluent Cloud)."""
    sasl_plain_password: SecretStr | None = None
    """SASL password (prefer sasl_plain_password_file or the environment to a file in git)."""
    sasl_plain_password_file: Path | None = None
    """File holding the SASL password (trailing newline ignored; read at each connection)."""
    ssl_cafile: Path | None = None
    """CA bundle (PEM) to verify the brokers with; default: the system's CAs."""
    ssl_certfile: Path | None = None
    """Client certificate (PEM) for mutual TLS; with ssl_keyfile."""
    ssl_keyfile: Path | None = None
    """Private key (PEM) of ssl_certfile."""
    ssl_password: SecretStr | None = None
    """Password of ssl_keyfile, if it is encrypted."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # A certificate given with a plaintext protocol is almost always a
        # mistake that would silently send credentials in clear: refuse it.
        ssl_files = (self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile)
        if not self.uses_ssl and any(f is not None for f in ssl_files):
            raise ValueError(f"ssl_* files need SSL or SASL_SSL, not {self.security_protocol}")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        if self.sasl_plain_password is not None and self.sasl_plain_password_file is not None:
            raise ValueError("give sasl_plain_password or sasl_plain_password_file, not both")
        return self

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def check_usable(self) -> None:
        """ValueError (one line) naming the first thing that cannot connect as configured."""
        sasl = (self.sasl_mechanism, self.sasl_plain_username, self.sasl_plain_password,
                self.sasl_plain_password_file)
        if self.uses_sasl:
            if self.sasl_mechanism is None:
                raise ValueError(f"security_protocol {self.security_protocol} needs "
                                 "sasl_mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
            if not self.sasl_plain_username:
                raise ValueError(f"sasl_mechanism {self.sasl_mechanism} needs sasl_plain_username")
            if self.sasl_plain_password is None and self.sasl_plain_password_file is None:
                raise ValueError(f"sasl_mechanism {self.sasl_mechanism} needs "
                                 "sasl_plain_password or sasl_plain_password_file")
        elif any(v is not None for v in sasl):
            raise ValueError(f"sasl_* settings need SASL_PLAINTEXT or SASL_SSL, "
                             f"not {self.security_protocol}")
        for name in ("sasl_plain_password_file", "ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name} {path}: no such file")

    def sasl_password(self) -> str | None:
        """The password, from the setting or (read now, so a rotated file is picked up) its file."""
        if self.sasl_plain_password is not None:
            return self.sasl_plain_password.get_secret_value()
        if self.sasl_plain_password_file is not None:
            try:
                text = self.sasl_plain_password_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"cannot read sasl_plain_password_file "
                                 f"{self.sasl_plain_password_file}: {exc.strerror}") from None
            return text.rstrip("\r\n")
        return None


class KafkaConnection(KafkaSecurity):
    """Where the brokers are and how to authenticate; shared by every client.

    >>> c = KafkaConnection(bootstrap_servers="k1:9092,k2:9092")
    >>> c.client_kwargs()["bootstrap_servers"]
    'k1:9092,k2:9092'
    >>> kw = KafkaConnection(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
    ...                      sasl_plain_username="u", sasl_plain_password="p").client_kwargs()
    >>> kw["sasl_mechanism"], kw["sasl_plain_password"]
    ('SCRAM-SHA-256', 'p')
    """

    bootstrap_servers: str = DEFAULT_BOOTSTRAP

    @classmethod
    def of(cls, bootstrap_servers: str, security: KafkaSecurity) -> KafkaConnection:
        """The connection to ``bootstrap_servers`` with ``security``.

        >>> KafkaConnection.of("k:9093", KafkaSecurity(security_protocol="SSL")).security_protocol
        'SSL'
        """
        return cls(bootstrap_servers=bootstrap_servers, **dict(security))

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (consumer, producer, admin)."""
        kw: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.uses_sasl:
            kw["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"  # aiokafka's own default
            kw["sasl_plain_username"] = self.sasl_plain_username
            kw["sasl_plain_password"] = self.sasl_password()
        if self.uses_ssl:
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
