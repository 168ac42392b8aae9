"""Safe text for terminals, and the one transient status line (progress) on one.

Log content is attacker-controlled: a path, a user agent or a payload may carry
escape sequences (an OSC title, a cursor move, a screen clear), CR/LF that forge
extra lines, or bidi overrides that reorder what the reader sees. Every piece
of human-readable output goes through :func:`printable`, which shows such
characters escaped (``\\x1b``, ``\\n``, ``\\u202e``) instead of dropping them, so
the reader sees that they were there. JSON output is never passed through it:
JSON escapes control characters itself and must stay byte-exact.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import IO

# C0 controls and DEL, C1 controls, the bidi marks, embeddings, overrides and
# isolates (U+061C, U+200E/F, U+202A-E, U+2066-9), the Unicode line and paragraph
# separators, and lone surrogates (from undecodable bytes: they cannot even be
# encoded for the terminal).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control, bidi-override and separator character escaped.

    >>> printable("a\\x1b]0;owned\\x07b\\r\\nc\\u202ed")
    'a\\\\x1b]0;owned\\\\x07b\\\\r\\\\nc\\\\u202ed'
    >>> printable("GET /v2/payments/{id}")
    'GET /v2/payments/{id}'
    """
    if _UNSAFE.search(text) is None:  # the common case: nothing to do, no copy
        return text
    return _UNSAFE.sub(_escape, text)


class StatusLine:
    """A transient one-line status (progress) at the bottom of a terminal.

    It is drawn on its own line of ``stream`` (stderr) and erased before anything
    else is printed to the same terminal (see :func:`clear_status`), so output
    lines never carry status text or carriage returns.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._out = stream
        self._shown = False

    def show(self, text: str) -> None:
        # One column less than the terminal is wide: a wrapped line could not be erased.
        width = max(20, self._columns() - 1)
        text = printable(text)
        if len(text) > width:
            text = text[: width - 1] + "…"
        self._out.write(f"\r\x1b[2K{text}")
        self._out.flush()
        self._shown = True

    def _columns(self) -> int:
        # COLUMNS first (as shutil does), then this stream's own terminal (stdout may be
        # piped meanwhile), then stdout's; a terminal that reports no size counts as none.
        env = os.environ.get("COLUMNS", "")
        if env.isdigit() and int(env) > 0:
            return int(env)
        try:
            columns = os.get_terminal_size(self._out.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        return columns or shutil.get_terminal_size((80, 24)).columns

    def clear(self) -> None:
        if self._shown:
            self._out.write("\r\x1b[2K")
            self._out.flush()
            self._shown = False


_active: StatusLine | None = None


def set_status_line(line: StatusLine | None) -> None:
    """Make ``line`` the status line :func:`clear_status` erases (None: no status line)."""
    global _active
    _active = line


def clear_status() -> None:
    """Erase the status line, if one is shown, before writing output to the terminal."""
    if _active is not None:
        _active.clear()
