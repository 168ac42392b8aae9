"""Everything one report shows, gathered before any of it is drawn."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from detector.incidents.model import Incident
from detector.report.collect import RouteTotal, Window
from detector.report.inputs import Deploy, Records

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def anchor(incident_id: str) -> str:
    """The page anchor of an incident: its id when tame, else a digest of it (an id
    from a hand-edited file must not break out of an attribute or clash).

    >>> anchor("inc-7f3a9c2e41d0"), anchor('x" onmouseover="y')
    ('inc-7f3a9c2e41d0', 'inc-h-3ed1062fefcb58d5')
    """
    if _SAFE_ID.fullmatch(incident_id):
        return incident_id
    return "inc-h-" + hashlib.sha256(incident_id.encode()).hexdigest()[:16]


def route_key(incident: Incident) -> str | None:
    """``METHOD /route`` of a route-keyed (or route-naming) incident, as series name it."""
    if incident.route is None or incident.method is None:
        return None
    return f"{incident.method} {incident.route}"


@dataclass
class ReportData:
    """A report's content: series per service and per incident route, totals per route,
    the busiest clients, incidents (latest state), deployments and release records."""

    window_seconds: float
    incidents: list[Incident]
    deploys: list[Deploy]
    records: Records
    services: dict[str, list[Window]] = field(default_factory=dict)
    routes: dict[tuple[str, str], list[Window]] = field(default_factory=dict)
    totals: dict[tuple[str, str], RouteTotal] = field(default_factory=dict)
    clients: list[tuple[str, int, int, int]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    events: int = 0
    notes: list[str] = field(default_factory=list)

    def service_names(self) -> list[str]:
        """Services with traffic or incidents, sorted."""
        return sorted(set(self.services) | {i.service for i in self.incidents})

    def span(self) -> tuple[float, float] | None:
        """The event times the report covers: the windows, else the incidents and
        deployments."""
        from detector.report.inputs import ts

        starts = [ws[0].start for ws in self.services.values() if ws]
        ends = [ws[-1].start + self.window_seconds for ws in self.services.values() if ws]
        if not starts:  # no logs: the incidents and the deployments
            starts = [ts(i.start) for i in self.incidents] + [d.ts for d in self.deploys]
            ends = [ts(i.end) + self.window_seconds for i in self.incidents] + [
                d.ts + self.window_seconds for d in self.deploys]
        if not starts:
            return None
        return min(starts), max(ends)
