"""The service's structured log: one JSON object per line, for our events and
for every library that logs through :mod:`logging` (aiokafka, asyncio).

Why route library logging here: without a handler, Python's last-resort
handler prints aiokafka's warnings and asyncio's "unhandled exception"
tracebacks as plain multi-line text into the same stream, and a log shipper
that expects JSON lines breaks on them. A traceback becomes one ``error``
field on one line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any

import orjson

_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
           logging.ERROR: "error", logging.CRITICAL: "critical"}


class JsonLog:
    """Structured logs: one JSON object per line (stderr by default); thread-safe."""

    def __init__(self, stream: IO[str] | None = None, **context: str) -> None:
        self.stream = stream or sys.stderr
        self.context = context
        self._lock = threading.Lock()  # sink delivery threads log too

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        rec = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": level,
               "event": event, **self.context, **fields}
        line = orjson.dumps(rec, default=str).decode() + "\n"
        with self._lock, contextlib.suppress(ValueError, OSError):
            self.stream.write(line)
            self.stream.flush()


class JsonLogHandler(logging.Handler):
    """A :mod:`logging` handler writing each record as one JSON line through a JsonLog.

    >>> import io
    >>> out = io.StringIO()
    >>> lg = logging.getLogger("doctest.jsonlog"); lg.propagate = False
    >>> lg.addHandler(JsonLogHandler(JsonLog(out)))
    >>> try:
    ...     raise OSError("refused")
    ... except OSError:
    ...     lg.exception("connect failed")
    >>> rec = orjson.loads(out.getvalue()); rec["event"], rec["logger"], rec["error"]
    ('connect failed', 'doctest.jsonlog', 'OSError: refused')
    >>> out.getvalue().count("\\n")
    1
    """

    def __init__(self, log: JsonLog) -> None:
        super().__init__()
        self.log = log
        self.replaced: list[logging.Handler] = []  # root handlers it stands in for

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, Any] = {"logger": record.name}
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                # The exception, not its traceback: one line, still says what failed.
                fields["error"] = f"{type(exc).__name__}: {exc}"[:500]
            level = _LEVELS.get(record.levelno, record.levelname.lower())
            self.log(record.getMessage()[:2000], level=level, **fields)
        except Exception:  # a logging call must never raise into its caller
            self.handleError(record)


class _ConnectFailures(logging.Filter):
    """Drops aiokafka's per-socket "Unable connect to ..." errors: the service reports
    reachability itself (one line per start attempt with its count, and the
    unreachable / reachable transitions while running), so an outage is not a
    flood of duplicate lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("aiokafka")
                    and str(record.msg).startswith("Unable connect to"))


def route_library_logging(log: JsonLog, level: int = logging.WARNING) -> JsonLogHandler:
    """Send every :mod:`logging` record at ``level`` or above through ``log``.

    Replaces the root logger's handlers (so nothing prints plain text) and
    returns the handler, for :func:`unroute_library_logging`.
    """
    handler = JsonLogHandler(log)
    handler.setLevel(level)
    handler.addFilter(_ConnectFailures())
    root = logging.getLogger()
    handler.replaced = list(root.handlers)
    for h in handler.replaced:
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler


def unroute_library_logging(handler: JsonLogHandler) -> None:
    """Undo :func:`route_library_logging` (tests, embedding)."""
    root = logging.getLogger()
    root.removeHandler(handler)
    for h in handler.replaced:
        root.addHandler(h)
    logging.captureWarnings(False)
