"""deploy/ci, deploy/argo, deploy/flagger: the CD integrations agree with the real CLI
and the real webhook.

Nothing talks to GitHub, Argo or Flagger. The files are parsed; the shell and
Python steps run for real (bash as GitHub runs it, sh as the image's dash
runs it) with a fake ``detector`` on PATH that records its arguments and
exits with each verdict's code; every recorded command line then goes
through the real CLI parser (``make_context`` parses, it runs nothing).
The Canary's webhook payloads go through the real HTTP endpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from detector.cli.app import app
from detector.service.metrics import HttpEndpoints, Metrics
from detector.service.webhook import VerdictWebhook, parse_request
from detector.verdict.policy import CHECK_NAMES, CheckPolicy, Policy, load_policy
from tests.deploy.test_manifests import parse_cli

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "deploy" / "ci" / "github-actions-verdict.yml"
POLICY = REPO / "deploy" / "ci" / "policy.example.toml"
ARGO = REPO / "deploy" / "argo" / "analysis-template.yaml"
FLAGGER = REPO / "deploy" / "flagger" / "canary.yaml"

# CONTRACTS §4 `verdict` (and --deployments-topic, --key-file the command adds), and the
# flags every command has.
VERDICT_OPTIONS = {"--service", "--version", "--logs", "--bootstrap-servers", "--topic",
                   "--deployments", "--deployments-topic", "--policy", "--window", "--delay",
                   "--baseline", "--json", "--record", "--key-file", "--format", "--models",
                   "--no-analysis", "--config", "--debug"}
VALUED = VERDICT_OPTIONS - {"--json", "--no-analysis", "--debug"}
CHECKS = set(CHECK_NAMES)
POLICY_KEYS = set(Policy.model_fields)
CHECK_KEYS = set(CheckPolicy.model_fields)
# (exit code, verdict in the record or None) -> what the gate must make of it.
OUTCOMES = [(0, "pass"), (1, "fail"), (3, "marginal"), (4, "inconclusive"), (2, None),
            (3, None)]  # the last: exit 3 with no record is detector failing, not marginal


def verdict_command_ready() -> bool:
    group: Any = typer.main.get_command(app)
    return "verdict" in group.commands


needs_verdict = pytest.mark.skipif(not verdict_command_ready(),
                                   reason="verdict command not on this branch yet")


# ---- helpers ---------------------------------------------------------------------


def load(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs), path
    return docs


def workflow() -> dict[str, Any]:
    (doc,) = load(WORKFLOW)
    return doc


def trigger(doc: dict[str, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert isinstance(on, dict)
    return dict(on)


def step(name: str) -> dict[str, Any]:
    for s in workflow()["jobs"]["verdict"]["steps"]:
        if s.get("name") == name or s.get("id") == name:
            return dict(s)
    raise AssertionError(f"no step {name!r}")


def expressions(text: str) -> list[str]:
    return [e.strip() for e in re.findall(r"\$\{\{(.*?)\}\}", text)]


def render_env(env: dict[str, Any], inputs: dict[str, str],
               verdict_outputs: dict[str, str] | None = None) -> dict[str, str]:
    """A step's env as the runner hands it over: ``${{ inputs.x }}`` and
    ``${{ steps.verdict.outputs.x }}`` replaced (nothing else may reach a script)."""
    known = {f"inputs.{k}": v for k, v in inputs.items()}
    known["secrets.record-key"] = ""  # no secret given: records go unsigned
    known.update({f"steps.verdict.outputs.{k}": v for k, v in (verdict_outputs or {}).items()})
    out = {}
    for key, value in env.items():
        text = str(value)
        for expr in expressions(text):
            assert expr in known, f"{key}: unexpected expression {expr}"
            text = text.replace("${{ " + expr + " }}", known[expr])
        out[key] = text
    return out


def sample_inputs(**over: str) -> dict[str, str]:
    """Every workflow input, with its default (booleans as the runner renders them)."""
    declared = trigger(workflow())["workflow_call"]["inputs"]
    values = {}
    for name, spec in declared.items():
        default = spec.get("default", "")
        values[name] = str(default).lower() if isinstance(default, bool) else str(default)
    values.update(service="payments", version="2.32.0")
    values.update(over)
    return values


@dataclass
class Fake:
    """A bin directory with a fake ``detector`` (and ``python``, ``sleep``)."""

    bin: Path
    calls: Path

    def argv(self) -> list[list[str]]:
        if not self.calls.exists():
            return []
        return [json.loads(line) for line in self.calls.read_text().splitlines()]


FAKE_DETECTOR = """#!{python}
import json, os, sys
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
verdict = os.environ.get("FAKE_VERDICT")
if verdict:
    record = {{"schema": 1, "service": "payments", "version": "2.32.0", "verdict": verdict,
              "score": {{"pass": 95, "marginal": 70, "fail": 12, "inconclusive": 0}}[verdict],
              "traffic": {{"baseline_requests": 41230, "candidate_requests": 40112}},
              "checks": [{{"check": "error_share", "route": "POST /v2/refunds", "baseline": 0.004,
                          "candidate": 0.118, "interval": [0.09, 0.14], "mde": 0.01,
                          "result": verdict, "critical": True, "incidents": ["inc-7f3a9c2e41d0"],
                          "needed_requests": 12000}}],
              "not_evaluated": ["attack_findings"], "digest": "sha256:ab12"}}
    print(json.dumps(record))
