"""One settings root, sources in one order: defaults < config file < environment < flags,
key by key, for pipeline keys, service keys and the nested Kafka connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import OTHER_SECTIONS, ConfigError, Settings, load_settings
from detector.kafka.config import DEFAULT_BOOTSTRAP
from detector.service.config import RunSettings, load_service_settings

FILE = """\
[windows]
size_seconds = 30
allowed_lateness_seconds = 5
[service]
bootstrap_servers = "file:9092"
group_id = "from-file"
[service.kafka]
security_protocol = "SASL_PLAINTEXT"
sasl_mechanism = "PLAIN"
sasl_plain_username = "file-user"
sasl_plain_password = "file-secret"
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "detector.toml"
    path.write_text(FILE)
    return path


def test_each_source_overrides_the_one_below_key_by_key(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, pipeline = load_service_settings()
    assert (service.bootstrap_servers, service.group_id) == (DEFAULT_BOOTSTRAP, "detector")
    assert service.kafka.security_protocol == "PLAINTEXT" and service.kafka.sasl_mechanism is None
    assert pipeline.windows.size_seconds == 60

    service, pipeline = load_service_settings(cfg)  # file over defaults
    assert (service.bootstrap_servers, service.group_id) == ("file:9092", "from-file")
    assert (service.kafka.sasl_mechanism, service.kafka.sasl_plain_username) == ("PLAIN",
                                                                                "file-user")
    assert (pipeline.windows.size_seconds, pipeline.windows.allowed_lateness_seconds) == (30, 5)

    monkeypatch.setenv("DETECTOR_SERVICE__BOOTSTRAP_SERVERS", "env:9092")
    monkeypatch.setenv("DETECTOR_SERVICE__KAFKA__SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("DETECTOR_WINDOWS__SIZE_SECONDS", "20")
    service, pipeline = load_service_settings(cfg)  # environment over the file
    assert (service.bootstrap_servers, service.group_id) == ("env:9092", "from-file")
    assert service.kafka.sasl_mechanism == "SCRAM-SHA-256"
    assert service.kafka.sasl_plain_username == "file-user"  # the rest of the section stays
    assert (pipeline.windows.size_seconds, pipeline.windows.allowed_lateness_seconds) == (20, 5)

    service, pipeline = load_service_settings(  # flags over the environment
        cfg, bootstrap_servers="flag:9092", group_id=None,
        kafka={"sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": None})
    assert (service.bootstrap_servers, service.group_id) == ("flag:9092", "from-file")
    assert (service.kafka.sasl_mechanism, service.kafka.sasl_plain_username) == (
        "SCRAM-SHA-512", "file-user")
    assert service.kafka_connection().client_kwargs()["sasl_mechanism"] == "SCRAM-SHA-512"
    assert load_settings(cfg, windows={"size_seconds": 10}).windows.size_seconds == 10


def test_the_pipeline_root_reads_the_same_file(cfg: Path) -> None:
    # [service] belongs to the run root: the pipeline root skips it, and both agree.
    assert load_settings(cfg) == load_service_settings(cfg)[1]
    assert isinstance(RunSettings.load(cfg), Settings)
    assert Settings().windows.size_seconds == 60  # no file: defaults (and environment)
    # The sections the pipeline root skips are exactly those the run root adds.
    assert set(RunSettings.model_fields) - set(Settings.model_fields) == OTHER_SECTIONS


def test_yaml_nested_connection(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("service:\n  kafka:\n    security_protocol: SSL\n    client_id: det-1\n")
    service, _ = load_service_settings(y)
    kw = service.kafka_connection().client_kwargs()
    assert kw["security_protocol"] == "SSL" and kw["client_id"] == "det-1"
    assert kw["ssl_context"] is not None


@pytest.mark.parametrize(("env", "words"), [
    ({"DETECTOR_SERVICE__NO_SUCH_KEY": "1"}, "service.no_such_key"),
    ({"DETECTOR_SERVICE__TOPICS": "[not json"}, "service"),
    ({"DETECTOR_SERVICE__KAFKA__SECURITY_PROTOCOL": "TLS"}, "service.kafka.security_protocol"),
])
def test_bad_environment_is_one_line(env: dict[str, str], words: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as e:
        load_service_settings()
    assert "\n" not in str(e.value) and words in str(e.value)


def test_a_bad_service_section_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("service = 3\n")
    with pytest.raises(ConfigError, match=r"\[service\] must be a table"):
        load_service_settings(bad)
