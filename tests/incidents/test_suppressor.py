"""Each incident change is judged at its event time; a resolve follows the change before it."""

from __future__ import annotations

from detector.incidents.suppressions import Rule, Suppressions, parse_time
from detector.incidents.suppressor import RuleSource, Suppressor
from tests.sinks.incidents import incident

RULE = Rule(1, "payments", parse_time("2026-03-17T09:20:00Z"), "known", "ops",
            kinds=frozenset({"error_surge"}))


def test_a_rule_added_while_open_silences_the_next_updates_and_the_resolve_follows() -> None:
    source = RuleSource()
    sup = Suppressor(source)
    opened = sup.judge(incident(status="open", end="2026-03-17T09:08:00Z"))
    assert opened.suppressed is None  # paged: no rule yet
    source.rules = Suppressions((RULE,))  # the service read a new file
    update = sup.judge(incident(status="update", end="2026-03-17T09:13:00Z"))
    assert update.suppressed is True
    # The rule has expired by this change's event time: it goes through again.
    late = sup.judge(incident(status="update", end="2026-03-17T09:25:00Z"))
    assert late.suppressed is None
    source.rules = Suppressions((RULE,))
    resolved = sup.judge(incident(status="resolved", end="2026-03-17T09:30:00Z"))
    assert resolved.suppressed is None  # follows the last change: the page gets closed


def test_a_suppressed_incident_resolves_suppressed() -> None:
    sup = Suppressor(RuleSource(Suppressions((RULE,))))
    assert sup.judge(incident(status="open", end="2026-03-17T09:08:00Z")).suppressed
    sup.source.rules = Suppressions()  # rule removed before the resolve
    assert sup.judge(incident(status="resolved", end="2026-03-17T09:30:00Z")).suppressed
    # Once resolved it is forgotten: memory is bounded by the open incidents.
    assert sup._last == {}