else:
    print("detector: error: something went wrong", file=sys.stderr)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    det = bin_dir / "detector"
    det.write_text(FAKE_DETECTOR.format(python=sys.executable))
    det.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    sleep = bin_dir / "sleep"  # the wait step must not wait here: record what it asked
    sleep.write_text('#!/bin/sh\necho "$@" >> "$FAKE_RECORD"\n')
    sleep.chmod(0o755)
    return Fake(bin_dir, tmp_path / "calls.jsonl")


def run_script(shell: list[str], script: str, env: dict[str, str], fake: Fake,
               cwd: Path, *, code: int = 0,
               verdict: str | None = None) -> subprocess.CompletedProcess[str]:
    full = {"PATH": f"{fake.bin}:/usr/bin:/bin", "FAKE_CALLS": str(fake.calls),
            "FAKE_EXIT": str(code), "FAKE_VERDICT": verdict or "",
            "FAKE_RECORD": str(cwd / "recorded"), "PYTHONPATH": str(REPO),
            # The real HOME: detector keeps its compiled signature database in ~/.cache.
            "HOME": os.environ.get("HOME", str(cwd)), "TMPDIR": str(cwd), **env}
    path = cwd / "script"
    path.write_text(script)
    return subprocess.run([*shell, str(path)], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=60, check=False)


def gh_run(name: str, fake: Fake, cwd: Path, inputs: dict[str, str],
           verdict_outputs: dict[str, str] | None = None, **kw: Any
           ) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run one ``run:`` step as the runner does (bash -e -o pipefail), with its outputs."""
    s = step(name)
    shell = s.get("shell", "bash")
    argv = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
            "python": [sys.executable]}[shell]
    outputs, summary = cwd / "github_output", cwd / "step_summary"
    env = {**render_env(s.get("env", {}), inputs, verdict_outputs), "GITHUB_OUTPUT": str(outputs),
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_REPOSITORY_OWNER": "acme"}
    proc = run_script(argv, s["run"], env, fake, cwd, **kw)
    got = {}
    if outputs.exists():
        for line in outputs.read_text().splitlines():
            key, _, value = line.partition("=")
            got[key] = value
    return proc, got


def annotations(stdout: str) -> list[tuple[str, str]]:
    return re.findall(r"^::(notice|warning|error) title=detector verdict::(.*)$", stdout, re.M)


def cli_check(argv: list[str]) -> list[str]:
    """Check a recorded command line against the contract's verdict options; return it."""
    assert argv[0] == "verdict", argv
    for i, word in enumerate(argv[1:], 1):
        if word.startswith("--"):
            assert word in VERDICT_OPTIONS, f"{word}: not a verdict option (CONTRACTS §4)"
            if word in VALUED:
                assert i + 1 < len(argv) and not argv[i + 1].startswith("--"), word
    return argv


def options(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, w in enumerate(argv[:-1]) if w == name]


