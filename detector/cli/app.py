"""Typer application: ``detector`` and ``python -m detector``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from detector import __version__
from detector.cli.analysis_cmds import SCAN_EPILOG, TRAIN_EPILOG, scan_command, train_command
from detector.cli.errors import one_line_errors
from detector.cli.explain_cmds import EXPLAIN_EPILOG, explain_command
from detector.cli.incidents_cmds import incidents_app
from detector.cli.publish_cmds import PUBLISH_EPILOG, publish_command
from detector.cli.releases_cmds import releases_app
from detector.cli.report_cmds import REPORT_EPILOG, report_command
from detector.cli.service_cmds import (
    DEMO_EPILOG,
    DEPLOY_EPILOG,
    RUN_EPILOG,
    demo_command,
    deploy_record_command,
    run_command,
)
from detector.cli.suppress_cmds import suppress_app
from detector.cli.usage import FORMAT_HELP, SINK_HELP, DetectorGroup
from detector.cli.verdict_cmds import VERDICT_EPILOG, verdict_command
from detector.config import load_settings

app = typer.Typer(
    name="detector",
    help="Deploy-aware, streaming anomaly detection for API access logs.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion
    cls=DetectorGroup,  # one-line usage errors, value names instead of Python types
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or YAML config file.")]
# simulate and evaluate have --config like every command (CONTRACTS §4), but no setting
# changes what they do: they check the file (a bad one is exit 2, as everywhere) and say so.
CheckedConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="TOML or YAML config file: checked, but no setting applies here.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"detector {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Deploy-aware, streaming anomaly detection for API access logs."""


@app.command(
    epilog="""Examples:\n
  detector replay access.log.gz --deployments deploys.jsonl\n
  detector replay a.log b.log --sink jsonl:out.jsonl --dead-letter bad.jsonl\n
  detector replay access.log --sink sqlite:incidents.db --sink stdout\n
  detector replay access.log --suppressions suppressions.toml --sink stdout\n
  zcat access.log.gz | detector replay - --format clf --service shop"""
)
@one_line_errors
def replay(
    files: Annotated[
        list[str] | None,
        typer.Argument(metavar="FILE", show_default="-",
                       help="Log files (plain or .gz); '-' = stdin."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    service: Annotated[
        str, typer.Option("--service", help="Service name for formats without one.")
    ] = "default",
    deployments: Annotated[
        Path | None, typer.Option("--deployments", help="Deployment events (JSON lines).")
    ] = None,
    sink: Annotated[
        list[str] | None,
        typer.Option("--sink", help=SINK_HELP, show_default="stdout"),
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option("--models", help="Model registry from `detector train` (request analysis)."),
    ] = None,
    no_analysis: Annotated[
        bool, typer.Option("--no-analysis", help="Skip per-request analysis (payloads, scanners).")
    ] = False,
    dead_letter: Annotated[
        Path | None, typer.Option("--dead-letter", help="Write bad records here (JSON lines).")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64,
                          help="Processes, services split between them (files only).")
    ] = 1,
    suppressions: Annotated[
        Path | None, typer.Option(
            "--suppressions", help="Suppression rules and maintenance windows (TOML or YAML).")
    ] = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Replay historical access logs and emit incidents (summary on stderr)."""
    from detector.cli.errors import fail
    from detector.cli.replay_report import format_summary, input_problem
    from detector.jobs.interrupt import Interrupted
    from detector.jobs.replay import build_analyzer, run_replay
    from detector.sinks.fanout import SinkFanOut

    settings = load_settings(config)
    rules = None
    if suppressions is not None:  # a bad file is one line before anything runs
        from detector.incidents.suppressions import Suppressions

        rules = Suppressions.load(suppressions)
    analyzer = build_analyzer(models, enabled=not no_analysis)  # a refused registry: no sink made
    fan = SinkFanOut.open(sink or ["stdout"])  # each sink on its own; report() tells what missed
    try:
        summary, problems = run_replay(
            files or ["-"],
            settings=settings,
            fmt=fmt,
            service=service,
            deployments=deployments,
            sinks=[fan],
            dead_letter=dead_letter,
            analyzer=analyzer,
            workers=workers,
            suppressions=rules,
        )
    except Interrupted as stopped:  # SIGINT/SIGTERM: sinks flushed, say how far it got
        sys.stderr.write(format_summary(stopped.summary, stopped.problems, dead_letter) + "\n")
        sys.stderr.writelines(f"{line}\n" for line in fan.report())
        where = "every sink" if not fan.undelivered else "every sink but as said above"
        sys.stderr.write(f"detector: interrupted by {stopped.stop.name}: the summary covers "
                         f"the input read until then, its incidents are in {where}\n")
        raise typer.Exit(stopped.stop.exit_code) from None
    sys.stderr.write(format_summary(summary, problems, dead_letter) + "\n")
    sys.stderr.writelines(f"{line}\n" for line in fan.report())
    problem = input_problem(summary, fmt)
    if problem is not None:
        raise fail(problem)
    if fan.undelivered:
        missed = sum(1 for o in fan.outcomes if o.undelivered)
        raise fail(f"{fan.undelivered:,} incident changes not delivered to {missed} of "
                   f"{len(fan.outcomes)} sinks (see above)")


app.add_typer(incidents_app, name="incidents")
app.command("train", epilog=TRAIN_EPILOG)(train_command)
app.command("scan", epilog=SCAN_EPILOG)(scan_command)
app.command("run", epilog=RUN_EPILOG)(run_command)
app.command("demo", epilog=DEMO_EPILOG)(demo_command)
deploy_app = typer.Typer(help="Deployment events.", no_args_is_help=True)
deploy_app.command("record", epilog=DEPLOY_EPILOG)(deploy_record_command)
app.add_typer(deploy_app, name="deploy")
app.command("verdict", epilog=VERDICT_EPILOG)(verdict_command)
app.add_typer(releases_app, name="releases")
app.add_typer(suppress_app, name="suppress")
app.command("report", epilog=REPORT_EPILOG)(report_command)
app.command("publish", epilog=PUBLISH_EPILOG)(publish_command)
app.command("explain", epilog=EXPLAIN_EPILOG)(explain_command)


def main() -> None:
    app()


@app.command(
    epilog="""Examples:\n
  detector simulate out/sim --hours 8 --seed 42\n
  detector simulate out/week --hours 72 --start 2026-03-20T00:00Z --rate 0.25\n
  detector simulate out/bench --profile bench --lines 1000000"""
)
@one_line_errors
def simulate(
    out_dir: Annotated[
        Path, typer.Argument(help="Directory to write logs, deployments and labels into.")
    ],
    hours: Annotated[
        float | None,
        typer.Option(
            "--hours",
            max=24 * 14,
            help="Event-time span, at least 1.75 (75 min warm-up, then anomalies; "
            "default 8, bench 2).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes.")] = 0,
    rate: Annotated[
        float,
        typer.Option(
            "--rate", min=0.01, max=100.0, help="Traffic scale (1.0 = about 50 req/s in all)."
        ),
    ] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Event time of the first request, ISO-8601 (default 2026-03-17T06:00Z, "
            "a Tuesday; UTC when no offset is given).",
        ),
    ] = None,
    shapes: Annotated[
        bool | None,
        typer.Option(
            "--shapes/--no-shapes",
            help="Real-world shapes, a low-traffic service, hourly batch job and campaigns "
            "(default: runs of 24 h or more).",
        ),
    ] = None,
    profile: Annotated[str, typer.Option("--profile", help="default | bench")] = "default",
    lines: Annotated[
        int | None, typer.Option("--lines", min=1000, help="Bench profile: total lines.")
    ] = None,
    gz: Annotated[bool, typer.Option("--gzip", help="Write .gz files.")] = False,
    config: CheckedConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write realistic labelled traffic: logs, deployments.jsonl, labels.jsonl."""
    from detector.errors import UsageError
    from detector.simulate import hours_problem
    from detector.simulate import simulate as run_simulate

    load_settings(config)
    if profile not in ("default", "bench"):
        raise UsageError(f"unknown profile {profile!r} (default or bench)")
    if out_dir.exists() and not out_dir.is_dir():  # never replace a file with a directory
        raise UsageError(f"{out_dir} exists and is not a directory: give OUT_DIR a new name")
    problem = hours_problem(hours)  # a run without labels would be scored as perfect
    if problem is not None:
        raise UsageError(problem)
    summary = run_simulate(
        out_dir, hours=hours, seed=seed, rate=rate, profile=profile, lines=lines, gzip=gz,
        start=_start_time(start), shapes=shapes,
    )
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary.labels_by_kind.items()))
    sys.stderr.write(
        f"simulate: {summary.lines:,} lines in {len(summary.files)} files, "
        f"{summary.deployments} deployments, {summary.labels} labels ({kinds}) "
        f"-> {out_dir} in {summary.elapsed_s:.1f} s\n"
    )
    if not summary.labels:
        sys.stderr.write("simulate: warning: no anomaly found room in this run; "
                         "labels.jsonl is empty\n")


