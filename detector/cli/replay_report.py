"""What ``detector replay`` tells the user when it ends: the summary on stderr, and whether
the input was usable at all (CONTRACTS §4: exit 2 when it was not)."""

from __future__ import annotations

from pathlib import Path

from detector.jobs.replay import DEPLOYMENTS_REASON
from detector.pipeline import RunSummary
from detector.terminal import printable


def format_summary(summary: RunSummary, problems: list[str], dead_letter: Path | None) -> str:
    el = summary.elapsed()
    rate = summary.events / el if el > 0 else 0.0
    lines = [
        f"replay: {summary.events:,} events in {el:.1f} s ({rate:,.0f} events/s), "
        f"{summary.deployments} deployments, {summary.late:,} late events"
    ]
    if summary.bad:
        reasons = ", ".join(f"{r} x{n}" for r, n in summary.bad_reasons.most_common(6))
        where = f" -> {dead_letter}" if dead_letter else " (keep them with --dead-letter FILE)"
        lines.append(f"bad records: {summary.bad:,} ({reasons}){where}")
    else:
        lines.append("bad records: 0")
    if summary.findings:
        found = ", ".join(f"{k} {n:,}" for k, n in sorted(summary.findings.items()))
        lines.append(f"requests flagged: {found}")
    inc = ", ".join(f"{k} {n}" for k, n in sorted(summary.incidents.items())) or "none"
    lines.append(f"incidents: {sum(summary.incidents.values())} ({inc})")
    if summary.suppressed:
        hid = ", ".join(f"{k} {n}" for k, n in sorted(summary.suppressed.items()))
        lines.append(f"suppressed: {sum(summary.suppressed.values())} of them ({hid}): "
                     "stored, not paged")
    lines.extend(f"warning: {p}" for p in problems)
    # File names, reasons and problems come from the input: escaped for the terminal.
    return "\n".join(printable(line) for line in lines)


def input_problem(summary: RunSummary, fmt: str = "auto") -> str | None:
    """Why the input was not a usable access log (CONTRACTS §4: no valid event, or mostly
    bad records, is an input error), in one line; None when it was."""
    bad = summary.bad - sum(n for r, n in summary.bad_reasons.items()
                            if r.startswith(DEPLOYMENTS_REASON))
    if summary.events == 0 and bad == 0:
        return "the input holds no access events"
    if bad <= summary.events:
        return None
    top = ", ".join(f"{r} x{n:,}" for r, n in summary.bad_reasons.most_common(2)
                    if not r.startswith(DEPLOYMENTS_REASON))
    hint = f"is --format {fmt} right?" if fmt != "auto" else "is it an access log?"
    what = ("no valid access event" if summary.events == 0
            else f"most records are bad: only {summary.events:,} valid events")
    return f"{what} in {summary.events + bad:,} records ({top}): {hint}"
