"""deploy/: Kafka reachable from the host and the compose network, a Vector producer whose
config uses only documented keys and feeds the topic the detector reads, and an image
that carries the config its default command names. Parsed, never run (no Docker here)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from typing import Any

from tests.deploy.test_manifests import (
    CONFIG_IN_CONTAINER,
    DEPLOY,
    REPO,
    _compose,
    _example,
    _instructions,
    parse_cli,
)

# The keys each component type takes, from Vector's reference documentation
# (vector.dev/docs/reference/configuration: sources/file, transforms/remap, sinks/kafka);
# only the ones a config like this may use, not every key Vector has.
VECTOR_KEYS: dict[str, set[str]] = {
    "file": {"type", "include", "exclude", "read_from", "data_dir", "max_line_bytes",
             "ignore_older_secs", "glob_minimum_cooldown_ms", "file_key", "host_key",
             "offset_key", "line_delimiter", "max_read_bytes", "rotate_wait_secs",
             "ignore_checkpoints", "fingerprint", "encoding", "multiline"},
    "remap": {"type", "inputs", "source", "file", "files", "drop_on_error", "drop_on_abort",
              "reroute_dropped", "timezone", "metric_tag_values"},
    "kafka": {"type", "inputs", "bootstrap_servers", "topic", "key_field", "compression",
              "encoding", "headers_key", "librdkafka_options", "message_timeout_ms",
              "socket_timeout_ms", "sasl", "tls", "batch", "buffer", "healthcheck",
              "healthcheck_topic", "acknowledgements"},
}
ENCODING_CODECS = {"json", "text", "raw_message", "logfmt", "csv", "avro", "gelf",
                   "native", "native_json", "protobuf"}


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items()}


def _listeners(value: str) -> dict[str, str]:
    """NAME -> host:port of a Kafka listener list."""
    return dict(item.split("://", 1) for item in value.split(","))


def _mount(volume: str) -> tuple[str, str]:
    """(source, target) of a short-syntax volume; the source may hold ${VAR:-default}."""
    parts = volume.rsplit(":", 2) if volume.endswith((":ro", ":rw")) else volume.rsplit(":", 1)
    return parts[0], parts[1]


def _vector() -> dict[str, Any]:
    return tomllib.loads((DEPLOY / "vector" / "vector.toml").read_text(encoding="utf-8"))


def test_kafka_is_reachable_from_the_network_and_the_host() -> None:
    kafka = _compose()["services"]["kafka"]
    env = _env(kafka)
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(advertised) <= set(listeners) and set(listeners) <= set(protocols)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    service, _ = _example()
    assert service.bootstrap_servers in advertised.values()  # the detector, in the network
    host = [(name, addr) for name, addr in advertised.items() if addr.startswith("localhost:")]
    assert len(host) == 1
    name, addr = host[0]
    port = addr.split(":")[1]
    assert listeners[name].endswith(f":{port}")
    assert f"{port}:{port}" in kafka["ports"]  # published on the host at the same port
    # The documented host command uses that address and parses with the real CLI.
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    lines = [ln.lstrip("# ").strip() for ln in text.splitlines()
             if ln.lstrip("# ").startswith("detector publish")]
    assert lines
    for line in lines:
        args = shlex.split(line)[1:]
        params = parse_cli(args)
        assert params["bootstrap_servers"] == addr and params["topic"] in service.topics


def test_vector_config_uses_documented_keys() -> None:
    doc = _vector()
    assert set(doc) <= {"sources", "transforms", "sinks", "data_dir", "api"}
    components = {**doc["sources"], **doc["transforms"], **doc["sinks"]}
    for name, comp in components.items():
        allowed = VECTOR_KEYS[comp["type"]]
        assert set(comp) <= allowed, (name, set(comp) - allowed)
    for name, comp in {**doc["transforms"], **doc["sinks"]}.items():
        assert comp["inputs"] and all(i in components for i in comp["inputs"]), name
    (sink,) = doc["sinks"].values()
    assert sink["encoding"]["codec"] in ENCODING_CODECS
    assert sink["encoding"]["codec"] == "text"  # the line as written, not Vector's JSON
    (source,) = doc["sources"].values()
    assert source["read_from"] in {"beginning", "end"}
    assert source["max_line_bytes"] >= 1 << 20  # the detector's own line cap


def test_vector_feeds_the_topic_the_detector_reads_keyed_by_service() -> None:
    doc = _vector()
    (sink,) = doc["sinks"].values()
    service, _ = _example()
    assert sink["topic"] in service.topics
    assert sink["bootstrap_servers"] == service.bootstrap_servers
    # The key field is set by the transform feeding the sink, for every event.
    (feeder,) = sink["inputs"]
    program = doc["transforms"][feeder]["source"]
    assert re.search(rf"^\.{sink['key_field']} = \"default\"$", program, re.M)
    # The source reads the directory compose mounts.
    vector = _compose()["services"]["vector"]
    mounts = dict(reversed(_mount(v)) for v in vector["volumes"])
    (source,) = doc["sources"].values()
    (pattern,) = source["include"]
    assert pattern.rsplit("/", 1)[0] in mounts
    assert mounts["/etc/vector/vector.toml"] == "./vector/vector.toml"
    assert vector["command"] == ["--config", "/etc/vector/vector.toml"]
    assert source["data_dir"] in mounts  # positions kept across restarts


def test_the_image_carries_the_config_its_command_names() -> None:
    (cmd,) = _instructions("CMD")
    args = json.loads(cmd)
    assert str(parse_cli(args)["config"]) == CONFIG_IN_CONTAINER
    copies = [c.split() for c in _instructions("COPY")]
    assert ["deploy/detector.toml", CONFIG_IN_CONTAINER] in copies
    assert (REPO / "deploy" / "detector.toml").is_file()
