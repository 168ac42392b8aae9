"""The terminal forms of ``detector releases list`` and ``show``.

Records are read from a directory anyone with write access may have edited, and
their routes come from access logs: every value is shown through
:func:`detector.terminal.printable` (and rich markup escaped), whatever its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from detector.terminal import printable
from detector.verdict.record import seal

_VERDICT_STYLE = {"pass": "green", "marginal": "yellow", "fail": "bold red",
                  "inconclusive": "magenta"}
_ORDER = {"fail": 0, "marginal": 1, "inconclusive": 2}  # non-pass checks, worst first
# Check fields shown on their own line; any other key of a check is shown after them.
_NUMBERS = ("baseline", "candidate", "interval", "mde")
_KNOWN = {"check", "route", "result", "critical", "incidents", "unit", "detail", *_NUMBERS}


def summary_row(record: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The ``list`` line of a record (also its ``--json`` object).

    >>> summary_row({"service": "payments", "version": "2.32.0", "verdict": "fail",
    ...              "checks": [{"result": "fail"}, {"result": "pass"}]}, Path("r.json"))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'service': 'payments', 'version': '2.32.0', 'deployed_at': None, 'verdict': 'fail',
     'score': None, 'failing': 1, 'digest': None, 'path': 'r.json'}
    """
    return {"service": record.get("service"), "version": record.get("version"),
            "deployed_at": record.get("deployed_at"), "verdict": record.get("verdict"),
            "score": record.get("score"), "failing": sum(
                1 for c in _checks(record) if c.get("result") == "fail"),
            "digest": record.get("digest"), "path": str(path)}


