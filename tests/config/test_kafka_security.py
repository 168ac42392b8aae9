"""TLS and SASL from `detector run` flags, env and the config file reach every aiokafka
client; a combination that cannot connect is one line and exit 2, before connecting."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from detector.config import ConfigError
from detector.kafka.config import KafkaConnection
from detector.service.config import load_service_settings
from detector.sinks.kafka import spec_connection


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A self-signed certificate and its key (used as CA, client cert and key)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=detector-test"],
                   check=True, capture_output=True)
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    return {"cert": cert, "key": key, "password": password}


def _flags(pki: dict[str, Path]) -> dict[str, object]:
    # What run_command passes for --security-protocol ... --ssl-keyfile.
    return {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "svc", "sasl_plain_password_file": pki["password"],
            "ssl_cafile": pki["cert"], "ssl_certfile": pki["cert"], "ssl_keyfile": pki["key"]}


async def test_flags_reach_every_aiokafka_client(pki: dict[str, Path]) -> None:
    service, _ = load_service_settings(bootstrap_servers="broker:9096", kafka=_flags(pki))
    conn = service.kafka_connection()
    kw = conn.client_kwargs()
    assert kw["bootstrap_servers"] == "broker:9096"
    assert (kw["security_protocol"], kw["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (kw["sasl_plain_username"], kw["sasl_plain_password"]) == ("svc", "s3cret")
    ctx: ssl.SSLContext = kw["ssl_context"]
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 1  # only the configured CA
    assert "s3cret" not in repr(service)
    # aiokafka checks SASL and TLS settings when a client is made (a SASL_SSL client without
    # an ssl_context or a SCRAM one without a password is refused): each one accepts these.
    consumer, producer = AIOKafkaConsumer(**kw), AIOKafkaProducer(**kw)
    admin = AIOKafkaAdminClient(**kw)
    await consumer.stop()
    await producer.stop()
    await admin.close()
    with pytest.raises(ValueError):  # the check is real
        AIOKafkaConsumer(**{**kw, "ssl_context": None})
    # A kafka: sink without ?bootstrap= goes to the same cluster with the same security.
    assert spec_connection("incidents", conn) == ("incidents", conn)


def test_config_file_and_environment(pki: dict[str, Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "detector.toml"
    cfg.write_text(f'[service.kafka]\nsecurity_protocol = "SASL_SSL"\n'
                   f'sasl_mechanism = "PLAIN"\nsasl_plain_username = "key"\n'
                   f'ssl_cafile = "{pki["cert"]}"\n')
    monkeypatch.setenv("DETECTOR_SERVICE__KAFKA__SASL_PLAIN_PASSWORD", "from-env")
    kw = load_service_settings(cfg)[0].kafka_connection().client_kwargs()
    assert (kw["sasl_mechanism"], kw["sasl_plain_password"]) == ("PLAIN", "from-env")
    assert "certfile" not in kw and kw["ssl_context"].cert_store_stats()["x509_ca"] == 1


@pytest.mark.parametrize(("change", "words"), [
    ({"sasl_mechanism": None}, "needs sasl_mechanism"),
    ({"sasl_plain_username": None}, "needs sasl_plain_username"),
    ({"sasl_plain_password_file": None}, "needs sasl_plain_password"),
    ({"ssl_cafile": Path("/no/such/ca.pem")}, "ssl_cafile /no/such/ca.pem: no such file"),
    ({"ssl_keyfile": None}, "go together"),
    ({"security_protocol": "SSL"}, "sasl_* settings need SASL_PLAINTEXT or SASL_SSL"),
    ({"security_protocol": "SASL_PLAINTEXT"}, "ssl_* files need SSL or SASL_SSL"),
    ({"sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
])
def test_unusable_combinations(pki: dict[str, Path], change: dict[str, object],
                               words: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_service_settings(kafka={**_flags(pki), **change})
    assert words in str(e.value) and "\n" not in str(e.value)


def test_password_and_password_file_exclude_each_other(pki: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="not both"):
        load_service_settings(kafka={**_flags(pki), "sasl_plain_password": "x"})
    # Tests and code may still build a partial connection; aiokafka then says what is missing.
    assert KafkaConnection(security_protocol="SASL_PLAINTEXT").client_kwargs()[
        "sasl_mechanism"] == "PLAIN"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "detector", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("args", "env", "words"), [
    (["run", "--security-protocol", "SASL_SSL", "--sasl-plain-username", "u"], {},
     "needs sasl_mechanism"),
    (["run", "--security-protocol", "SSL", "--ssl-cafile", "/no/such/ca.pem"], {},
     "no such file"),
    (["run", "--security-protocol", "SASL-SSL"], {}, "security_protocol"),
    (["run"], {"DETECTOR_SERVICE__KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
     "needs sasl_mechanism"),
    (["deploy", "record", "--service", "s", "--version", "1"],
     {"DETECTOR_SERVICE__KAFKA__SASL_MECHANISM": "PLAIN"}, "sasl_* settings need"),
])
def test_cli_usage_error_exit_2(args: list[str], env: dict[str, str], words: str) -> None:
    res = _run(*args, env=env)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("detector: error: ")
    assert words in res.stderr and "Traceback" not in res.stderr
