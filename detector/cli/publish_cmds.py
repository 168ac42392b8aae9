"""``detector publish``: log files into a Kafka topic, keyed by service (CONTRACTS §4).

Registered by the application: ``app.command("publish", ...)(publish_command)``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from detector.cli.errors import fail, one_line_errors
from detector.cli.usage import FORMAT_HELP
from detector.errors import UsageError
from detector.kafka.config import DEFAULT_BOOTSTRAP

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]

PUBLISH_EPILOG = """Examples:\n
detector publish access.log --topic access\n
detector publish web-1.log.gz web-2.log.gz --topic access --rate 5000\n
detector publish /var/log/app.log --topic access --follow --service web\n
\n
Each line is one record, keyed by its service (the service field of JSON
logs; --service for formats without one), so that `detector run` keeps each
service's traffic in one partition. Several files are merged in event-time
order, as `detector replay` merges them (slower: every line is decoded).
--follow publishes what the files hold, then what is appended, across
rotation and truncation (tail -F), until SIGINT or SIGTERM. Stopped by a
signal, it sends what it read, prints the summary and exits 130 or 143.
A line that does not decode is still sent (the service dead-letters it) and
counted as bad; a line over 500 kB is counted and not sent.
--bootstrap-servers and the cluster's TLS/SASL settings may also come from the
config file's \\[service] and \\[service.kafka] sections or the environment, as
for `detector run`.
"""


@one_line_errors
def publish_command(
    files: Annotated[list[str], typer.Argument(help="Log files (plain or .gz).")],
    topic: Annotated[str, typer.Option("--topic", help="Topic to write into.")],
    bootstrap_servers: Annotated[
        str | None, typer.Option("--bootstrap-servers", help="Kafka HOST:PORT[,HOST:PORT].",
                                 show_default=DEFAULT_BOOTSTRAP)
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", metavar="LINES/S",
                                   help="At most this many lines per second.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep publishing what is appended (tail -F).")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    service: Annotated[
        str, typer.Option("--service", help="Key of lines whose format names no service.")
    ] = "default",
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write log lines into a Kafka topic, keyed by service; prints a summary."""
    from detector.decoding.registry import FORMATS
    from detector.jobs.interrupt import StopRequest, stop_on_signals
    from detector.jobs.publish import publish
    from detector.service.config import load_service_settings
    from detector.sources.files import SourceError

    if rate is not None and rate <= 0:
        raise UsageError(f"--rate must be above 0, not {rate:g}")
    if fmt != "auto" and fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (auto, {', '.join(sorted(FORMATS))})")
    if not follow:
        for f in files:
            if f != "-" and not Path(f).is_file():
                raise SourceError(f"cannot read {f}: no such file")
    settings, _ = load_service_settings(config, bootstrap_servers=bootstrap_servers)
    connection = settings.kafka_connection()
    stop = StopRequest()
    with stop_on_signals(stop, interrupt_reads=False):
        try:
            summary = asyncio.run(publish(files, topic, connection, rate=rate, follow=follow,
                                          fmt=fmt, service=service, stop=stop))
        except (UsageError, SourceError):
            raise
        except Exception as exc:
            if "Kafka" in type(exc).__name__ or isinstance(exc, OSError):
                raise fail(f"cannot publish to {connection.bootstrap_servers}: "
                           f"{type(exc).__name__}") from None
            raise
    sys.stderr.write(summary.line() + "\n")
    if stop:
        raise typer.Exit(stop.exit_code)
