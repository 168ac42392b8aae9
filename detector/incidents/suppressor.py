"""Applying suppressions to a pipeline's incident changes (CONTRACTS §7).

Nothing is dropped: a covered change is passed on with ``suppressed: true``
(stores keep it, paging sinks skip it, the run summary and the service's
metrics count it). Each change is judged at its own event time, so a rule
added while an incident is open silences its next updates, and one that
expires lets them through again; a ``resolved`` change follows the change
before it, so a page that went out is also closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from detector.incidents.model import Incident
from detector.incidents.suppressions import Subject, Suppressions
from detector.incidents.timefmt import parse_iso
from detector.state.component import stamp, unstamp
from detector.state.snapshot import SnapshotError

if TYPE_CHECKING:
    from detector.detectors.base import Signal

WhoKey = tuple[str, str, str | None, str | None]  # service, kind, route, client (incident key)
MAX_WHO = 20  # sample requests remembered per incident key and window


class RuleSource:
    """The current rules, shared by every pipeline of a process; the service's file
    watch swaps :attr:`rules` when the file changes.

    >>> RuleSource().rules.rules
    ()
    """

    def __init__(self, rules: Suppressions | None = None) -> None:
        self.rules = rules if rules is not None else Suppressions()


class Suppressor:
    """Marks the incident changes the rules cover; remembers who made each incident.

    >>> from detector.incidents.suppressions import Rule
    >>> sup = Suppressor(RuleSource(Suppressions((Rule(1, "pay", 1e10, "why", "me"),))))
    >>> inc = Incident(id="inc-1", status="open", kind="error_surge", severity="high",
    ...                service="pay", route="/r", method="GET", client=None,
    ...                start="2026-03-17T09:07:00Z", end="2026-03-17T09:08:00Z",
    ...                detected_at="2026-03-17T09:08:00Z", score=0.9, summary="s",
    ...                evidence={}, deployment=None)
    >>> sup.judge(inc).suppressed, sup.judge(inc.model_copy(update={"service": "x"})).suppressed
    (True, None)
    """

    def __init__(self, source: RuleSource) -> None:
        self.source = source
        self._who: dict[WhoKey, tuple[tuple[str, str], ...]] = {}
        self._last: dict[str, bool] = {}  # incident id -> its last change was suppressed

    @property
    def rules(self) -> Suppressions:
        return self.source.rules

    def observe(self, signals: list[Signal]) -> None:
        """The requests behind this window's signals, by the incident key they make."""
        who: dict[WhoKey, list[tuple[str, str]]] = {}
        for sig in signals:
            key = (sig.service, sig.kind, None if sig.client else sig.route, sig.client)
            got = who.setdefault(key, [])
            for ev in sig.samples:
                if len(got) >= MAX_WHO:
                    break
                got.append((ev.client, ev.user_agent))
        self._who = {k: tuple(v) for k, v in who.items()}

    def forgiving(self) -> Callable[[Signal], bool] | None:
        """Whether a signal is one a ``learn`` rule covers (None when no rule learns)."""
        rules = self.rules
        if not any(r.learn for r in rules.rules):
            return None

        def forgiven(sig: Signal) -> bool:
            who = tuple((ev.client, ev.user_agent) for ev in sig.samples[:MAX_WHO])
            return rules.learns(Subject(sig.service, sig.kind, sig.route, sig.client,
                                        sig.start, sig.end, who))

        return forgiven

    def judge(self, inc: Incident) -> Incident:
        """``inc``, marked ``suppressed`` when a rule or maintenance window covers it."""
        if inc.status == "resolved" and inc.id in self._last:
            hidden = self._last.pop(inc.id)
        else:
            key = (inc.service, inc.kind, None if inc.client else inc.route, inc.client)
            subject = Subject(inc.service, inc.kind, inc.route, inc.client,
                              parse_iso(inc.start), parse_iso(inc.end), self._who.get(key, ()))
            hidden = self.rules.suppresses(subject)
            if inc.status == "resolved":
                self._last.pop(inc.id, None)
            else:
                self._last[inc.id] = hidden
        return inc.model_copy(update={"suppressed": True}) if hidden else inc

    # ---- state (detector.state.component): the rules are not state, the file is ----
    STATE_VERSION = 1

    def snapshot(self) -> dict[str, Any]:
        """Whether each open incident's last change was suppressed: its resolution follows
        it after a restart too. (Who made each incident is rebuilt by every window's
        :meth:`observe`, before any change is judged: not state.)"""
        return stamp(self.STATE_VERSION, {"last": self._last})

    def restore(self, data: Any) -> None:
        snap = unstamp(data, self.STATE_VERSION, {}, "suppressor")
        try:
            last = {str(k): bool(v) for k, v in snap["last"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"suppressor: malformed snapshot ({type(exc).__name__})") from None
        self._last = last