def _start_time(text: str | None) -> datetime | None:
    """``--start``: ISO-8601, ``Z`` or an offset, UTC when it has neither."""
    from detector.errors import UsageError

    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--start {text!r} is not an ISO-8601 time "
                         "(e.g. 2026-03-20T00:00Z)") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@app.command(
    epilog="""Examples:\n
  detector evaluate out/sim/labels.jsonl incidents.jsonl\n
  detector evaluate labels.jsonl inc.jsonl --kinds error_surge --json r.json"""
)
@one_line_errors
def evaluate(
    labels: Annotated[Path, typer.Argument(help="labels.jsonl written by `detector simulate`.")],
    incidents: Annotated[list[Path], typer.Argument(help="Incident JSON-lines files.")],
    kinds: Annotated[
        str | None, typer.Option("--kinds", help="Comma-separated kinds to score.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON.")
    ] = None,
    config: CheckedConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Score incidents against labels: recall, precision, false/service-day, attribution, delay."""
    from detector.errors import UsageError
    from detector.evaluate import evaluate as run_evaluate
    from detector.evaluate import render_text
    from detector.sources.files import SourceError

    load_settings(config)
    for p in [labels, *incidents]:
        if not p.is_file():
            raise SourceError(f"cannot read {p}: no such file")
    wanted = {k.strip() for k in kinds.split(",") if k.strip()} if kinds else None
    if wanted is not None:
        from detector.kinds import KINDS

        unknown = wanted - set(KINDS)
        if unknown:
            raise UsageError(f"unknown kinds: {', '.join(sorted(unknown))}")
    report = run_evaluate(labels, incidents, kinds=wanted)
    typer.echo(render_text(report))
    if json_out:
        import orjson

        json_out.write_bytes(
            orjson.dumps(report.model_dump(mode="json"), option=orjson.OPT_INDENT_2)
        )
