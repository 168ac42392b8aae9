"""``detector run``, ``detector deploy record`` and ``detector demo``: command functions.

Registered by the application (``app.command("run")(run_command)`` and so on).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from detector.cli.errors import fail, one_line_errors
from detector.cli.usage import SINK_HELP
from detector.errors import UsageError
from detector.kafka.config import DEFAULT_BOOTSTRAP

if TYPE_CHECKING:
    from detector.kafka.config import KafkaConnection
    from detector.sinks.base import Sink

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def _mapping(values: list[str] | None, flag: str) -> dict[str, str] | None:
    if not values:
        return None
    out: dict[str, str] = {}
    for v in values:
        k, sep, val = v.partition("=")
        if not sep or not k or not val:
            raise UsageError(f"{flag} expects TOPIC=VALUE, not {v!r}")
        out[k] = val
    return out


RUN_EPILOG = """Examples:\n
detector run --bootstrap-servers kafka:9092 --sink sqlite:incidents.db\n
detector run --topic nginx --topic-service nginx=www --state-dir state/\n
detector run --drain-when-idle 30 --sink jsonl:backfill.jsonl   # a backfill\n
\n
Every option can also come from the config file (\\[service] section, same keys
with underscores; the TLS/SASL ones in \\[service.kafka]) or from
DETECTOR_SERVICE__<KEY> (DETECTOR_SERVICE__KAFKA__<KEY>) environment variables
(lists and mappings as JSON); docs/CONFIGURATION.md has them all, with an
example for a managed Kafka (SASL_SSL). The SASL password itself comes from
--sasl-plain-password-file, from sasl_plain_password in the file or from
DETECTOR_SERVICE__KAFKA__SASL_PLAIN_PASSWORD, never from a flag.
--models loads the current model version at start (without it, profiles are
learned online) and swaps in a new `current` version
(published by `detector train`) while running, within --model-check-every
seconds. --retrain-every 6h retrains each owned partition's model on a sample
of its traffic since the previous training (--retrain-sample events, in a
child process) and publishes it into --models as request.<topic>.<partition>;
it is swapped in like any new version. A model the registry refuses
(tampered, untrusted types, another feature schema) stops the start with exit
2; a version refused later is logged once and the running one kept.
A kafka:TOPIC sink without ?bootstrap= publishes to the --bootstrap-servers
cluster. A bad record goes to --dead-letter-topic (a prefix, with its true
length, when it is larger than a Kafka record may be); if the dead-letter
topic does not take it, the service stops with exit 3 without committing past
it, and reads it again on restart.
A partition that is caught up and silent for --idle-close-after seconds
(default: one window plus the allowed lateness) has its event time moved on
with the wall clock, so a service that stops sending is reported as a drop.
"""


@one_line_errors
def run_command(
    bootstrap_servers: Annotated[
        str | None, typer.Option("--bootstrap-servers", help="Kafka HOST:PORT[,HOST:PORT].",
                                 show_default=DEFAULT_BOOTSTRAP)
    ] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Access-log topic (repeatable).",
                                       show_default="access")
    ] = None,
    deployments_topic: Annotated[
        str | None, typer.Option("--deployments-topic", help="Deployment events topic.",
                                 show_default="deployments")
    ] = None,
    group_id: Annotated[str | None, typer.Option("--group-id", help="Consumer group.",
                                                 show_default="detector")] = None,
    sink: Annotated[
        list[str] | None, typer.Option("--sink", help=SINK_HELP, show_default="stdout"),
    ] = None,
    models: Annotated[
        Path | None, typer.Option("--models", help="Model registry from `detector train`.")
    ] = None,
    retrain_every: Annotated[
        str | None,
        typer.Option("--retrain-every", help="Retrain period, e.g. 6h or 1d (needs --models)."),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help="Checkpoints in this directory instead of the Kafka "
                                         "changelog topic <group>-changelog."),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="/metrics /healthz /readyz port "
                                                        "(0 = off; default 9464).")
    ] = None,
    metrics_host: Annotated[
        str | None, typer.Option("--metrics-host", help="Bind address (default 127.0.0.1).")
    ] = None,
    dead_letter_topic: Annotated[
        str | None, typer.Option("--dead-letter-topic", help="Poison records go here.",
                                 show_default="detector.dead-letter")
    ] = None,
    checkpoint_every: Annotated[
        float | None, typer.Option("--checkpoint-every", help="Seconds (default 10).")
    ] = None,
    grace_period: Annotated[
        float | None, typer.Option("--grace-period", help="Shutdown budget, s (default 30).")
    ] = None,
    connect_timeout: Annotated[
        float | None,
        typer.Option("--connect-timeout", help="Give up (exit 2) when the broker cannot be "
                     "reached at start within this many seconds (default: keep retrying)."),
    ] = None,
    drain_when_idle: Annotated[
        float | None,
        typer.Option("--drain-when-idle", help="When every owned partition has been idle this "
                     "many seconds and lag is 0, close all windows and exit (backfills)."),
    ] = None,
    idle_close_after: Annotated[
        float | None,
        typer.Option("--idle-close-after", help="Seconds a caught-up partition may be silent "
                     "before its windows close by wall-clock time (0 = never)."),
    ] = None,
    retrain_sample: Annotated[
        int | None,
        typer.Option("--retrain-sample", help="Events sampled per partition for "
                     "--retrain-every (default 50000)."),
    ] = None,
    model_check_every: Annotated[
        float | None,
        typer.Option("--model-check-every", help="Seconds between checks for a new current "
                     "model version (default 10)."),
    ] = None,
    topic_service: Annotated[
        list[str] | None,
        typer.Option("--topic-service", help="TOPIC=NAME: service for formats without one "
                                             "(default: the topic name)."),
    ] = None,
    topic_format: Annotated[
        list[str] | None,
        typer.Option("--topic-format", help="TOPIC=FORMAT (default auto, detected per key)."),
    ] = None,
    strip_schema_prefix: Annotated[
        list[str] | None,
        typer.Option("--strip-schema-prefix", help="TOPIC whose values carry a Confluent "
                                                   "Schema Registry prefix (repeatable)."),
    ] = None,
    security_protocol: Annotated[
        str | None, typer.Option("--security-protocol", metavar="PROTOCOL",
                                 help="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
                                 show_default="PLAINTEXT")
    ] = None,
    sasl_mechanism: Annotated[
        str | None, typer.Option("--sasl-mechanism", metavar="MECHANISM",
                                 help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*).")
    ] = None,
    sasl_plain_username: Annotated[
        str | None, typer.Option("--sasl-plain-username", metavar="USER",
                                 help="SASL user name (an API key on Confluent Cloud).")
    ] = None,
    sasl_plain_password_file: Annotated[
        Path | None, typer.Option("--sasl-plain-password-file", metavar="FILE",
                                  help="File holding the SASL password (or the "
                                       "environment, see below).")
    ] = None,
    ssl_cafile: Annotated[
        Path | None, typer.Option("--ssl-cafile", metavar="FILE",
                                  help="CA bundle (PEM) for the brokers (default: system CAs).")
    ] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option("--ssl-certfile", metavar="FILE",
                                  help="Client certificate (PEM) for mutual TLS.")
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option("--ssl-keyfile", metavar="FILE",
                                  help="Private key (PEM) of --ssl-certfile.")
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option("--processes", help="Consumer processes in this instance (default 1; "
                     "one per core): group members sharing its partitions, each "
                     "checkpointing its own; process i serves --metrics-port + i."),
    ] = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """The consumer service: Kafka in, incidents out, checkpointed, scaled by consumer group."""
    from detector.service.config import load_service_settings
    from detector.service.jsonlog import JsonLog, route_library_logging
    from detector.service.runtime import ServiceRuntime

    service, settings = load_service_settings(
        config,
        bootstrap_servers=bootstrap_servers,
        topics=tuple(topic) if topic else None,
        deployments_topic=deployments_topic,
        group_id=group_id,
        sinks=tuple(sink) if sink else None,
        models=models,
        retrain_every=retrain_every,
        state_dir=state_dir,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        processes=processes,
        dead_letter_topic=dead_letter_topic,
        checkpoint_every=checkpoint_every,
        grace_period=grace_period,
        connect_timeout=connect_timeout,
        drain_when_idle=drain_when_idle,
        idle_close_after=idle_close_after,
        model_check_every=model_check_every,
        retrain_sample=retrain_sample,
        topic_service=_mapping(topic_service, "--topic-service"),
        topic_format=_mapping(topic_format, "--topic-format"),
        strip_schema_prefix=tuple(strip_schema_prefix) if strip_schema_prefix else None,
        kafka={"security_protocol": security_protocol, "sasl_mechanism": sasl_mechanism,
               "sasl_plain_username": sasl_plain_username,
               "sasl_plain_password_file": sasl_plain_password_file,
               "ssl_cafile": ssl_cafile, "ssl_certfile": ssl_certfile,
               "ssl_keyfile": ssl_keyfile},
    )
    from detector.models.registry import RegistryError, model_key
    from detector.state.snapshot import SnapshotError, state_key

    try:  # a signing key that is set but unusable: one line, exit 2, before connecting
        state_key()
        model_key()
    except (SnapshotError, RegistryError) as exc:
        raise UsageError(str(exc)) from None
    from detector.service.processes import process_index, run_processes

    index = process_index()
    log = JsonLog() if index is None else JsonLog(process=str(index))
    if service.processes > 1:  # a supervisor of children that each run the service
        raise typer.Exit(run_processes(service.processes, sys.argv[1:],
                                       metrics_port=service.metrics_port,
                                       grace=service.grace_period, log=log))
    route_library_logging(log)  # aiokafka's and asyncio's lines as JSON lines too
    sinks = service_sinks(list(service.sinks), service.kafka_connection())
    runtime = ServiceRuntime(service, settings, sinks, log=log, handle_signals=True)
    try:
        code = asyncio.run(runtime.run())  # a refused model: ModelRefused, one line, exit 2
    except OSError as exc:
        if runtime.http is None or runtime.http.port:  # not the bind of --metrics-port
            raise
        raise fail(f"cannot serve metrics on {service.metrics_host}:{service.metrics_port}: "
                   f"{exc.strerror or exc} (another process? choose --metrics-port)") from None
    if code and runtime.failure:
        raise fail(runtime.failure, code)
    raise typer.Exit(code)


def service_sinks(specs: list[str], cluster: KafkaConnection) -> list[Sink]:
    """The sinks of ``detector run``: a ``kafka:`` sink without ``?bootstrap=`` goes to the
    service's own cluster, with its security settings (not to a default address)."""
    from detector.sinks import make_sink
    from detector.sinks.kafka import sink_from_spec

    return [sink_from_spec(spec.partition(":")[2], cluster) if spec.startswith("kafka:")
            else make_sink(spec) for spec in specs or ["stdout"]]


