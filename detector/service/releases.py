"""The service's release records: every deployment judged when its window closes.

Each partition's pipeline gets a :class:`~detector.verdict.watch.ReleaseWatch`;
its records are sealed (digest, and a signature with ``DETECTOR_RECORD_KEY``),
written to ``records_dir`` when one is set, and kept in memory for
``POST /verdict`` (Flagger) and the logs. Policies come from ``policies``: a file
per service (``<service>.toml``, ``.yaml`` or ``.yml``), else ``default.toml``
(or YAML) there, else the defaults.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.config import ConfigError
from detector.verdict.policy import Policy, load_policy
from detector.verdict.record import (
    RecordError,
    read_record,
    record_path,
    seal,
    signing_key,
    verify,
    write_record,
)
from detector.verdict.watch import ReleaseWatch

if TYPE_CHECKING:
    from detector.pipeline import Pipeline
    from detector.service.jsonlog import JsonLog

RECORDS_KEPT = 1_000  # sealed records kept in memory for /verdict
_SUFFIXES = (".toml", ".yaml", ".yml")


class ReleaseBook:
    """Release watches of the service's pipelines and the records they produced.

    >>> book = ReleaseBook(None, None)
    >>> book.judge("shop", "1.2")
    ('unknown', None)
    """

    def __init__(self, records_dir: Path | None, policies: Path | None, *,
                 log: JsonLog | None = None) -> None:
        self.records_dir = records_dir
        self.policies_dir = policies
        self.log = log
        self.key = signing_key(None)
        self.records: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        # Weak: a revoked partition's pipeline (and its watch) goes when the service drops it.
        self.watches: weakref.WeakSet[ReleaseWatch] = weakref.WeakSet()
        self._policies: dict[str, Policy] = {}
        if policies is not None:  # refuse a bad policy at start, not at the first deploy
            if not policies.is_dir():
                raise ConfigError(f"policies {policies}: not a directory")
            for path in sorted(policies.iterdir()):
                if path.suffix.lower() in _SUFFIXES:
                    self._policies[path.stem] = load_policy(path)

    def policy_of(self, service: str) -> Policy:
        """The service's policy (its own file, else ``default``, else the defaults)."""
        return self._policies.get(service) or self._policies.get("default") or Policy()

    def attach(self, pipeline: Pipeline, *, analysis: bool,
               models: dict[str, str] | None = None) -> ReleaseWatch:
        """Watch ``pipeline``'s deployments (a partition's pipeline, new or restored)."""
        watch = ReleaseWatch(self.policy_of, pipeline.registry, self.add, analysis=analysis,
                             models=models)
        pipeline.observers.append(watch)
        self.watches.add(watch)
        return watch

    def add(self, record: dict[str, Any]) -> None:
        """A judged release: seal, keep, write."""
        sealed = seal(record, self.key)
        key = (str(sealed["service"]), str(sealed["version"]))
        self.records[key] = sealed
        self.records.move_to_end(key)
        while len(self.records) > RECORDS_KEPT:
            self.records.popitem(last=False)
        path = None
        if self.records_dir is not None:
            try:
                path = write_record(self.records_dir, sealed)
            except (OSError, RecordError) as exc:  # write_record says OSErrors as RecordError
                if self.log is not None:
                    self.log("release record not written", level="error",
                             service=key[0], version=key[1], error=str(exc)[:200])
        if self.log is not None:
            self.log("release judged", service=key[0], version=key[1],
                     verdict=sealed["verdict"], score=sealed["score"],
                     record=str(path) if path else None)

    def judge(self, service: str, version: str) -> tuple[str, dict[str, Any] | None]:
        """The verdict on ``service`` ``version``: its record once judged; while its window
        runs, an interim judgement of the traffic so far; else its record in ``records_dir``
        (another replica's); ``unknown`` when never deployed."""
        rec = self.records.get((service, version))
        if rec is not None:
            return str(rec["verdict"]), rec
        for watch in list(self.watches):
            interim = watch.interim(service, version)
            if interim is not None:
                # A regression seen early is a fail now; a pass is not one until the window
                # is over (a regression may start later in it): until then, inconclusive.
                if interim["verdict"] != "fail":
                    interim["notes"].append(f"interim {interim['verdict']}: reported as "
                                            "inconclusive until the window is over")
                    interim["verdict"] = "inconclusive"
                sealed = seal(interim, self.key)
                return str(sealed["verdict"]), sealed
        stored = self._stored(service, version)
        if stored is not None:
            return str(stored["verdict"]), stored
        return "unknown", None

    def _stored(self, service: str, version: str) -> dict[str, Any] | None:
        """The release's record in ``records_dir``, written by this or another replica
        (each judges the partitions it owns; the directory may be shared), if it verifies."""
        if self.records_dir is None:
            return None
        try:
            path = record_path(self.records_dir, service, version)
            if not path.is_file():
                return None
            rec = read_record(path)
        except (OSError, RecordError):
            return None
        problems = verify(rec, self.key)
        if problems:  # never answer a gate from a record that does not verify
            if self.log is not None:
                self.log("release record refused", level="error", service=service,
                         version=version, error=problems[0][:200])
            return None
        return rec