def render_list(rows: list[dict[str, Any]], out: IO[str], width: int | None = None) -> None:
    """A table of :func:`summary_row` rows."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, highlight=False, emoji=False, width=width)
    if not rows:
        console.print("no release records")
        return
    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    for col in ("service", "version", "deployed", "verdict", "score", "failing", "sha256"):
        table.add_column(col, overflow="fold", no_wrap=col not in ("service", "version"),
                         justify="right" if col in ("score", "failing") else "left")
    for row in rows:
        table.add_row(_esc(row["service"]), _esc(row["version"]), _esc(row["deployed_at"]),
                      _verdict(row["verdict"]), _esc(row["score"]), _esc(row["failing"]),
                      _esc(_short_digest(row["digest"]).removeprefix("sha256:")))
    console.print(table)


def render_show(record: Mapping[str, Any], out: IO[str], width: int | None = None) -> None:
    """A record for people: verdict, deployment, windows, traffic, integrity, then each
    check that did not pass, worst first."""
    from rich.console import Console

    console = Console(file=out, highlight=False, emoji=False, width=width)
    console.print(f"[bold]{_esc(record.get('service'))} {_esc(record.get('version'))}[/]  "
                  f"{_verdict(record.get('verdict'), upper=True)}  score "
                  f"{_esc(record.get('score'))}", soft_wrap=True)
    for name, value in _facts(record):
        console.print(f"  [dim]{name:>13}[/] {value}", soft_wrap=True)
    failing = sorted((c for c in _checks(record) if c.get("result") != "pass"),
                     key=lambda c: (_ORDER.get(str(c.get("result")), 3), not c.get("critical")))
    console.print()
    if not failing:
        console.print("every check passed" if _checks(record) else "no checks")
    for check in failing:
        for line in _check_lines(check):
            console.print(line, soft_wrap=True)


def _facts(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    windows = _mapping(record.get("windows"))
    traffic = _mapping(record.get("traffic"))
    mode = windows.get("mode")
    previous = record.get("previous_version")
    facts = [("deployed", f"{_esc(record.get('deployed_at'))}, "
                          + ("first version" if previous is None else f"after {_esc(previous)}")),
             ("baseline", f"{_span(windows.get('baseline'))}  "
                          f"{_count(traffic.get('baseline_requests'))} requests"
                          + (f" ({_esc(mode)} version)" if mode else "")),
             ("candidate", f"{_span(windows.get('candidate'))}  "
                           f"{_count(traffic.get('candidate_requests'))} requests")]
    if type(traffic.get("needed_requests")) is int:
        facts.append(("needed", f"{traffic['needed_requests']:,} requests on each side to "
                                "judge the critical checks"))
    counts: dict[str, int] = {}
    for check in _checks(record):
        counts[str(check.get("result"))] = counts.get(str(check.get("result")), 0) + 1
    facts.append(("checks", ", ".join(f"{n} {_esc(r)}" for r, n in sorted(
        counts.items(), key=lambda kv: _ORDER.get(kv[0], 3))) or "none"))
    not_evaluated = record.get("not_evaluated")
    if isinstance(not_evaluated, list) and not_evaluated:
        facts.append(("not evaluated", ", ".join(_esc(n) for n in not_evaluated)))
    notes = record.get("notes")
    if isinstance(notes, list):
        facts.extend(("note", _esc(n)) for n in notes)
    producer = _mapping(record.get("producer"))
    models = _mapping(producer.get("models"))
    facts.append(("producer", f"detector {_esc(producer.get('detector'))}" + "".join(
        f"; {_esc(k)} {_esc(v)}" for k, v in sorted(models.items()))))
    facts.append(("digest", f"{_esc(record.get('digest'))} {_integrity(record)}"))
    signature = record.get("signature")
    facts.append(("signature", "none" if signature is None else
                  f"{_esc(_short_digest(signature))} (checked by: detector releases verify)"))
    return facts


def _integrity(record: Mapping[str, Any]) -> str:
    try:
        ok = seal(record, None)["digest"] == record.get("digest")
    except ValueError:
        ok = False
    return "[green](matches the content)[/]" if ok else (
        "[bold red](does NOT match the content: see detector releases verify)[/]")


def _check_lines(check: Mapping[str, Any]) -> list[str]:
    result = str(check.get("result"))
    route = check.get("route")
    where = "whole service" if route == "*" else _esc(route)
    head = (f"  {_verdict(result, upper=True)}  [bold]{_esc(check.get('check'))}[/]  {where}"
            + ("  [red]critical[/]" if check.get("critical") else ""))
    unit = check.get("unit")
    # A ratio's interval and MDE have no unit (candidate / baseline); values keep theirs.
    units = {k: None if k in ("interval", "mde") and check.get("change_type") == "ratio"
             else unit for k in _NUMBERS}
    numbers = "  ".join(f"{'MDE' if k == 'mde' else k} {_value(check.get(k), units[k])}"
                        for k in _NUMBERS)
    lines = [head, f"      {numbers}"]
    if check.get("detail"):
        lines.append(f"      {_esc(check['detail'])}")
    extra = [f"{_esc(k)} {_value(v)}" for k, v in sorted(check.items()) if k not in _KNOWN]
    if extra:
        lines.append("      " + "  ".join(extra))
    incidents = check.get("incidents")
    if isinstance(incidents, list) and incidents:
        lines.append(f"      incidents {', '.join(_esc(i) for i in incidents)}")
    return lines


def _checks(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    checks = record.get("checks")
    return [c for c in checks if isinstance(c, Mapping)] if isinstance(checks, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _span(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2:
        return f"{_esc(value[0])} .. {_esc(value[1])}"
    return _esc(value)


def _count(value: Any) -> str:
    return f"{value:,}" if type(value) is int else _esc(value)


def _value(value: Any, unit: Any = None) -> str:
    """A number to 4 significant digits (a share in percent, seconds with an "s"), an
    interval as [lo, hi], anything else as text.

    >>> _value(0.0064102, "share"), _value([0.25, 1.5], "seconds"), _value(32375)
    ('0.641%', '\\\\[0.25 s, 1.5 s]', '32375')
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if unit == "share":
            return f"{value * 100:.3g}%"
        text = str(value) if isinstance(value, int) else f"{value:.4g}"
        return text + (" s" if unit in ("s", "seconds") else "")
    if isinstance(value, list):
        return "\\[" + ", ".join(_value(v, unit) for v in value) + "]"  # "\\[": never markup
    return _esc(value)


def _verdict(value: Any, upper: bool = False) -> str:
    text = _esc(str(value).upper() if upper else value)
    style = _VERDICT_STYLE.get(str(value))
    return f"[{style}]{text}[/]" if style else text


def _short_digest(value: Any) -> str:
    if isinstance(value, str) and ":" in value:
        prefix, _, hexpart = value.partition(":")
        return f"{prefix}:{hexpart[:12]}"
    return "-" if value is None else str(value)


def _esc(value: Any) -> str:
    """Any value as terminal-safe text in rich markup (None as "-")."""
    from rich.markup import escape

    return escape(printable("-" if value is None else str(value)))
