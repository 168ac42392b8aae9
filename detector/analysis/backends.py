"""Linear-time multi-pattern matchers: Hyperscan first, RE2 as the fallback.

Both backends take the same pattern list, read input as bytes (RE2 in
Latin-1 mode so that character classes count bytes exactly as Hyperscan
does), match case-insensitively and report each pattern index at most once.
Neither backtracks, so hostile input costs time linear in its length.

Compiling the Hyperscan database for the packaged rules takes seconds, so the
compiled database is cached on disk (:func:`cache_dir`), keyed by a SHA-256 of
the pattern list, the flags, the hyperscan package version and the platform.
A cache file is used only when its embedded key and payload digest both match;
anything else (missing, corrupt, foreign, unreadable, rejected by Hyperscan)
falls back to compiling, and the fresh database is written back atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Matcher", "available_backends", "cache_dir", "make_matcher"]

_CACHE_MAGIC = b"detector-hsdb-v1\n"
_CACHE_KEEP = 4  # compiled databases kept per cache directory


def cache_dir() -> Path | None:
    """Where compiled databases are cached; ``None`` when caching is disabled.

    ``DETECTOR_CACHE_DIR`` overrides (an empty value disables the cache), else
    ``$XDG_CACHE_HOME/detector``, else ``~/.cache/detector``.
    """
    env = os.environ.get("DETECTOR_CACHE_DIR")
    if env is not None:
        return Path(env) if env.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "detector"


def _hs_key(patterns: Sequence[str], flags: int, version: str) -> str:
    h = hashlib.sha256()
    for part in (version, platform.machine(), platform.system(), str(flags), str(len(patterns))):
        h.update(part.encode() + b"\0")
    for p in patterns:
        h.update(p.encode() + b"\0")
    return h.hexdigest()


def _read_cache(path: Path, key: str) -> bytes | None:
    """The serialized database in ``path`` if it is ours, intact and for ``key``."""
    try:
        st = path.stat()
        # only files we own and nobody else may rewrite: a database is native input
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return None
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_CACHE_MAGIC)
    if not data.startswith(_CACHE_MAGIC) or len(data) < head + 128:
        return None
    stored_key = data[head : head + 64].decode("ascii", "replace")
    digest = data[head + 64 : head + 128].decode("ascii", "replace")
    payload = data[head + 128 :]
    if stored_key != key or hashlib.sha256(payload).hexdigest() != digest:
        return None
    return payload


def _write_cache(path: Path, key: str, payload: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        blob = _CACHE_MAGIC + key.encode() + hashlib.sha256(payload).hexdigest().encode() + payload
        fd, tmp = tempfile.mkstemp(prefix=".hsdb-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, path)
            # keep the directory small: databases of older rule sets are dropped
            older = sorted(path.parent.glob("hs-*.db"), key=lambda p: p.stat().st_mtime)
            for stale in older[:-_CACHE_KEEP]:
                stale.unlink(missing_ok=True)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only or full cache dir only costs the next start-up a compile


class Matcher(Protocol):
    """Scans bytes and returns the indices of the patterns that matched."""

    name: str

    def scan(self, data: bytes) -> set[int]: ...


class HyperscanMatcher:
    """One compiled Hyperscan block-mode database.

    >>> m = HyperscanMatcher(["union\\\\s+select", "<script"])
    >>> sorted(m.scan(b"1 UNION  SELECT <script>"))
    [0, 1]
    """

    name = "hyperscan"

    def __init__(self, patterns: Sequence[str], cache: Path | None = None) -> None:
        import hyperscan

        flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
        self._empty = not patterns
        #: "compiled", "cache" (loaded from disk) or "empty"
        self.source = "empty"
        if not patterns:
            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            return
        key = _hs_key(patterns, flags, str(getattr(hyperscan, "__version__", "?")))
        path = cache / f"hs-{key[:32]}.db" if cache is not None else None
        if path is not None and (payload := _read_cache(path, key)) is not None:
            try:
                db = hyperscan.loadb(payload, hyperscan.HS_MODE_BLOCK)
                db.scratch = hyperscan.Scratch(db)  # loadb, unlike compile, allocates none
                if db.info() and self._probe(db):
                    self._db = db
                    self.source = "cache"
                    return
            except Exception:  # noqa: BLE001 - any rejection means: compile instead
                pass
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=[p.encode() for p in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=[flags] * len(patterns),
        )
        self.source = "compiled"
        if path is not None:
            # serialisation trouble must not break scanning
            with contextlib.suppress(Exception):
                _write_cache(path, key, hyperscan.dumpb(self._db))

    @staticmethod
    def _probe(db: Any) -> bool:
        """A loaded database must scan without error before it is trusted."""
        db.scan(b"probe", match_event_handler=lambda *_a: None)
        return True

    def scan(self, data: bytes) -> set[int]:
        found: set[int] = set()
        if self._empty or not data:
            return found

        def on_match(pid: int, _from: int, _to: int, _flags: int, _ctx: Any) -> None:
            found.add(pid)

        self._db.scan(data, match_event_handler=on_match)
        return found


class Re2Matcher:
    """An RE2 ``Set`` over the same patterns (unanchored search).

    >>> m = Re2Matcher(["union\\\\s+select", "<script"])
    >>> sorted(m.scan(b"1 UNION  SELECT <script>"))
    [0, 1]
    """

    name = "re2"

    def __init__(self, patterns: Sequence[str]) -> None:
        import re2

        opts = re2.Options()
        opts.case_sensitive = False
        opts.encoding = re2.Options.Encoding.LATIN1
        opts.max_mem = 256 << 20  # large keyword alternations need a roomy DFA budget
        opts.log_errors = False
        self._set = re2.Set.SearchSet(opts)
        for p in patterns:
            self._set.Add(p.encode("latin-1"))
        self._set.Compile()
        self._empty = not patterns

    def scan(self, data: bytes) -> set[int]:
        if self._empty or not data:
            return set()
        matched = self._set.Match(data)  # None, not [], when nothing matched
        return set(matched) if matched else set()


def available_backends() -> list[str]:
    """Backends importable here, preferred first."""
    names = []
    try:
        import hyperscan  # noqa: F401

        names.append("hyperscan")
    except ImportError:
        pass
    try:
        import re2  # noqa: F401

        names.append("re2")
    except ImportError:
        pass
    return names


def make_matcher(
    patterns: Sequence[str], backend: str = "auto", *, use_cache: bool = True
) -> Matcher:
    """Compile ``patterns`` with ``backend`` ("auto", "hyperscan" or "re2").

    Hyperscan databases go through the on-disk cache unless ``use_cache`` is false
    or :func:`cache_dir` is disabled; RE2 compiles fast enough not to need one.
    """
    if backend == "auto":
        options = available_backends()
        if not options:
            raise ImportError("no signature backend: install hyperscan or google-re2")
        backend = options[0]
    if backend == "hyperscan":
        return HyperscanMatcher(patterns, cache_dir() if use_cache else None)
    if backend == "re2":
        return Re2Matcher(patterns)
    raise ValueError(f"unknown signature backend {backend!r}")