# ---- the example policy ----------------------------------------------------------


def test_example_policy_loads_and_documents_its_keys() -> None:
    policy = load_policy(POLICY)  # the verdict's own loader: unknown keys are refused
    raw = tomllib.loads(POLICY.read_text(encoding="utf-8"))
    assert policy.window == 1800 and policy.delay == 120 and policy.baseline == "auto"
    assert not policy.route_included("GET /healthz")
    assert not policy.route_included("POST /internal/reindex")
    assert policy.route_included("POST /v2/payments/{id}/refunds")
    assert set(raw["checks"]) <= CHECKS and policy.critical is None  # the default set
    assert policy.check("latency_p95").min_delta == 0.02
    assert policy.check("scanning").enabled is False
    # The preamble documents every key and every check name.
    preamble = POLICY.read_text(encoding="utf-8").split("\n\n")[0]
    for word in (POLICY_KEYS - {"checks"}) | CHECK_KEYS | CHECKS:
        assert re.search(rf"\b{word}\b", preamble), f"{word} undocumented"


def test_workflow_and_argo_read_the_same_policy() -> None:
    workflow_default = trigger(workflow())["workflow_call"]["inputs"]["policy"]["default"]
    assert workflow_default == ".detector/policy.toml"
    configmap = [d for d in load(ARGO) if d["kind"] == "ConfigMap"][0]
    assert tomllib.loads(configmap["data"]["policy.toml"]) == \
        tomllib.loads(POLICY.read_text(encoding="utf-8"))


# ---- GitHub Actions ----------------------------------------------------------------


def test_workflow_shape() -> None:
    doc = workflow()
    call = trigger(doc)["workflow_call"]
    assert {"service", "version", "window", "policy"} <= set(call["inputs"])
    assert call["inputs"]["service"]["required"] and call["inputs"]["version"]["required"]
    job = doc["jobs"]["verdict"]
    assert doc["permissions"] == {"contents": "read"}
    uses = [s.get("uses", "") for s in job["steps"]]
    assert uses[:2] == ["actions/checkout@v4", "actions/setup-python@v5"]
    upload = step("Upload the release record")
    assert upload["uses"] == "actions/upload-artifact@v4" and upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["verdict.json", "releases/"]
    assert step("Summary")["if"] == "always()"
    rollback = step("Roll back")
    assert rollback["if"].startswith("failure() && steps.verdict.outputs.verdict == 'fail'")
    # The outputs point at what the verdict step writes.
    for name, spec in call["outputs"].items():
        assert spec["value"] == "${{ jobs.verdict.outputs." + name + " }}"
        assert job["outputs"][name] == "${{ steps.verdict.outputs." + name + " }}"


def test_every_input_is_declared_and_used_and_never_pasted_into_a_script() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    declared = set(trigger(workflow())["workflow_call"]["inputs"])
    conditions = [s.get("if", "") for s in workflow()["jobs"]["verdict"]["steps"]]
    used = {m for e in [*expressions(text), *conditions]
            for m in re.findall(r"inputs\.([\w-]+)", e)}
    assert used == declared
    # Script injection: an input reaches a shell only through env.
    for s in workflow()["jobs"]["verdict"]["steps"]:
        assert not expressions(s.get("run", "")), s.get("name")


@pytest.mark.parametrize(("code", "verdict"), OUTCOMES)
@pytest.mark.parametrize("strict", ["false", "true"])
def test_workflow_maps_each_exit_code(fake: Fake, tmp_path: Path, code: int,
                                      verdict: str | None, strict: str) -> None:
    inputs = sample_inputs(strict=strict, **{"bootstrap-servers": "kafka:9092"})
    proc, out = gh_run("verdict", fake, tmp_path, inputs, code=code, verdict=verdict)
    keep = code == 0 or (verdict == "marginal" and strict == "false")
    assert proc.returncode == (0 if keep else 1), proc.stdout + proc.stderr
    assert out["exit-code"] == str(code)
    assert out["verdict"] == (verdict or "error")
    assert out["score"] == {"pass": "95", "fail": "12", "marginal": "70",
                            "inconclusive": "0", None: ""}[verdict]
    (kind, message), = annotations(proc.stdout)
    assert message.startswith("payments 2.32.0: ")
    if code == 0:
        assert kind == "notice"
    elif verdict == "marginal" and strict == "false":
        assert kind == "warning" and "marginal" in message
    else:
        assert kind == "error"
    if code == 4:
        assert "not enough traffic" in message
    if code == 3 and verdict is None:
        assert "internal error" in message
    if code == 2:
        assert "usage or input error" in message
    record = (tmp_path / "verdict.json").read_text()
    assert (json.loads(record)["verdict"] if record else None) == verdict


