"""stdout and jsonl:PATH sinks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import orjson

from detector.incidents.model import Incident
from detector.sinks.base import SinkError, register

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
            self._f: IO[bytes] = p.open("ab")
        except OSError as exc:
            raise SinkError(f"cannot open {path} for writing: {exc.strerror}") from None

    def write(self, incident: Incident) -> None:
        self._f.write(orjson.dumps(incident.model_dump(mode="json")) + b"\n")

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class StdoutSink:
    """JSON lines when piped; a readable line per change on a terminal."""

    def __init__(self, stream: IO[str] | None = None, pretty: bool | None = None) -> None:
        self._out = stream or sys.stdout
        self._pretty = self._out.isatty() if pretty is None else pretty
        self._console = None
        if self._pretty:
            from rich.console import Console  # noqa: PLC0415 (only on a terminal)

            self._console = Console(file=self._out, highlight=False)

    def write(self, incident: Incident) -> None:
        if self._console is None:
            self._out.write(orjson.dumps(incident.model_dump(mode="json")).decode() + "\n")
            return
        from rich.markup import escape

        style = _STATUS_STYLE.get(incident.status, "")
        self._console.print(
            f"[{style}]{incident.status:>8}[/] {incident.detected_at} "
            f"[bold]{incident.kind}[/] {incident.severity:<8} {escape(incident.service)}: "
            f"{escape(incident.summary)} [dim]({incident.id})[/]",
            markup=True,
            soft_wrap=True,
        )

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self.flush()


register("stdout")(lambda arg: StdoutSink())
register("jsonl")(lambda arg: JsonlSink(arg))
