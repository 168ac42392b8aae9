"""Several sinks of a finite run (``replay``), each on its own.

One sink's failure never reaches the others: a webhook answering 500 or a
store that cannot be written does not keep the change from the sinks after it,
nor their flush or close. What a sink did not receive is counted per sink and
said once, at the end (:meth:`SinkFanOut.report`); nothing is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from detector.incidents.model import Incident
from detector.sinks.base import Sink
from detector.sinks.delivery import SinkDeliveryError
from detector.sinks.http_base import redact
from detector.sinks.registry import make_sink

log = logging.getLogger("detector.sinks")

_SECRET_ARGS = frozenset({"webhook", "slack", "alertmanager", "pagerduty"})


def spec_label(spec: str) -> str:
    """A sink spec as it may be shown: URLs cut to their host, keys hidden.

    >>> spec_label("slack:https://hooks.slack.com/services/T0/B0/XYZ")
    'slack:https://hooks.slack.com/...'
    >>> spec_label("pagerduty:R0UT1NGKEY"), spec_label("webhook:env:HOOK")
    ('pagerduty:***', 'webhook:env:HOOK')
    """
    scheme, sep, arg = spec.partition(":")
    if scheme not in _SECRET_ARGS or not sep or arg.startswith(("env:", "file:")):
        return spec
    return f"{scheme}:{redact(arg) if '://' in arg else '***'}"


@dataclass
class SinkOutcome:
    """What one sink of the fan-out received."""

    label: str
    written: int = 0
    undelivered: int = 0
    reason: str = ""


class SinkFanOut:
    """A :class:`~detector.sinks.base.Sink` over several sinks, isolated from
    each other; made for a finite run, so HTTP sinks get bounded retries.

    >>> from detector.sinks.base import MemorySink
    >>> class Broken(MemorySink):
    ...     def flush(self) -> None: raise OSError("disk full")
    >>> fan = SinkFanOut([Broken(), MemorySink()], ["broken", "memory"])
    >>> fan.flush(); fan.close(); fan.undelivered
    0
    """

    def __init__(self, sinks: Iterable[Sink], labels: Iterable[str] | None = None) -> None:
        self.sinks = list(sinks)
        names = list(labels) if labels is not None else [_label(s) for s in self.sinks]
        self.outcomes = [SinkOutcome(name) for name in names]
        self._unflushed = [0] * len(self.sinks)  # written since the last good flush
        self._write_errors = [0] * len(self.sinks)
        self._closed = False
        for sink in self.sinks:
            bound = getattr(sink, "bound_retries", None)
            if callable(bound):
                bound()

    @classmethod
    def of(cls, sinks: list[Sink]) -> SinkFanOut:
        """``sinks`` fanned out, or the fan-out itself when that is all ``sinks`` holds."""
        if len(sinks) == 1 and isinstance(sinks[0], SinkFanOut):
            return sinks[0]
        return cls(sinks)

    @classmethod
    def open(cls, specs: list[str]) -> SinkFanOut:
        """Make the sinks of ``specs``; if one cannot be made, close those made so far."""
        made: list[Sink] = []
        try:
            for spec in specs:
                made.append(make_sink(spec))
        except BaseException:
            for sink in made:
                try:
                    sink.close()
                except Exception as exc:  # the spec error is the one to report
                    log.debug("closing %r after a bad spec: %s", sink, exc)
            raise
        return cls(made, [spec_label(s) for s in specs])

    @property
    def undelivered(self) -> int:
        return sum(o.undelivered for o in self.outcomes)

    def write(self, incident: Incident) -> None:
        for i, sink in enumerate(self.sinks):
            self.outcomes[i].written += 1
            try:
                sink.write(incident)
                self._unflushed[i] += 1
            except Exception as exc:
                self._write_errors[i] += 1
                self._failed(i, exc)

    def flush(self) -> None:
        for i, sink in enumerate(self.sinks):
            try:
                sink.flush()
                self._unflushed[i] = 0
            except Exception as exc:
                self._failed(i, exc)

    def close(self) -> None:
        """Close every sink, whatever the others do, and settle what each missed."""
        if self._closed:
            return
        self._closed = True
        for i, sink in enumerate(self.sinks):
            lost = 0
            try:
                sink.close()
            except SinkDeliveryError as exc:
                lost = exc.pending or self._unflushed[i]
                self._failed(i, exc)
            except Exception as exc:
                lost = self._unflushed[i]
                self._failed(i, exc)
            own = getattr(sink, "undelivered", None)
            if isinstance(own, int):  # the sink counts its give-ups itself (HTTP sinks)
                lost = own
                reason = getattr(sink, "last_error", "")
                if own and isinstance(reason, str) and reason:
                    self.outcomes[i].reason = reason
            out = self.outcomes[i]
            out.undelivered = min(out.written, lost + self._write_errors[i])

    def report(self) -> list[str]:
        """One line per sink that missed changes (empty when all were delivered)."""
        return [f"sink {o.label}: {o.undelivered:,} of {o.written:,} incident changes not "
                f"delivered ({o.reason or 'unknown reason'})"
                for o in self.outcomes if o.undelivered]

    def raise_if_undelivered(self) -> None:
        """SinkDeliveryError naming every sink that missed changes (after close)."""
        lines = self.report()
        if lines:
            raise SinkDeliveryError("; ".join(lines), pending=self.undelivered)

    def _failed(self, i: int, exc: BaseException) -> None:
        out = self.outcomes[i]
        reason = str(exc) or type(exc).__name__
        # Said once per sink, when it first fails; HTTP sinks say it themselves.
        if not out.reason and not hasattr(self.sinks[i], "undelivered"):
            log.warning("sink %s: %s", out.label, reason)
        out.reason = reason


def _label(sink: Sink) -> str:
    label = getattr(sink, "label", None)
    return label if isinstance(label, str) else type(sink).__name__