def test_workflow_verdict_over_kafka_command_line(fake: Fake, tmp_path: Path) -> None:
    inputs = sample_inputs(topics="access nginx", **{"bootstrap-servers": "kafka:9092"})
    proc, _ = gh_run("verdict", fake, tmp_path, inputs, code=0, verdict="pass")
    assert proc.returncode == 0, proc.stderr
    (argv,) = fake.argv()
    cli_check(argv)
    assert options(argv, "--topic") == ["access", "nginx"]
    assert options(argv, "--bootstrap-servers") == ["kafka:9092"]
    assert options(argv, "--policy") == [".detector/policy.toml"]
    assert options(argv, "--record") == ["releases/"] and "--json" in argv
    assert "--window" not in argv and "--delay" not in argv  # the policy's
    assert "--logs" not in argv and (tmp_path / "releases").is_dir()
    assert "--deployments-topic" not in argv


def test_workflow_passes_window_delay_and_deployments_topic_when_given(
        fake: Fake, tmp_path: Path) -> None:
    inputs = sample_inputs(window="1h", delay="5m", **{"bootstrap-servers": "kafka:9092",
                                                        "deployments-topic": "deployments"})
    gh_run("verdict", fake, tmp_path, inputs, code=0, verdict="pass")
    (argv,) = fake.argv()
    cli_check(argv)
    assert options(argv, "--window") == ["1h"] and options(argv, "--delay") == ["5m"]
    assert options(argv, "--deployments-topic") == ["deployments"]


def test_workflow_verdict_over_files_command_line(fake: Fake, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a.jsonl", "b.jsonl.gz", "notes.txt"):
        (logs / name).write_text("{}\n")
    inputs = sample_inputs(logs="logs/*.jsonl logs/*.gz", deployments="deploys.jsonl")
    proc, _ = gh_run("verdict", fake, tmp_path, inputs, code=1, verdict="fail")
    assert proc.returncode == 1
    (argv,) = fake.argv()
    cli_check(argv)
    assert options(argv, "--logs") == ["logs/a.jsonl", "logs/b.jsonl.gz"]
    assert options(argv, "--deployments") == ["deploys.jsonl"]
    assert "--bootstrap-servers" not in argv and "--topic" not in argv


def test_workflow_without_any_log_is_an_input_error(fake: Fake, tmp_path: Path) -> None:
    proc, out = gh_run("verdict", fake, tmp_path, sample_inputs(logs="missing/*.log"))
    assert proc.returncode == 2 and fake.argv() == []
    assert out == {"verdict": "error", "exit-code": "2", "score": ""}
    (kind, message), = annotations(proc.stdout)
    assert kind == "error" and "no log file matches" in message


def test_workflow_waits_the_policys_delay_plus_window(fake: Fake, tmp_path: Path) -> None:
    (tmp_path / ".detector").mkdir()
    (tmp_path / ".detector" / "policy.toml").write_text(
        POLICY.read_text(encoding="utf-8").replace('window = "30m"', 'window = "45m"'))
    for inputs, seconds in ((sample_inputs(), 45 * 60 + 120),
                            (sample_inputs(window="1h", delay="90s"), 3600 + 90)):
        (tmp_path / "recorded").unlink(missing_ok=True)
        proc, _ = gh_run("Wait for the evaluation window", fake, tmp_path, inputs)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "recorded").read_text().split() == [str(seconds)]


