"""stdout and jsonl:PATH sinks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import orjson

from detector.incidents.model import Incident
from detector.sinks.base import SinkError
from detector.terminal import clear_status, printable

_STATUS_STYLE = {"open": "bold red", "update": "yellow", "resolved": "green"}


class JsonlSink:
    """Appends one JSON line per incident state change to a file.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> JsonlSink(str(d / "i.jsonl")).close()
    """

    def __init__(self, path: str) -> None:
        if not path:
            raise SinkError("jsonl sink needs a path: jsonl:PATH")
        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: each change is one append of a whole line, so processes sharing
            # the file (``detector run --processes N``) never cut each other's lines.
            self._f: IO[bytes] = p.open("ab", buffering=0)
        except OSError as exc:
            raise SinkError(f"cannot open {path} for writing: {exc.strerror}") from None

    def write(self, incident: Incident) -> None:
        view = memoryview(orjson.dumps(incident.model_dump(mode="json")) + b"\n")
        while view:  # a regular file takes it whole; a short write only on a full disk
            view = view[self._f.write(view) or 0:]

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class StdoutSink:
    """JSON lines when piped; a readable line per change on a terminal.

    ``ordered``: the service hands it the changes of all partitions in event-time
    order (detector.service.fanout), since people read it top to bottom.
    """

    ordered = True

    def __init__(self, stream: IO[str] | None = None, pretty: bool | None = None) -> None:
        self._out = stream or sys.stdout
        self._pretty = self._out.isatty() if pretty is None else pretty
        self._console = None
        if self._pretty:
            from rich.console import Console  # noqa: PLC0415 (only on a terminal)

            # No emoji codes or highlighting: the text is log content, shown as it is.
            self._console = Console(file=self._out, highlight=False, emoji=False)

    def write(self, incident: Incident) -> None:
        if self._console is None:  # JSON escapes control characters itself: exact
            self._out.write(orjson.dumps(incident.model_dump(mode="json")).decode() + "\n")
            return
        # Every field may come from log content (or a crafted store): escape control
        # and bidi characters, then rich markup; and never share a line with progress.
        clear_status()
        style = _STATUS_STYLE.get(incident.status, "")
        self._console.print(
            f"[{style}]{_safe(incident.status):>8}[/] {_safe(incident.detected_at)} "
            f"[bold]{_safe(incident.kind)}[/] {_safe(incident.severity):<8} "
            f"{_safe(incident.service)}: {_safe(incident.summary)} [dim]({_safe(incident.id)})[/]"
            + (" [dim]suppressed[/]" if incident.suppressed else ""),
            markup=True,
            soft_wrap=True,
        )

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self.flush()


def _safe(text: str) -> str:
    """Terminal-safe text inside rich markup: control characters escaped, then markup."""
    from rich.markup import escape  # noqa: PLC0415 (only on a terminal)

    return escape(printable(text))
