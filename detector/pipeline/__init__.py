"""The event-time pipeline: the same code behind replay and the live service.

Per event (the hot path): route template lookup (cached), then counter updates
in the event's tumbling window. Everything heavier runs once per closed window.
The stages are composed here; windows (detector.windows), series and their
detectors' memory (pipeline.series), request analysis (pipeline.screen) and
incidents live in their own modules, and each saves and loads its own state
(detector.state.component, the tree in detector.state.layout).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.detectors.base import SeriesKey, Signal, WindowDetector
from detector.detectors.campaigns import CampaignFold, CampaignWindow
from detector.detectors.client_excess import few_clients_spikes
from detector.detectors.populations import PopulationScope, PopulationWindow
from detector.detectors.registry import build as build_detectors
from detector.events import AccessEvent, BadRecord, DeploymentEvent, Item
from detector.incidents.manager import IncidentManager
from detector.incidents.model import Incident
from detector.incidents.suppressor import Suppressor
from detector.pipeline.client_subsets import split_clients
from detector.pipeline.ingest import ingest
from detector.pipeline.screen import RequestScreen
from detector.pipeline.series import PathKey, SeriesIndex
from detector.routes import RouteTemplater
from detector.sinks.base import Sink
from detector.state.component import Stateful
from detector.verdict.collect import WindowObserver, WindowView
from detector.windows.state import ServiceStarts, WindowState
from detector.windows.stats import C_SAMPLES, COUNT, LATEST, SAUTH

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer
    from detector.analysis.findings import Finding

FUTURE_SLACK = 86400.0  # events stamped more than a day after the wall clock are absurd


class RunSummary:
    """Counters for the end-of-run summary and the service's metrics."""

    def __init__(self) -> None:
        self.events = 0
        self.deployments = 0
        self.bad = 0
        self.bad_reasons: Counter[str] = Counter()
        self.late = 0
        self.incidents: Counter[str] = Counter()
        self.findings: Counter[str] = Counter()  # per-request findings by kind
        self.suppressed: Counter[str] = Counter()  # incidents opened suppressed, by kind
        self.windows_closed = 0
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Pipeline:
    """Windows, detectors and incidents over a stream of decoded events.

    >>> from detector.sinks.base import MemorySink
    >>> from detector.events import AccessEvent
    >>> sink = MemorySink()
    >>> p = Pipeline(Settings(), [sink])
    >>> p.process([AccessEvent(float(i), "shop", None, "GET", f"/items/{i}", "", 200,
    ...            0.01, 10, "10.0.0.1", "ua", None, None, "f", i) for i in range(300)])
    >>> p.finish()
    >>> p.summary.events, sink.items
    (300, [])
    """

    def __init__(
        self,
        settings: Settings,
        sinks: list[Sink],
        *,
        registry: DeploymentRegistry | None = None,
        templater: RouteTemplater | None = None,
        dead_letter: Callable[[BadRecord], None] | None = None,
        wall_clock: Callable[[], float] | None = time.time,
        analyzer: RequestAnalyzer | None = None,
    ) -> None:
        self.settings = settings
        self.size = float(settings.windows.size_seconds)
        self.sinks = sinks
        self.registry = registry or DeploymentRegistry()
        self.templater = templater or RouteTemplater()
        self.dead_letter = dead_letter
        self.summary = RunSummary()
        made = build_detectors(settings.detectors)
        self.traffic = made.traffic
        self.detectors: list[WindowDetector] = made.series  # traffic first
        self.client_auth = made.client_auth
        self.scanner = made.scanner
        self.payload = made.payload
        self.new_endpoint = made.new_endpoint
        self.object_enum = made.object_enum
        self.campaigns = CampaignFold()
        self.populations = PopulationScope()
        self.screen = RequestScreen(analyzer)
        self.windows = WindowState(self.size, float(settings.windows.allowed_lateness_seconds))
        self.starts = ServiceStarts()
        self.series = SeriesIndex(self.templater, self.detectors, self.traffic,
                                  self.new_endpoint, self.starts)
        # Told of every closed window and incident (release verdicts: detector.verdict).
        self.observers: list[WindowObserver] = []
        # Suppression rules and maintenance windows (CONTRACTS §7); None: none apply.
        self.suppressor: Suppressor | None = None
        self.incidents: IncidentManager = IncidentManager(
            settings.incidents, self.registry, self._emit, self.size
        )
        # What the detectors find in maintenance windows: kept and counted, suppressed.
        self.muted_incidents = IncidentManager(settings.incidents, self.registry,
                                               self._emit_muted, self.size)
        # The live service refuses event times far beyond its clock. A replay passes
        # None: a file is judged by its own times (sources.timeguard), never by when
        # it happens to be replayed.
        self.wall_clock = wall_clock
        self.future_limit: float = self._future_limit()  # renewed as the clock moves on

    @property
    def analyzer(self) -> RequestAnalyzer | None:
        return self.screen.analyzer

    @property
    def max_ts(self) -> float:
        """The latest event time seen (the watermark plus the allowed lateness)."""
        return self.windows.max_ts

    @property
    def svc_first(self) -> dict[str, float]:
        return self.starts.first

    @property
    def series_keys(self) -> list[SeriesKey]:
        return self.series.keys

    @property
    def path_cache(self) -> dict[PathKey, int]:
        return self.series.path_cache

    @property
    def path_cache_bytes(self) -> int:
        return self.series.path_cache_bytes

    # ---- per event: pipeline.ingest -------------------------------------------
    def process(self, items: Iterable[Item]) -> None:
        """Feed decoded items (events, deployments, bad records) in arrival order."""
        ingest(self, items)

    def renew_future_limit(self) -> float:
        self.future_limit = self._future_limit()
        return self.future_limit

    def _future_limit(self) -> float:
        return math.inf if self.wall_clock is None else self.wall_clock() + FUTURE_SLACK

    def other_item(self, item: DeploymentEvent | BadRecord) -> None:
        if isinstance(item, DeploymentEvent):
            self.add_deployment(item)
        elif isinstance(item, BadRecord):
            self.reject(item)

    def reject(self, rec: BadRecord) -> None:
        """Count a record that is no event (and hand it to the dead letter, if any)."""
        self.summary.bad += 1
        self.summary.bad_reasons[rec.reason.split(":")[0][:80]] += 1
        if self.dead_letter is not None:
            self.dead_letter(rec)

    def add_deployment(self, dep: DeploymentEvent) -> None:
        self.registry.add(dep)
        self.summary.deployments += 1

    def use_analyzer(self, analyzer: RequestAnalyzer) -> None:
        """Analyse from now on with ``analyzer`` (a new model version); windows stay."""
        self.screen.analyzer = analyzer

    def advance(self, ts: float) -> int:
        """Move event time on to ``ts`` without an event (a silent source's heartbeat).

        Windows that an event at ``ts`` would close are closed now, empty ones
        included, so a source that stopped sending is seen as silent rather
        than frozen. Returns how many windows closed. Later events before the
        new watermark count as late, as after any event.
        """
        ws = self.windows
        if not ts > ws.max_ts or ts > self._future_limit():
            return 0
        ws.max_ts = ts
        before = self.summary.windows_closed
        # next_close only knows open windows; with none open, the empty windows
        # after the last closed one are due once the watermark passes them.
        passed = math.floor(ws.watermark() / self.size) - 1 >= ws.closed_upto
        if ts >= ws.next_close or (ws.closed_upto != -math.inf and passed):
            self.close_due()
        return self.summary.windows_closed - before

    def watermark(self) -> float:
        return self.windows.watermark()

    # ---- checkpoints -----------------------------------------------------
    def components(self) -> dict[str, Stateful]:
        """The stateful parts by their name in the snapshot tree (detector.state.layout)."""
        return {"windows": self.windows, "series": self.series, "svc_first": self.starts,
                "templater": self.templater, "registry": self.registry,
                "incidents": self.incidents, "client_auth": self.client_auth,
                "scanner": self.scanner, "new_endpoint": self.new_endpoint,
                "payload": self.payload, "ua_benign": self.screen,
                "object_enumeration": self.object_enum,
                "campaigns": self.campaigns, "populations": self.populations,
                "maintenance_incidents": self.muted_incidents, **self._extra_components()}

    def _extra_components(self) -> dict[str, Stateful]:
        """The suppressor's memory and stateful observers (the service's release watch):
        checkpointed with the pipeline when present."""
        extra: dict[str, Stateful] = {}
        if self.suppressor is not None:
            extra["suppressor"] = self.suppressor
        for obs in self.observers:
            name = getattr(obs, "STATE_NAME", None)
            if isinstance(name, str) and hasattr(obs, "snapshot") and hasattr(obs, "restore"):
                extra[name] = obs  # type: ignore[assignment]
        return extra

    def state(self) -> dict[str, Any]:
        """Everything a restart needs to continue exactly where this pipeline is."""
        st: dict[str, Any] = {name: c.snapshot() for name, c in self.components().items()}
        analyzer = self.screen.analyzer
        st["profiles"] = analyzer.profiles.snapshot() if analyzer is not None else None
        return st

    def snapshot(self) -> bytes:
        """Serialised state, for a checkpoint (sinks flushed first, offsets committed after)."""
        from detector.state import dumps

        return dumps(self.state())

    def restore(self, data: bytes) -> None:
        """Continue from a snapshot written by :meth:`snapshot` or by an earlier version
        (SnapshotError if unusable)."""
        from detector.state import SnapshotError, loads
        from detector.state.layout import LATER_COMPONENTS, OPTIONAL_COMPONENTS, upgrade

        st = upgrade(loads(data))
        for name, component in self.components().items():
            if (name in LATER_COMPONENTS or name in OPTIONAL_COMPONENTS) and name not in st:
                continue  # newer than the snapshot: starts fresh
            try:
                component.restore(st[name])
            except (KeyError, TypeError, AttributeError, IndexError) as exc:
                raise SnapshotError(f"{name}: malformed snapshot ({type(exc).__name__})") from None
        analyzer = self.screen.analyzer
        if analyzer is not None and st["profiles"] is not None:
            from detector.analysis.profiles import ProfileStore

            profiles = ProfileStore()
            profiles.restore(st["profiles"])
            analyzer.profiles = profiles  # a new store: the analyzer may be shared

    # ---- per window ------------------------------------------------------
    def close_due(self, final: bool = False) -> None:
        """Close (evaluate) the windows the watermark passed; at the end of input, all."""
        for w, (series, clients, pending), last in self.windows.due(final):
            self._evaluate(w, series, clients, pending, last)

    def _evaluate(
        self,
        w: int,
        series: dict[int, list[Any]],
        clients: dict[tuple[str, str], list[Any]],
        pending: list[tuple[AccessEvent, int]],
        last: bool,
    ) -> None:
        size = self.size
        start = w * size
        end = start + size
        muted: frozenset[str] = frozenset()
        if self.suppressor is not None:
            muted = self.suppressor.rules.muted(start, end)
        first_ts = self.windows.first_ts
        covered: dict[str, float] = {}
        latest: dict[str, float] = {}
        if last:  # where each service's own traffic ends in the final, partial window
            keys = self.series.keys
            for sid, st in series.items():
                svc = keys[sid].service
                t = st[LATEST] if len(st) > LATEST else self.windows.max_ts  # older snapshots
                if t > latest.get(svc, -math.inf):
                    latest[svc] = t

        def coverage_of(service: str) -> float:
            """Share of the window the service's traffic spans (partial first/last)."""
            c = covered.get(service)
            if c is None:
                c = self.starts.coverage(service, start, size, first_ts)
                if last:
                    c = min(c, max(0.0, (latest.get(service, start) - start) / size))
                covered[service] = c
            return c

        whole = series
        if muted:  # a maintenance window: its services' traffic is learned by no detector
            series, clients, pending = self._without(muted, series, clients, pending)
        flagged: list[tuple[AccessEvent, str, Finding]] = []
        if pending and self.screen.analyzer is not None:
            flagged = self.screen.analyze(pending, self.series.keys, series, clients,
                                          self.summary.findings)
        if self.screen.analyzer is not None:
            self.screen.learn_resources(series, self.series.keys, flagged)
        deploys: dict[str, float | None] = {}

        def deployed_of(service: str) -> float | None:
            """Event time of the service's latest deployment at or before the window's end."""
            if service not in deploys:
                dep = self.registry.latest(service, end)
                deploys[service] = dep.ts if dep is not None else None
            return deploys[service]

        muted_signals: list[Signal] = []
        if muted:
            muted_signals = self.series.check_muted(w, start, end, whole, coverage_of,
                                                    deployed_of, muted)
        forgiven = self.suppressor.forgiving() if self.suppressor is not None else None
        signals: list[Signal] = self.series.check_window(w, start, end, series, coverage_of,
                                                         deployed_of, muted, forgiven)
        # A spike made by a few clients (a walk, a crawl, a campaign) is theirs, not the
        # route's: the client detectors judge it.
        signals = few_clients_spikes(signals, clients, self.series.sid_of)
        # Which client population (user-agent family) a 4xx surge or a drop is confined to.
        keys = self.series.keys
        signals = self.populations.scope_window(
            PopulationWindow(signals, {keys[sid]: st for sid, st in series.items()}))
        # The client detectors' clients (a few of the window's thousands), in one pass.
        subsets = split_clients(clients, self.object_enum.tracked_clients)
        scans = self.scanner.check_window(clients, start, end, subsets.probing)
        signals.extend(scans)
        # A client attacking (payload findings) walks ids, and is refused (a WAF's 403s),
        # as part of its attack campaign: the attack_payload incident reports it.
        attackers = self.payload.attackers(flagged)
        signals.extend(self.object_enum.check_window(clients, self.series.keys, start, end,
                                                     self.series.birth, attackers,
                                                     subsets.walkers))
        # Every window, findings or not: the payload memory decays per window,
        # so one service's attacks never change how another's are grouped.
        scanners = {(s.service, s.client or "") for s in scans}
        signals.extend(self.payload.check_window(flagged, start, end, scanners))
        for sig in self.client_auth.check_window(clients, start, end, subsets.failing):
            if (sig.service, sig.client or "") in attackers:
                continue
            cs = clients.get((sig.service, sig.client or ""))
            if cs is not None and cs[C_SAMPLES]:
                sig.samples.extend(cs[C_SAMPLES])
            signals.append(sig)
        # A distributed campaign is one incident keyed by route, not one per client.
        routes: dict[tuple[str, str], tuple[int, int]] = {}
        for sid, st in series.items():
            rk = (keys[sid].service, keys[sid].route)
            n, k = routes.get(rk, (0, 0))
            routes[rk] = (n + st[COUNT], k + st[SAUTH])
        signals = self.campaigns.fold_window(CampaignWindow(start, end, signals, clients, routes,
                                                            subsets.suspects))
        self.summary.windows_closed += 1
        if self.suppressor is not None:
            self.suppressor.observe(signals)
        # The incident clock (detected_at: CONTRACTS §3, the event-time watermark at
        # which the incident is raised) is the watermark at which this window closes,
        # its end, not the watermark when it happened to be closed: that depends on
        # other services' traffic, and a service's incidents must not (per-partition
        # pipelines, replay --workers and a replay of everything agree to the update).
        self.incidents.on_window(start, end, end, signals)
        if muted_signals or self.muted_incidents.open:
            # Apart from the others: a maintenance incident is never reopened by, nor
            # attributed against, what comes after the window.
            self.muted_incidents.on_window(start, end, end, muted_signals)
        if self.observers:  # after the incidents: a judgement sees this window's too
            view = WindowView(start, end, series, self.series.keys, pending, flagged)
            for obs in self.observers:
                obs.window_closed(view)

    def _without(
        self,
        muted: frozenset[str],
        series: dict[int, list[Any]],
        clients: dict[tuple[str, str], list[Any]],
        pending: list[tuple[AccessEvent, int]],
    ) -> tuple[dict[int, list[Any]], dict[tuple[str, str], list[Any]],
               list[tuple[AccessEvent, int]]]:
        """The window's counts without the ``muted`` services' traffic."""
        keys = self.series.keys
        return ({sid: st for sid, st in series.items() if keys[sid].service not in muted},
                {ck: cs for ck, cs in clients.items() if ck[0] not in muted},
                [p for p in pending if p[0].service not in muted])

    def finish(self) -> None:
        """End of input: close every open window (the last one is partial)."""
        self.close_due(final=True)
        for sink in self.sinks:
            sink.flush()

    def _emit_muted(self, incident: Incident) -> None:
        self._emit(incident.model_copy(update={"suppressed": True}))

    def _emit(self, incident: Incident) -> None:
        if self.suppressor is not None and not incident.suppressed:
            incident = self.suppressor.judge(incident)
        if incident.status == "open":
            self.summary.incidents[incident.kind] += 1
            if incident.suppressed:
                self.summary.suppressed[incident.kind] += 1
        for sink in self.sinks:
            sink.write(incident)
        for obs in self.observers:
            obs.incident(incident)
