"""deploy/: the container and Kubernetes files agree with the real CLI and settings.

Nothing here is built or run (there is no Docker engine in CI): the files are
parsed, the config goes through the service's own loader and every container
command line through the real CLI parser (``make_context`` parses, it runs nothing).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import typer.core
import typer.main
import yaml

from detector.cli.app import app
from detector.config import Settings
from detector.service.config import ServiceSettings, load_service_settings

try:  # recent typer vendors click; older releases use click itself
    from typer._click.exceptions import MissingParameter, NoSuchOption, UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import (  # type: ignore[no-redef,assignment,unused-ignore]
        MissingParameter,
        NoSuchOption,
        UsageError,
    )

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
CONFIG_IN_CONTAINER = "/etc/detector/detector.toml"
K8S_API = {
    "ConfigMap": "v1",
    "Service": "v1",
    "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1",
    "CronJob": "batch/v1",
}


# ---- helpers ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_detector_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """DETECTOR_* variables of the developer's shell would override the files."""
    for name in list(os.environ):
        if name.startswith("DETECTOR_"):
            monkeypatch.delenv(name)


def _yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _k8s(kind: str, name: str) -> dict[str, Any]:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _yaml_docs(path):
            if doc.get("kind") == kind and doc["metadata"]["name"] == name:
                return dict(doc)
    raise AssertionError(f"no {kind} {name} under {K8S}")


