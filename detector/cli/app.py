"""Typer application: ``detector`` and ``python -m detector``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from detector import __version__
from detector.cli.errors import one_line_errors
from detector.config import load_settings

app = typer.Typer(
    name="detector",
    help="Deploy-aware, streaming anomaly detection for API access logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"detector {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Deploy-aware, streaming anomaly detection for API access logs."""


@app.command(epilog="""Examples:\n
  detector replay access.log.gz --deployments deploys.jsonl\n
  detector replay host1.log host2.log --sink jsonl:incidents.jsonl --dead-letter bad.jsonl\n
  zcat access.log.gz | detector replay - --format clf --service shop""")
@one_line_errors
def replay(
    files: Annotated[list[str] | None, typer.Argument(help="Log files (plain or .gz); '-' = stdin.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto|otel|nginx_json|envoy|clf|alb|wsgi")] = "auto",
    service: Annotated[str, typer.Option("--service", help="Service name for formats without one.")] = "default",
    deployments: Annotated[Path | None, typer.Option("--deployments", help="Deployment events (JSON lines).")] = None,
    sink: Annotated[list[str] | None, typer.Option("--sink", help="stdout | jsonl:PATH (repeatable).")] = None,
    dead_letter: Annotated[Path | None, typer.Option("--dead-letter", help="Write bad records here (JSON lines).")] = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Replay historical access logs and emit incidents (summary on stderr)."""
    from detector.cli.replay import build_sinks, format_summary, run_replay

    settings = load_settings(config)
    sinks = build_sinks(sink or [])
    summary, problems = run_replay(files or ["-"], settings=settings, fmt=fmt, service=service,
                                   deployments=deployments, sinks=sinks, dead_letter=dead_letter)
    sys.stderr.write(format_summary(summary, problems, dead_letter) + "\n")


def main() -> None:
    app()