DEPLOY_EPILOG = """Examples:\n
detector deploy record --service payments --version 2.32.0 --revision 9f1c2ab\n
detector deploy record --service www --version 41 --at 2026-03-17T09:06:00Z\n
\n
--bootstrap-servers may also come from DETECTOR_SERVICE__BOOTSTRAP_SERVERS or
the config file's \\[service] section, and the cluster's TLS/SASL settings from
\\[service.kafka] or DETECTOR_SERVICE__KAFKA__<KEY>, as for `detector run`.
"""


@one_line_errors
def deploy_record_command(
    service: Annotated[str, typer.Option("--service", help="Service name.")],
    version: Annotated[str, typer.Option("--version", help="Version deployed.")],
    at: Annotated[
        str | None, typer.Option("--at", help="When (ISO 8601 or epoch s); default now.")
    ] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="e.g. prod.")
    ] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="VCS revision.")] = None,
    bootstrap_servers: Annotated[
        str | None, typer.Option("--bootstrap-servers", help="Kafka HOST:PORT.",
                                 show_default=DEFAULT_BOOTSTRAP)
    ] = None,
    topic: Annotated[
        str, typer.Option("--topic", help="Deployments topic.")
    ] = "deployments",
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Publish a deployment event (CONTRACTS §2), keyed by service; prints it."""
    from detector.service.config import load_service_settings
    from detector.service.deploy import deployment_record, publish

    # The cluster and its TLS/SASL settings as `detector run` reads them.
    settings, _ = load_service_settings(config, bootstrap_servers=bootstrap_servers)
    connection = settings.kafka_connection()
    record = deployment_record(service, version, at=at, environment=environment,
                               revision=revision)
    try:
        asyncio.run(publish(connection, topic, service, record))
    except Exception as exc:
        if "Kafka" in type(exc).__name__ or isinstance(exc, OSError):
            raise fail(f"cannot publish to {connection.bootstrap_servers}: "
                       f"{type(exc).__name__}") from None
        raise
    sys.stdout.write(record.decode() + "\n")


DEMO_EPILOG = """Examples:\n
detector demo\n
detector demo --hours 4 --seed 11   # a longer run, other random traffic\n
\n
Needs no Kafka and no data: it starts an embedded broker (in memory), streams
--hours of simulated traffic (event time) with bad deploys and an attack into
it, and runs the service until the topic is drained; incidents are printed as
they are raised, then a summary.
"""


@one_line_errors
def demo_command(
    hours: Annotated[float, typer.Option("--hours", help="Simulated traffic (event time).")] = 2.0,
    seed: Annotated[int, typer.Option("--seed", help="Simulation seed.")] = 7,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Embedded broker, simulated traffic with a bad deploy, the service: watch the incidents.

    --config applies its windows, detectors and incidents sections to the demo's service
    (try a setting on traffic with known anomalies); its connection settings do not apply."""
    from detector.config import load_settings
    from detector.jobs.demo import run_demo

    settings = load_settings(config)  # before the broker starts: a bad file is exit 2
    raise typer.Exit(asyncio.run(run_demo(hours=hours, seed=seed, settings=settings)))