def _compose() -> dict[str, Any]:
    (doc,) = _yaml_docs(DEPLOY / "docker-compose.yml")
    return dict(doc)


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instr, _, rest = (pending + line).partition(" ")
        out.append((instr.upper(), rest.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return out


def _instructions(name: str) -> list[str]:
    return [rest for instr, rest in _dockerfile() if instr == name]


def _configmap_toml() -> str:
    text = _k8s("ConfigMap", "detector-config")["data"]["detector.toml"]
    assert isinstance(text, str)
    return text


def _load(path: Path) -> tuple[ServiceSettings, Settings]:
    return load_service_settings(path)


def _example() -> tuple[ServiceSettings, Settings]:
    return _load(DEPLOY / "detector.toml")


def _seconds(duration: str) -> float:
    """A compose duration such as ``45s`` or ``1m30s``."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}
    return sum(float(n) * scale[u] for n, u in parts)


def parse_cli(args: Sequence[str]) -> dict[str, Any]:
    """Parse ``detector ARGS`` with the real CLI, down to the leaf command; its params."""
    cmd: Any = typer.main.get_command(app)
    name, rest = "detector", list(args)
    ctx = cmd.make_context(name, list(rest), resilient_parsing=False)
    while isinstance(cmd, typer.core.TyperGroup):
        assert rest, f"{name}: no subcommand in {list(args)}"
        sub = cmd.get_command(ctx, rest[0])
        if sub is None:
            raise UsageError(f"no such command {rest[0]!r} in {list(args)}")
        cmd, name, rest = sub, rest[0], rest[1:]
        ctx = cmd.make_context(name, list(rest), parent=ctx, resilient_parsing=False)
    return dict(ctx.params)


def _documented_runs(path: Path) -> list[list[str]]:
    """Arguments of ``docker compose ... run [opts] detector ARGS`` and ``exec detector
    detector ARGS`` examples (the image's entrypoint is ``detector``)."""
    found: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.lstrip("# ").strip()
        if not line.startswith("docker compose"):
            continue
        words = shlex.split(line)
        for verb, skip in (("run", 1), ("exec", 2)):
            if verb not in words:
                continue
            after = words[words.index(verb) + 1:]
            at = after.index("detector")  # the compose service, after run's options
            found.append(after[at + skip:])
    return found


def _command_lines() -> list[tuple[str, list[str]]]:
    """Every ``detector`` command line the deploy files run or document, and where."""
    lines: list[tuple[str, list[str]]] = []
    (cmd,) = _instructions("CMD")
    lines.append(("Dockerfile CMD", json.loads(cmd)))
    lines.append(("compose command", _compose()["services"]["detector"]["command"]))
    pod = _k8s("Deployment", "detector")["spec"]["template"]["spec"]
    lines.append(("Deployment args", pod["containers"][0]["args"]))
    job = _k8s("CronJob", "detector-train")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = job["containers"][0]
    assert container["command"] == ["/bin/sh", "-c"], "the glob needs a shell"
    (script,) = container["args"]
    words = shlex.split(script)
    assert words[:2] == ["exec", "detector"], script
    lines.append(("CronJob args", words[2:]))
    for path in (DEPLOY / "docker-compose.yml", DEPLOY / "README.md"):
        for i, args in enumerate(_documented_runs(path)):
            lines.append((f"{path.name} example {i + 1}", args))
    return lines


# ---- files parse -----------------------------------------------------------


def test_every_yaml_file_parses() -> None:
    paths = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert DEPLOY / "docker-compose.yml" in paths and len(paths) >= 6
    kinds: set[str] = set()
    for path in paths:
        docs = _yaml_docs(path)
        assert docs, f"{path}: no YAML documents"
        if path.parent != K8S:
            continue
        for doc in docs:
            assert isinstance(doc, dict), path
            kind = doc.get("kind")
            assert kind in K8S_API, f"{path}: unexpected kind {kind!r}"
            assert doc.get("apiVersion") == K8S_API[kind], f"{path}: apiVersion of {kind}"
            assert doc.get("metadata", {}).get("name"), f"{path}: metadata.name"
            kinds.add(kind)
    assert kinds == set(K8S_API)


def test_dockerfile_shape() -> None:
    froms = _instructions("FROM")
    assert len(froms) == 2 and all(f.startswith("${PYTHON_IMAGE}") for f in froms)
    (base,) = [a for a in _instructions("ARG") if a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim@sha256:[0-9a-f]{64}", base), base
    assert json.loads(_instructions("ENTRYPOINT")[0]) == ["detector"]
    assert _instructions("EXPOSE") == ["9464"]
    assert _instructions("USER") == ["10001"]
    assert any("PYTHONUNBUFFERED=1" in env for env in _instructions("ENV"))
    (health,) = _instructions("HEALTHCHECK")
    probe = json.loads(health.split(" CMD ", 1)[1])  # exec form: no shell in the check
    assert probe[:2] == ["python", "-c"] and "urllib" in probe[2]
    assert "http://127.0.0.1:9464/healthz" in probe[2]
    compile(probe[2], "HEALTHCHECK", "exec")  # the one-liner is valid Python
    # The build context is the repository root: what the build stage copies exists.
    for copy in _instructions("COPY"):
        words = copy.split()
        if any(w.startswith("--from") for w in words):
            continue
        for src in words[:-1]:
            assert (REPO / src).exists(), f"COPY {src}: not in the repository"
    # compose builds the same file from the same context.
    build = _compose()["services"]["detector"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == REPO and (context / build["dockerfile"]) == DEPLOY / "Dockerfile"


# ---- configuration ---------------------------------------------------------


def test_example_config_loads() -> None:
    service, settings = _example()
    assert service.metrics_host == "0.0.0.0" and service.metrics_port == 9464
    assert service.bootstrap_servers == "kafka:9092"
    assert service.topics == ("access",)
    assert service.sinks == ("stdout", "sqlite:/data/incidents.db")
    assert service.state_dir is None  # the Kafka changelog topic
    assert service.models == Path("/models")
    assert settings.incidents.db == "/data/incidents.db"


def test_configmap_config_loads_and_matches_the_example(tmp_path: Path) -> None:
    path = tmp_path / "detector.toml"
    path.write_text(_configmap_toml(), encoding="utf-8")
    service, settings = _load(path)
    assert service.metrics_host == "0.0.0.0"
    assert service.bootstrap_servers == "kafka.kafka.svc:9092"
    assert service.topics == ("access",)
    assert service.sinks == ("stdout", "sqlite:/data/incidents.db")
    example_service, example_settings = _example()
    assert settings == example_settings
    assert service.model_copy(update={"bootstrap_servers": "kafka:9092"}) == example_service
    # Same keys too, not only the same values after defaults.
    mine = tomllib.loads(_configmap_toml())
    mine["service"].pop("bootstrap_servers")
    theirs = tomllib.loads((DEPLOY / "detector.toml").read_text(encoding="utf-8"))
    theirs["service"].pop("bootstrap_servers")
    assert mine == theirs


def test_commented_alternatives_are_valid_settings(tmp_path: Path) -> None:
    """Each ``# key = value`` in the example, uncommented on its own, still loads."""
    text = (DEPLOY / "detector.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    options = [i for i, line in enumerate(lines) if re.fullmatch(r"# [a-z_]+ = \S.*", line)]
    assert len(options) >= 5, "the example documents its alternatives"
    path = tmp_path / "detector.toml"
    for i in options:
        key = lines[i][2:].split(" = ")[0]
        assert key in ServiceSettings.model_fields, f"{key}: not a [service] setting"
        path.write_text("\n".join([*lines[:i], lines[i][2:], *lines[i + 1:]]), encoding="utf-8")
        service, _ = _load(path)
        assert key in service.model_fields_set, f"{key}: uncommented but not read"


def test_env_examples_name_real_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = _k8s("Deployment", "detector")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env
    for var in env:
        name = var["name"]
        assert name.startswith("DETECTOR_SERVICE__"), name
        assert name.removeprefix("DETECTOR_SERVICE__").lower() in ServiceSettings.model_fields
        monkeypatch.setenv(name, "from-env")
    path = tmp_path / "detector.toml"
    path.write_text(_configmap_toml(), encoding="utf-8")
    service, _ = _load(path)
    assert service.group_id == "from-env"


# ---- command lines ---------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "args"), [pytest.param(w, a, id=w.replace(" ", "-")) for w, a in _command_lines()]
)
def test_command_line_is_accepted_by_the_cli(where: str, args: list[str]) -> None:
    params = parse_cli(args)
    if args[0] == "run":
        assert str(params["config"]) == CONFIG_IN_CONTAINER, where


def test_run_commands_point_at_the_mounted_config() -> None:
    service = _compose()["services"]["detector"]
    assert f"./detector.toml:{CONFIG_IN_CONTAINER}:ro" in service["volumes"]
    pod = _k8s("Deployment", "detector")["spec"]["template"]["spec"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    assert volume["configMap"]["name"] == "detector-config"
    assert f"{mount['mountPath']}/detector.toml" == CONFIG_IN_CONTAINER


def test_the_parser_check_rejects_bad_command_lines() -> None:
    with pytest.raises(NoSuchOption):
        parse_cli(["run", "--config", CONFIG_IN_CONTAINER, "--no-such-flag"])
    with pytest.raises(UsageError):
        parse_cli(["rn", "--config", CONFIG_IN_CONTAINER])
    with pytest.raises(MissingParameter):
        parse_cli(["deploy", "record", "--service", "payments"])  # --version is required


# ---- probes, ports, shutdown -----------------------------------------------


def test_probes_and_ports_match_the_config() -> None:
    service, _ = _example()
    pod = _k8s("Deployment", "detector")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": service.metrics_port} and service.metrics_port == 9464
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == service.metrics_port, probe
    svc = _k8s("Service", "detector")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["selector"] == _k8s("Deployment", "detector")["spec"]["selector"][
        "matchLabels"]
    (port,) = svc["spec"]["ports"]
    assert port["port"] == service.metrics_port
    assert ports.get(port["targetPort"], port["targetPort"]) == service.metrics_port
    annotations = svc["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(service.metrics_port)
    compose = _compose()["services"]["detector"]
    assert [p.split(":")[-1] for p in compose["ports"]] == [str(service.metrics_port)]


def test_shutdown_outlasts_the_grace_period() -> None:
    service, _ = _example()
    pod = _k8s("Deployment", "detector")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > service.grace_period
    assert _seconds(_compose()["services"]["detector"]["stop_grace_period"]) > service.grace_period


# ---- volumes and security --------------------------------------------------


def test_pods_run_as_the_image_user_with_writable_paths_mounted() -> None:
    (useradd,) = [r for r in _instructions("RUN") if "useradd" in r]
    found = re.search(r"--uid (\d+)", useradd)
    assert found, useradd
    uid = int(found.group(1))
    service, settings = _example()
    pod = _k8s("Deployment", "detector")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid == 10001
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    # Read-only root: everything the service writes must be on a mounted volume.
    written = [Path("/tmp"), Path(settings.incidents.db).parent]
    written += [Path(s.partition(":")[2]).parent for s in service.sinks
                if s.startswith(("sqlite:", "jsonl:"))]
    for path in written:
        assert str(path) in mounts and not mounts[str(path)].get("readOnly"), path
    models = mounts[str(service.models)]
    assert not models.get("readOnly")
    assert volumes[models["name"]]["persistentVolumeClaim"]["claimName"] == "detector-models"
    pvc = _k8s("PersistentVolumeClaim", "detector-models")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"


def test_cronjob_trains_into_the_shared_registry() -> None:
    service, _ = _example()
    job = _k8s("CronJob", "detector-train")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = job["containers"][0]
    args = shlex.split(container["args"][0])[2:]
    params = parse_cli(args)
    assert args[0] == "train" and params["out"] == service.models
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName")
              for v in job["volumes"]}
    assert claims[mounts[str(params["out"])]] == "detector-models"
    assert job["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True and "/tmp" in mounts