def test_workflow_wait_with_a_bad_policy_is_one_line(fake: Fake, tmp_path: Path) -> None:
    proc, _ = gh_run("Wait for the evaluation window", fake, tmp_path,
                     sample_inputs(policy="missing.toml"))
    assert proc.returncode != 0 and not (tmp_path / "recorded").exists()
    assert proc.stderr.startswith("detector verdict: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_workflow_install_step(fake: Fake, tmp_path: Path) -> None:
    # python is a recorder here: what pip would install; then `detector --version` runs.
    s = step("Install detector")
    assert "python -m pip install" in s["run"] and "detector --version" in s["run"]
    (fake.bin / "python").unlink()
    (fake.bin / "python").write_text('#!/bin/sh\necho "$@" >> "$FAKE_RECORD"\n')
    (fake.bin / "python").chmod(0o755)
    for package, expected in (("", "git+https://github.com/acme/detector"),
                              ("detector==0.1.0", "detector==0.1.0")):
        (tmp_path / "recorded").unlink(missing_ok=True)
        proc, _ = gh_run("Install detector", fake, tmp_path,
                         sample_inputs(**{"detector-package": package}))
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "recorded").read_text().split()[-1] == expected
    assert fake.argv()[-1] == ["--version"]


def test_workflow_summary_lists_the_checks_that_did_not_pass(fake: Fake,
                                                           tmp_path: Path) -> None:
    inputs = sample_inputs(**{"bootstrap-servers": "kafka:9092"})
    _, outputs = gh_run("verdict", fake, tmp_path, inputs, code=1, verdict="fail")
    proc, _ = gh_run("Summary", fake, tmp_path, inputs, outputs)
    assert proc.returncode == 0, proc.stderr
    summary = (tmp_path / "step_summary").read_text()
    assert summary.startswith("## detector verdict: payments 2.32.0: **fail** (score 12)")
    row = [line for line in summary.splitlines() if "error_share" in line]
    assert row == ["| fail (critical) | error_share | `POST /v2/refunds` | 0.004 | 0.118 | "
                   "[0.09, 0.14] | 0.01 | 12000 | inc-7f3a9c2e41d0 |"]
    assert "Not evaluated: attack_findings" in summary
    assert "`releases/payments/2.32.0.json`, sha256:ab12" in summary


def test_workflow_summary_without_a_record(fake: Fake, tmp_path: Path) -> None:
    inputs = sample_inputs(**{"bootstrap-servers": "kafka:9092"})
    _, outputs = gh_run("verdict", fake, tmp_path, inputs, code=2)
    proc, _ = gh_run("Summary", fake, tmp_path, inputs, outputs)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "step_summary").read_text().startswith(
        "## detector verdict: payments 2.32.0: no verdict (exit 2)")


# ---- Argo Rollouts ------------------------------------------------------------------


def argo_template() -> dict[str, Any]:
    (doc,) = [d for d in load(ARGO) if d["kind"] == "AnalysisTemplate"]
    return doc


def argo_container() -> dict[str, Any]:
    (metric,) = argo_template()["spec"]["metrics"]
    job = metric["provider"]["job"]["spec"]
    (container,) = job["template"]["spec"]["containers"]
    return dict(container)


def argo_env(**args: str) -> dict[str, str]:
    """The container env after Argo resolved ``{{args.x}}`` (defaults, then ``args``)."""
    values = {a["name"]: a.get("value", "") for a in argo_template()["spec"]["args"]}
    values.update({"service-name": "payments", "version": "2.32.0"}, **args)
    env = {}
    for var in argo_container()["env"]:
        if "value" not in var:
            continue  # from a Secret: absent here
        text = var["value"]
        for name in re.findall(r"\{\{args\.([\w-]+)\}\}", text):
            text = text.replace("{{args." + name + "}}", values[name])
        env[var["name"]] = text
    return env


