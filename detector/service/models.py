"""Which registry version each partition's request analyzer loads in ``detector run``,
and what happens when the registry refuses one (CONTRACTS §5).

The registry refuses a version it cannot trust or use: an artifact whose
sha256 differs from its card, untrusted types in the skops file, a feature
schema of another detector version. At start the shared model must load, or
the service does not join its group at all (:class:`ModelRefused`, exit 2):
a service that reports ready and then processes nothing is worse than one
that does not start. While running, a version refused on a hot reload (or
when a partition is assigned) is logged once and never retried; partitions
keep, or get, the last version of that model that loaded, and a partition's
own model (``--retrain-every``) falls back to the shared one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.config import ConfigError

if TYPE_CHECKING:
    from detector.analysis.analyzer import RequestAnalyzer

LOAD_ERRORS = (ValueError, OSError)  # RegistryError is a ValueError


class ModelRefused(ConfigError):
    """No usable version of the service's model: the registry refused it (exit 2)."""


class ModelLoader:
    """Loads request analyzers from the registry at ``root``; remembers what loaded and what not.

    ``log`` is the service's structured log (``log(event, level=..., **fields)``).
    """

    def __init__(self, root: Path, log: Callable[..., None]) -> None:
        self.root = root
        self.log = log
        self.good: dict[str, str] = {}  # model name -> last version that loaded
        self.refused: dict[tuple[str, str], str] = {}  # (name, version) -> the registry's reason

    def current(self, name: str) -> str | None:
        """The ``current`` version of ``name``; a broken pointer reads as the last good one."""
        from detector.models.registry import ModelRegistry, RegistryError

        try:
            return ModelRegistry(self.root).current(name)
        except RegistryError:
            return self.good.get(name)  # half-written or tampered pointer: keep what we have

    def is_refused(self, name: str) -> bool:
        """Was the current version of ``name`` refused already (so not worth loading again)?"""
        version = self.current(name)
        return version is not None and (name, version) in self.refused

    def check(self, name: str | None = None) -> str | None:
        """Load the shared model once before the service starts; its version, or ModelRefused."""
        from detector.analysis.analyzer import RequestAnalyzer
        from detector.analysis.request_model import MODEL_NAME

        name = name or MODEL_NAME
        version = self.current(name)
        try:
            analyzer = RequestAnalyzer.from_registry(self.root, name=name, version=version)
        except LOAD_ERRORS as exc:
            reason = " ".join(str(exc).split())[:300]
            self.log("model refused", level="error", model=name, version=version, error=reason)
            raise ModelRefused(
                f"model {name!r} in {self.root} refused by the registry: {reason}") from None
        if analyzer.version is not None:
            self.good[name] = analyzer.version
        return analyzer.version

    def load_current(self, name: str) -> RequestAnalyzer | None:
        """The current version of ``name`` (a hot reload); None when it is refused (logged once)."""
        from detector.analysis.analyzer import RequestAnalyzer

        version = self.current(name)
        if version is not None and (name, version) in self.refused:
            return None
        try:
            analyzer = RequestAnalyzer.from_registry(self.root, name=name, version=version)
        except LOAD_ERRORS as exc:
            self._refuse(name, version, exc)
            return None
        if analyzer.version is not None:
            self.good[name] = analyzer.version
        return analyzer

    def load(self, name: str) -> tuple[str, RequestAnalyzer]:
        """(model name, analyzer) for a partition wanting ``name``: its current version,
        else its last good one, else the same for the shared model; else ModelRefused."""
        from detector.analysis.analyzer import RequestAnalyzer
        from detector.analysis.request_model import MODEL_NAME

        for n in dict.fromkeys((name, MODEL_NAME)):
            analyzer = self.load_current(n)
            if analyzer is not None:
                return n, analyzer
            good = self.good.get(n)
            if good is None or (n, good) in self.refused:
                continue
            try:
                analyzer = RequestAnalyzer.from_registry(self.root, name=n, version=good)
            except LOAD_ERRORS as exc:  # the last good version was changed on disk since
                self._refuse(n, good, exc)
                continue
            self.log("model kept", level="warning", model=n, version=good,
                     reason="the current version is refused")
            return n, analyzer
        reasons = "; ".join(f"{n}/{v}: {why}" for (n, v), why in self.refused.items()
                            if n in (name, MODEL_NAME))
        raise ModelRefused(f"model {name!r} in {self.root}: no version the registry accepts "
                           f"({reasons or 'none published'})"[:500])

    def _refuse(self, name: str, version: str | None, exc: BaseException) -> None:
        reason = " ".join(str(exc).split())[:300]
        key = (name, version or "")
        if key not in self.refused:
            self.refused[key] = reason
            fields: dict[str, Any] = {"model": name, "version": version, "error": reason}
            if name in self.good:
                fields["kept"] = self.good[name]
            self.log("model refused", level="error", **fields)
