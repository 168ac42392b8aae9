"""Sink scheme -> factory, and sink specs (CONTRACTS §4) -> sinks.

One explicit table, like :mod:`detector.decoding.registry`: a new sink is a
module of its own plus one line here. The HTTP and Kafka clients are only
created when a sink of that scheme is made.
"""

from __future__ import annotations

from detector.sinks.alertmanager import AlertmanagerSink
from detector.sinks.base import Sink, SinkError, SinkFactory
from detector.sinks.files import JsonlSink, StdoutSink
from detector.sinks.kafka import KafkaSink, parse_spec
from detector.sinks.pagerduty import PagerDutySink
from detector.sinks.slack import SlackSink
from detector.sinks.sqlite import SqliteSink
from detector.sinks.webhook import WebhookSink

# The order is the order `--help` lists the schemes in.
_FACTORIES: dict[str, SinkFactory] = {
    "stdout": lambda arg: StdoutSink(),  # takes no argument: ``stdout:x`` is stdout
    "jsonl": JsonlSink,  # jsonl:PATH
    "sqlite": SqliteSink,  # sqlite:PATH
    "kafka": lambda arg: KafkaSink(*parse_spec(arg)),  # kafka:TOPIC[?bootstrap=...]
    "webhook": WebhookSink,  # webhook:URL
    "slack": SlackSink,  # slack:URL
    "alertmanager": AlertmanagerSink,  # alertmanager:URL
    "pagerduty": PagerDutySink,  # pagerduty:ROUTING_KEY
}
SCHEMES: tuple[str, ...] = tuple(_FACTORIES)


def make_sink(spec: str) -> Sink:
    """Build a sink from a spec like ``stdout`` or ``jsonl:out/incidents.jsonl``.

    >>> make_sink("stdout").__class__.__name__
    'StdoutSink'
    >>> make_sink("carrier-pigeon:coop")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detector.sinks.base.SinkError: unknown sink 'carrier-pigeon' in 'carrier-pigeon:coop' (...)
    """
    scheme, _, arg = spec.partition(":")
    factory = _FACTORIES.get(scheme)
    if factory is None:
        known = ", ".join(sorted(_FACTORIES))
        raise SinkError(f"unknown sink {scheme!r} in {spec!r} (available here: {known})")
    return factory(arg)