def test_argo_template_shape() -> None:
    docs = load(ARGO)
    assert [(d["apiVersion"], d["kind"]) for d in docs] == [
        ("argoproj.io/v1alpha1", "AnalysisTemplate"), ("v1", "ConfigMap")]
    template = argo_template()
    (metric,) = template["spec"]["metrics"]
    assert metric["count"] == 1 and metric["failureLimit"] == 0
    job = metric["provider"]["job"]["spec"]
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy requires it
    rules = job["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailJob"
    assert rules[0]["onExitCodes"]["values"] == [1, 2, 3, 4]
    assert rules[0]["onExitCodes"]["containerName"] == argo_container()["name"]
    # Every {{args.x}} used is declared, every declared arg is used.
    text = ARGO.read_text(encoding="utf-8").split("\n---\n")[0]
    body = text[text.index("apiVersion:"):]  # the comments show a Rollout's args
    used = set(re.findall(r"\{\{args\.([\w-]+)\}\}", body))
    assert used == {a["name"] for a in template["spec"]["args"]}
    # The policy is mounted where the command line reads it.
    container = argo_container()
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "policy"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "policy"]
    configmap = docs[1]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert f"{mount['mountPath']}/policy.toml" == "/etc/detector/policy.toml"
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])


@pytest.mark.parametrize(("code", "verdict"), OUTCOMES)
@pytest.mark.parametrize("strict", ["false", "true"])
def test_argo_job_maps_each_exit_code(fake: Fake, tmp_path: Path, code: int,
                                      verdict: str | None, strict: str) -> None:
    container = argo_container()
    assert container["command"] == ["/bin/sh", "-c"]
    (script,) = container["args"]
    proc = run_script(["sh"], script, argo_env(strict=strict), fake, tmp_path,
                      code=code, verdict=verdict)
    # The Job succeeds (Argo: Successful) only for a release the rollout may keep.
    keep = code == 0 or (verdict == "marginal" and strict == "false")
    assert proc.returncode == (0 if keep else code), proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("detector verdict: payments 2.32.0: ")
    if verdict is not None:  # the record is in the pod log
        assert json.loads(proc.stdout)["verdict"] == verdict
    if code == 4:
        assert "not enough traffic" in proc.stderr


def test_argo_job_command_line(fake: Fake, tmp_path: Path) -> None:
    (script,) = argo_container()["args"]
    proc = run_script(["sh"], script, argo_env(topic="nginx"), fake, tmp_path,
                      code=0, verdict="pass")
    assert proc.returncode == 0, proc.stderr
    (argv,) = fake.argv()
    cli_check(argv)
    assert options(argv, "--service") == ["payments"]
    assert options(argv, "--version") == ["2.32.0"]
    assert options(argv, "--bootstrap-servers") == ["kafka.kafka.svc:9092"]
    assert options(argv, "--topic") == ["nginx"]
    assert options(argv, "--deployments-topic") == ["deployments"]  # as `detector run`
    assert options(argv, "--policy") == ["/etc/detector/policy.toml"]


def test_argo_values_with_shell_characters_stay_values(fake: Fake, tmp_path: Path) -> None:
    hostile = "x; touch pwned $(id) `id`"
    (script,) = argo_container()["args"]
    run_script(["sh"], script, argo_env(version=hostile), fake, tmp_path, code=0,
               verdict="pass")
    (argv,) = fake.argv()
    assert options(argv, "--version") == [hostile] and not (tmp_path / "pwned").exists()


# ---- end to end: the workflow step with the real detector ------------------------------


def write_release(path: Path, *, broken: bool, rate: float) -> None:
    """payments 1.9.0 for 35 minutes, then 2.0.0 deployed for 35 minutes, ``rate`` requests
    per second over three routes; ``broken``: 20 % of POST /v2/payments answer 500."""
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 3, 17, 8, 0, tzinfo=UTC)
    deploy = t0 + timedelta(minutes=35)
    routes = [("GET", "/v2/payments"), ("POST", "/v2/payments"), ("GET", "/v2/balance")]
    lines = [json.dumps({"type": "deployment", "timestamp": "2026-03-17T08:35:00Z",
                         "service.name": "payments", "service.version": "2.0.0"})]
    for i in range(int(70 * 60 * rate)):
        ts = t0 + timedelta(seconds=i / rate)
        method, route = routes[i % 3]
        after = ts >= deploy
        failing = broken and after and method == "POST"
        status = 500 if (i % 5 == 0 if failing else i % 199 == 0) else 200
        lines.append(json.dumps({
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "service.name": "payments",
            "service.version": "2.0.0" if after else "1.9.0", "http.request.method": method,
            "url.path": route, "http.response.status_code": status,
            "http.server.request.duration": 0.02 + (i % 7) / 1000,
            "client.address": f"10.0.{i % 50}.{i % 200}", "http.response.body.size": 500 + i % 50}))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
