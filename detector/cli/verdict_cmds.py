"""``detector verdict``: a log-native CD gate for one release (CONTRACTS §4, §6)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from detector.cli.errors import EXIT_FINDINGS, EXIT_INCONCLUSIVE, one_line_errors
from detector.cli.usage import FORMAT_HELP

EXIT_MARGINAL = 3  # CONTRACTS §4: the verdict's own use of 3 (a bug says "internal error")
EXIT_OF = {"pass": 0, "fail": EXIT_FINDINGS, "marginal": EXIT_MARGINAL,
           "inconclusive": EXIT_INCONCLUSIVE}

VERDICT_EPILOG = """Exit codes: 0 pass, 1 fail, 3 marginal, 4 inconclusive (too little traffic
to judge: never a pass), 2 usage or input error.\n
Examples:\n
  detector verdict --service pay --version 2.3 --logs access.log.gz\n
  detector verdict --service pay --version 2.3 --logs a.log --json\n
  detector verdict --service pay --version 2.3 --policy pay.toml \\\n
    --logs a.log --deployments d.jsonl --record releases/\n
  detector verdict --service pay --version 2.3 --bootstrap-servers kf:9092 \\\n
    --topic access-logs"""


@one_line_errors
def verdict_command(
    service: Annotated[str, typer.Option("--service", help="The service deployed.")],
    version: Annotated[str, typer.Option("--version", help="The version to judge.")],
    logs: Annotated[list[str] | None, typer.Option(
        "--logs", metavar="FILE", help="Access logs (plain or .gz; repeat for several).")] = None,
    bootstrap_servers: Annotated[str | None, typer.Option(
        "--bootstrap-servers", help="Read the logs from Kafka instead (HOST:PORT,...).")] = None,
    topic: Annotated[list[str] | None, typer.Option(
        "--topic", help="Kafka topic(s) with the access logs (repeatable).")] = None,
    deployments: Annotated[Path | None, typer.Option(
        "--deployments", help="Deployment events (JSON lines).")] = None,
    deployments_topic: Annotated[str | None, typer.Option(
        "--deployments-topic", help="Kafka topic with deployment events.")] = None,
    policy_file: Annotated[Path | None, typer.Option(
        "--policy", help="The service's verdict policy (TOML or YAML).")] = None,
    window: Annotated[str | None, typer.Option(
        "--window", help="Candidate window after the deploy (default 30m, or the policy's).")
    ] = None,
    delay: Annotated[str | None, typer.Option(
        "--delay", help="Skipped right after the deploy (default 2m, or the policy's).")] = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="previous | concurrent | auto (default auto: concurrent when the "
        "old version still serves beside the new one).")] = None,
    history: Annotated[str | None, typer.Option(
        "--history", help="Kafka: traffic read before the deploy (default 2h; 1d adds the "
        "request rate's same-hours-yesterday correction, as a day of --logs does).")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the release record (JSON) instead of the report.")] = False,
    record_dir: Annotated[Path | None, typer.Option(
        "--record", help="Write the release record to DIR/<service>/<version>.json.")] = None,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="HMAC key to sign the record (or DETECTOR_RECORD_KEY).")] = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    models: Annotated[Path | None, typer.Option(
        "--models", help="Model registry from `detector train` (request analysis).")] = None,
    no_analysis: Annotated[bool, typer.Option(
        "--no-analysis", help="Skip request analysis (its checks are then not evaluated).")
    ] = False,
    config: Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")
                      ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Judge one release from access logs alone: pass, marginal, fail or inconclusive."""
    from detector.config import load_settings
    from detector.errors import UsageError
    from detector.jobs.replay import build_analyzer
    from detector.verdict.policy import load_policy
    from detector.verdict.record import dumps, seal, signing_key, write_record
    from detector.verdict.report import render

    settings = load_settings(config)
    if bool(logs) == bool(bootstrap_servers):
        raise UsageError("give the logs either as --logs FILE... or as "
                         "--bootstrap-servers HOST:PORT --topic NAME")
    if bootstrap_servers and not topic:
        raise UsageError("--bootstrap-servers needs --topic (the access-log topic)")
    if baseline is not None and baseline not in ("previous", "concurrent", "auto"):
        raise UsageError(f"--baseline {baseline!r}: one of previous, concurrent, auto")
    policy = load_policy(policy_file, window=window, delay=delay, baseline=baseline)
    key = signing_key(key_file)
    analyzer = build_analyzer(models, enabled=not no_analysis)
    if logs:
        from detector.jobs.verdict import judge_files

        record, _summary = judge_files(logs, service=service, version=version, policy=policy,
                                       settings=settings, fmt=fmt, deployments=deployments,
                                       analyzer=analyzer)
    else:
        from detector.durations import parse_duration
        from detector.jobs.verdict_kafka import HISTORY, daily_history, judge_kafka
        from detector.service.config import load_service_settings

        assert bootstrap_servers is not None and topic is not None
        # The cluster's TLS/SASL settings ([service.kafka], DETECTOR_SERVICE__KAFKA__*).
        conn = load_service_settings(config, bootstrap_servers=bootstrap_servers)[0] \
            .kafka_connection()
        try:
            before = HISTORY if history is None else parse_duration(history)
        except ValueError as exc:
            raise UsageError(f"--history {history!r}: {exc}") from None
        if before >= 86400:
            before = max(before, daily_history(policy, settings))
        record, _summary = judge_kafka(
            conn, topic, service=service, version=version, policy=policy,
            settings=settings, fmt=fmt, deployments=deployments,
            deployments_topic=deployments_topic, analyzer=analyzer, history=before)
    sealed = seal(record, key)
    if record_dir is not None:
        path = write_record(record_dir, sealed)
        sys.stderr.write(f"verdict: record written to {path}\n")
    if json_out:
        sys.stdout.buffer.write(dumps(sealed) + b"\n")
    else:
        typer.echo(render(sealed))
    sys.stdout.flush()
    code = EXIT_OF[sealed["verdict"]]
    if code:
        raise typer.Exit(code)
