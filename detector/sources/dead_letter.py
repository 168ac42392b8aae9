"""Dead-letter output: every bad record with its position, reason and raw bytes."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import IO

import orjson

from detector.events import BadRecord
from detector.sources.files import SourceError


class DeadLetterFile:
    """Writes bad records as JSON lines; raw bytes as text when valid UTF-8, else base64.

    A record whose raw bytes are only a prefix (an over-long line) also gets
    ``length``, its true size in bytes.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "dl.jsonl"
    >>> d = DeadLetterFile(p); d(BadRecord("a.log", 3, "invalid JSON", b"{")); d.close()
    >>> p.read_text().strip()
    '{"source":"a.log","offset":3,"reason":"invalid JSON","raw":"{"}'
    """

    def __init__(self, path: Path) -> None:
        try:  # an unwritable path is the user's mistake: SourceError, exit 2
            path.parent.mkdir(parents=True, exist_ok=True)
            self._f: IO[bytes] = path.open("ab")
        except OSError as exc:
            raise SourceError(f"cannot write --dead-letter {path}: "
                              f"{exc.strerror or exc}") from None

    def __call__(self, rec: BadRecord) -> None:
        raw = rec.raw.rstrip(b"\r\n")
        doc: dict[str, object] = {"source": rec.source, "offset": rec.offset, "reason": rec.reason}
        if rec.length is not None:  # raw is only the first bytes of a longer record
            doc["length"] = rec.length
        try:
            doc["raw"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            doc["raw_base64"] = base64.b64encode(raw).decode("ascii")
        self._f.write(orjson.dumps(doc) + b"\n")

    def close(self) -> None:
        self._f.close()
