"""The verdict in words, for a terminal: what failed, where, by how much, and why we know.

>>> rec = {"service": "shop", "version": "1.1", "previous_version": "1.0", "verdict": "pass",
...        "score": 100, "windows": {"baseline": None, "candidate": ["a", "b"],
...        "mode": "previous"}, "traffic": {"baseline_requests": 0, "candidate_requests": 5},
...        "checks": [], "not_evaluated": []}
>>> render(rec).splitlines()[0]
'PASS  shop 1.1 (after 1.0): score 100/100'
"""

from __future__ import annotations

from typing import Any

from detector.terminal import printable

_SHOWN = ("fail", "marginal")


def _num(x: Any, unit: str) -> str:
    if x is None:
        return "-"
    if unit == "share":
        return f"{100 * x:.2f}%"
    if unit == "seconds":
        return f"{1000 * x:.1f} ms"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _interval(c: dict[str, Any]) -> str:
    iv = c.get("interval")
    if not iv:
        return ""
    unit = c.get("unit", "")
    if c.get("change_type") == "ratio":
        return f" x{iv[0]:.2f}..x{iv[1]:.2f}"
    if unit == "share":
        return f" {100 * iv[0]:+.2f}..{100 * iv[1]:+.2f} pp"
    return f" {iv[0]:+.3g}..{iv[1]:+.3g}"


def _mde(c: dict[str, Any]) -> str:
    m = c.get("mde")
    if m is None:
        return ""
    if c.get("change_type") == "ratio":
        return f", MDE {100 * m:.0f}%"
    if c.get("unit") == "share":
        return f", MDE {100 * m:.2f} pp"
    return f", MDE {m:.3g}"


def check_line(c: dict[str, Any]) -> str:
    """One check in one line: result, check, route, before -> after, interval, MDE, ids."""
    unit = c.get("unit", "")
    crit = " (critical)" if c.get("critical") else ""
    text = (f"  {c['result'].upper():<12} {c['check']}{crit} on {c['route']}: "
            f"{_num(c.get('baseline'), unit)} -> {_num(c.get('candidate'), unit)}"
            f"{_interval(c)}{_mde(c)}")
    if unit and unit not in ("share", "seconds"):
        text += f" [{unit}]"
    if c.get("detail"):
        text += f"; {c['detail']}"
    if c.get("needed_requests"):
        text += f"; needs ~{c['needed_requests']:,} requests"
    if c.get("incidents"):
        text += f"; incidents {', '.join(c['incidents'][:5])}"
    return printable(text)


def render(rec: dict[str, Any]) -> str:
    """The terminal report of a release record."""
    w = rec["windows"]
    t = rec["traffic"]
    after = f" (after {rec['previous_version']})" if rec.get("previous_version") else ""
    lines = [printable(f"{rec['verdict'].upper():<5} {rec['service']} {rec['version']}{after}: "
                       f"score {rec['score']}/100")]
    base = " - ".join(w["baseline"]) if w.get("baseline") else "none"
    cand = " - ".join(w["candidate"]) if w.get("candidate") else "none"
    lines.append(f"  baseline ({w['mode']}): {base}, {t['baseline_requests']:,} requests")
    lines.append(f"  candidate: {cand}, {t['candidate_requests']:,} requests")
    shown = [c for c in rec["checks"] if c["result"] in _SHOWN]
    blind = [c for c in rec["checks"] if c["result"] == "inconclusive" and c["route"] == "*"
             and c.get("critical")]
    if shown:
        lines.append("checks that did not pass:")
        lines.extend(check_line(c) for c in shown)
    if blind:
        lines.append("not enough traffic to judge:")
        lines.extend(check_line(c) for c in blind)
    if rec["verdict"] == "inconclusive" and t.get("needed_requests"):
        lines.append(f"  about {t['needed_requests']:,} requests (both sides) would be needed "
                     f"to see the policy's effect sizes")
    passed = sum(1 for c in rec["checks"] if c["result"] == "pass")
    lines.append(f"{passed} of {len(rec['checks'])} checks passed"
                 + (f"; not evaluated: {', '.join(rec['not_evaluated'])}"
                    if rec.get("not_evaluated") else ""))
    for note in rec.get("notes", ()):
        lines.append(printable(f"note: {note}"))
    return "\n".join(lines)
