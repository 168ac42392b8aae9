"""The service's suppression file (``[service] suppressions``), re-read when it changes.

The file is checked at start (a bad one stops the start, exit 2) and then
polled by modification time and size from the consume loop. A change that
parses replaces the rules of every partition's pipeline at once (they share
one :class:`~detector.incidents.suppressor.RuleSource`); a bad edit, or the
file going away, keeps the rules in force and logs one error line per
change, so a typo never turns every suppression off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from detector.incidents.suppressions import SuppressionError, Suppressions
from detector.incidents.suppressor import RuleSource

CHECK_EVERY = 2.0  # seconds between stats of the file (a stat is cheap)
Stamp = tuple[int, int] | None  # (mtime_ns, size); None: missing


class SuppressionWatch:
    """Loads the file once, then :meth:`poll` swaps in each valid new version.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = f.write_text('[[maintenance]]\\nservice = "a"\\nstart = 2026-01-01T00:00:00Z\\n'
    ...                  'end = 2026-01-01T01:00:00Z\\nreason = "r"\\n')
    >>> w = SuppressionWatch(f, log=lambda *a, **k: None)
    >>> len(w.source.rules.maintenance), w.poll(force=True)
    (1, False)
    """

    def __init__(self, path: Path, *, log: Callable[..., Any],
                 check_every: float = CHECK_EVERY) -> None:
        self.path = path
        self.log = log
        self.check_every = check_every
        self.stamp = self._stamp()
        self.source = RuleSource(Suppressions.load(path))  # SuppressionError: exit 2
        self.failed_stamp: Stamp = None  # the bad version last reported
        self.missing = False
        self.last_check = time.monotonic()
        self.reloads = 0

    def _stamp(self) -> Stamp:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def poll(self, now: float | None = None, *, force: bool = False) -> bool:
        """Re-read the file if it changed since the last look; True when rules changed."""
        now = time.monotonic() if now is None else now
        if not force and now - self.last_check < self.check_every:
            return False
        self.last_check = now
        stamp = self._stamp()
        if stamp is None:
            if not self.missing:  # said once, when it goes
                self.missing = True
                self.log("suppressions unreadable", level="error", path=str(self.path),
                         error="file missing: the rules in force are kept")
            return False
        self.missing = False
        if stamp in (self.stamp, self.failed_stamp):
            return False
        try:
            rules = Suppressions.load(self.path)
        except SuppressionError as exc:
            self.failed_stamp = stamp
            self.log("suppressions rejected", level="error", path=str(self.path),
                     error=f"{exc} (the rules in force are kept)"[:400])
            return False
        self.stamp, self.failed_stamp = stamp, None
        self.source.rules = rules
        self.reloads += 1
        self.log("suppressions reloaded", path=str(self.path), rules=len(rules.rules),
                 maintenance=len(rules.maintenance))
        return True
