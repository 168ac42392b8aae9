"""Imports every sink module so each registers its scheme with ``make_sink``.

``detector/sinks/__init__.py`` imports this module; the HTTP and Kafka
clients themselves are only created when a sink of that scheme is made.
"""

from detector.sinks import files as _files  # noqa: F401  (stdout, jsonl)
from detector.sinks import http as _http  # noqa: F401  (webhook, slack, alertmanager, pagerduty)
from detector.sinks import kafka as _kafka  # noqa: F401  (kafka)
from detector.sinks import sqlite as _sqlite  # noqa: F401  (sqlite)

SCHEMES = ("stdout", "jsonl", "sqlite", "kafka", "webhook", "slack", "alertmanager", "pagerduty")