@needs_verdict
@pytest.mark.parametrize(("broken", "rate", "code", "verdict"), [
    (True, 4, 1, "fail"), (False, 4, 0, "pass"), (False, 0.05, 4, "inconclusive")])
def test_workflow_gate_with_the_real_detector(tmp_path: Path, broken: bool, rate: float,
                                              code: int, verdict: str) -> None:
    real = Fake(tmp_path / "bin", tmp_path / "unused")
    real.bin.mkdir()
    (real.bin / "detector").write_text(f'#!/bin/sh\nexec {sys.executable} -m detector "$@"\n')
    (real.bin / "detector").chmod(0o755)
    (real.bin / "python").symlink_to(sys.executable)
    (tmp_path / ".detector").mkdir()
    (tmp_path / ".detector" / "policy.toml").write_text(POLICY.read_text(encoding="utf-8"))
    write_release(tmp_path / "access.jsonl", broken=broken, rate=rate)
    proc, out = gh_run("verdict", real, tmp_path, sample_inputs(logs="access.jsonl",
                                                                 version="2.0.0"))
    assert out["exit-code"] == str(code), proc.stderr
    assert out["verdict"] == verdict and proc.returncode == (0 if code == 0 else 1)
    record = json.loads((tmp_path / "verdict.json").read_text())
    stored = tmp_path / "releases" / "payments" / "2.0.0.json"
    assert json.loads(stored.read_text()) == record and record["verdict"] == verdict
    gh_run("Summary", real, tmp_path, sample_inputs(version="2.0.0"), out)
    summary = (tmp_path / "step_summary").read_text()
    assert f"**{verdict}**" in summary.splitlines()[0]
    if broken:  # the failing check names the route
        assert "| fail (critical) | error_share | `POST /v2/payments` |" in summary


# ---- the real CLI -----------------------------------------------------------------


@needs_verdict
def test_every_verdict_command_line_is_accepted_by_the_cli(fake: Fake, tmp_path: Path) -> None:
    (tmp_path / ".detector").mkdir()
    policy = tmp_path / ".detector" / "policy.toml"
    policy.write_text(POLICY.read_text(encoding="utf-8"))
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / "deploys.jsonl").write_text("{}\n")
    gh_run("verdict", fake, tmp_path, sample_inputs(**{"bootstrap-servers": "kafka:9092"}))
    gh_run("verdict", fake, tmp_path, sample_inputs(logs="a.jsonl",
                                                    deployments="deploys.jsonl"))
    (script,) = argo_container()["args"]
    run_script(["sh"], script, argo_env(), fake, tmp_path)
    lines = fake.argv()
    assert len(lines) == 3
    cwd = Path.cwd()
    os.chdir(tmp_path)  # the workflow's paths are relative to the checkout
    try:
        for argv in lines:
            # The Job reads the ConfigMap mounted at /etc/detector: the same file here.
            mounted = [str(policy) if w == "/etc/detector/policy.toml" else w
                       for w in cli_check(argv)]
            params = parse_cli(mounted)
            assert params["service"] == "payments" and params["version"] == "2.32.0"
    finally:
        os.chdir(cwd)


def test_the_cli_check_rejects_options_outside_the_contract() -> None:
    with pytest.raises(AssertionError, match="not a verdict option"):
        cli_check(["verdict", "--service", "s", "--version", "v", "--since", "1h"])
    with pytest.raises(AssertionError):
        cli_check(["verdict", "--service", "--version", "v"])  # --service lost its value


# ---- Flagger ------------------------------------------------------------------------


def canary() -> dict[str, Any]:
    (doc,) = load(FLAGGER)
    assert (doc["apiVersion"], doc["kind"]) == ("flagger.app/v1beta1", "Canary")
    return doc


def flagger_payload(doc: dict[str, Any], hook: dict[str, Any]) -> dict[str, Any]:
    """What Flagger posts for ``hook`` (pkg/apis/flagger: CanaryWebhookPayload)."""
    return {"name": doc["metadata"]["name"], "namespace": doc["metadata"]["namespace"],
            "phase": "Promoting", "checksum": "6c8b7f9d5",
            "metadata": {str(k): str(v) for k, v in hook.get("metadata", {}).items()}}


def test_canary_webhooks_point_at_the_service_port() -> None:
    doc = canary()
    hooks = {h["type"]: h for h in doc["spec"]["analysis"]["webhooks"]}
    assert set(hooks) == {"confirm-promotion", "rollback"}
    k8s_service = yaml.safe_load((REPO / "deploy" / "k8s" / "service.yaml").read_text())
    (port,) = k8s_service["spec"]["ports"]
    for hook in hooks.values():
        assert hook["url"] == f"http://{k8s_service['metadata']['name']}.detector:" \
                              f"{port['port']}/verdict"
        # Flagger sends metadata as strings: quoted in the file, so YAML keeps them strings.
        assert all(isinstance(v, str) for v in hook["metadata"].values())
    gate = parse_request(json.dumps(flagger_payload(doc, hooks["confirm-promotion"])).encode())
    back = parse_request(json.dumps(flagger_payload(doc, hooks["rollback"])).encode())
    assert (gate.service, gate.version, gate.mode, gate.strict) == \
        ("payments", "2.32.0", "gate", False)
    assert (back.service, back.version, back.mode) == ("payments", "2.32.0", "rollback")


@pytest.fixture
async def verdict_server() -> AsyncIterator[Any]:
    verdicts: dict[str, str] = {}
    http = HttpEndpoints(Metrics(), lambda: (True, "ok"), lambda: (True, "ok"),
                         verdict=VerdictWebhook(lambda s, v: (verdicts[s], None)))
    await http.start("127.0.0.1", 0)
    try:
        yield http, verdicts
    finally:
        await http.stop()


@pytest.mark.parametrize(("verdict", "promote", "roll_back"), [
    ("pass", True, False), ("marginal", True, False), ("fail", False, True),
    ("inconclusive", False, False)])
async def test_canary_hooks_against_the_real_endpoint(
        verdict_server: Any, verdict: str, promote: bool, roll_back: bool) -> None:
    """Flagger's reading: 2xx = go on (confirm-promotion), 2xx = roll back (rollback)."""
    http, verdicts = verdict_server
    doc = canary()
    verdicts["payments"] = verdict
    got = {}
    for hook in doc["spec"]["analysis"]["webhooks"]:
        body = json.dumps(flagger_payload(doc, hook)).encode()
        path = hook["url"].split(":9464", 1)[1]
        r, w = await asyncio.open_connection("127.0.0.1", http.port)
        w.write(f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await w.drain()
        status = int((await r.read()).split(b" ", 2)[1])
        w.close()
        got[hook["type"]] = 200 <= status < 300
    assert got == {"confirm-promotion": promote, "rollback": roll_back}


# ---- README ---------------------------------------------------------------------------


def readme_snippets() -> list[Any]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Gating a deploy", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_readme_snippets_match_the_files() -> None:
    gate, rollout, hooks = readme_snippets()
    call = gate["gate"]
    assert call["uses"] == "./.github/workflows/detector-verdict.yml"
    inputs = trigger(workflow())["workflow_call"]["inputs"]
    assert set(call["with"]) <= set(inputs)
    assert {n for n, spec in inputs.items() if spec.get("required")} <= set(call["with"])
    analysis = rollout["steps"][2]["analysis"]
    assert analysis["templates"] == [{"templateName": argo_template()["metadata"]["name"]}]
    declared = {a["name"]: a for a in argo_template()["spec"]["args"]}
    passed = {a["name"] for a in analysis["args"]}
    assert passed <= set(declared)
    assert {n for n, a in declared.items() if "value" not in a} <= passed
    (hook,) = hooks["webhooks"]
    (same,) = [h for h in canary()["spec"]["analysis"]["webhooks"] if h["name"] == hook["name"]]
    assert (hook["type"], hook["url"]) == (same["type"], same["url"])
    req = parse_request(json.dumps(flagger_payload(canary(), hook)).encode())
    assert (req.service, req.version, req.mode) == ("payments", "2.32.0", "gate")
