"""The state protocol: every stateful part saves and loads itself, with its own schema version.

As quix-streams' ``Store``/``StorePartition``: a component (the route
templater, the window state, a detector's memory, the incident manager, ...)
turns its state into plain data with :meth:`Stateful.snapshot` and takes it
back with :meth:`Stateful.restore`. A snapshot is stamped with the component's
schema version (:func:`stamp`); :func:`unstamp` reads it back through the
component's migrations table (``{n: data of version n -> data of version n+1}``),
the way ``sinks/sqlite.py`` versions its schema: older data is upgraded step by
step in one place, newer data is refused. The pipeline composes the
components' snapshots into one tree (:mod:`detector.state.layout`), which
:mod:`detector.state.snapshot` writes as DETSNAP2.

>>> class Counter:
...     VERSION = 2
...     MIGRATIONS = {1: lambda n: {"n": n}}  # version 1 stored the bare number
...     def __init__(self) -> None:
...         self.n = 0
...     def snapshot(self) -> dict[str, object]:
...         return stamp(self.VERSION, {"n": self.n})
...     def restore(self, data: object) -> None:
...         self.n = unstamp(data, self.VERSION, self.MIGRATIONS, "counter")["n"]
>>> c = Counter()
>>> c.restore({"v": 1, "data": 41})
>>> c.n, c.snapshot()
(41, {'v': 2, 'data': {'n': 41}})
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import orjson

from detector.state.snapshot import SnapshotError

Migrations = Mapping[int, Callable[[Any], Any]]


@runtime_checkable
class Stateful(Protocol):
    """A part of the pipeline that saves and loads its own state as plain data."""

    def snapshot(self) -> dict[str, Any]:
        """The state as data stamped with its schema version (:func:`stamp`)."""
        ...

    def restore(self, data: Any) -> None:
        """Continue from what :meth:`snapshot` returned (SnapshotError if unusable)."""
        ...


def stamp(version: int, data: Any) -> dict[str, Any]:
    """``data`` of schema ``version``, as a component's snapshot."""
    return {"v": version, "data": data}


def migrate(version: int, data: Any, current: int, migrations: Migrations, what: str) -> Any:
    """``data`` of schema ``version`` upgraded to ``current`` through ``migrations``.

    >>> migrate(1, "a", 3, {1: str.upper, 2: lambda s: s * 2}, "demo")
    'AA'
    >>> migrate(4, "a", 3, {}, "demo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detector.state.snapshot.SnapshotError: demo: schema 4 is not supported (this ...)
    """
    if version > current or any(v not in migrations for v in range(version, current)):
        raise SnapshotError(f"{what}: schema {version} is not supported "
                            f"(this version reads up to {current})")
    while version < current:
        data = migrations[version](data)
        version += 1
    return data


def unstamp(snap: Any, current: int, migrations: Migrations, what: str) -> Any:
    """The data of a :func:`stamp`-ed snapshot, upgraded to schema ``current``."""
    if not isinstance(snap, dict) or set(snap) != {"v", "data"} or type(snap["v"]) is not int:
        raise SnapshotError(f"{what}: not a versioned component snapshot")
    return migrate(snap["v"], snap["data"], current, migrations, what)


def fields(obj: object, names: Iterable[str]) -> dict[str, Any]:
    """The attributes ``names`` of ``obj``, by name (a snapshot's data)."""
    return {name: getattr(obj, name) for name in names}


def assign(obj: object, data: Any, names: Iterable[str], what: str) -> None:
    """Set the attributes ``names`` of ``obj`` from ``data`` (exactly those, all of them)."""
    names = tuple(names)
    if not isinstance(data, dict) or set(data) != set(names):
        raise SnapshotError(f"{what}: snapshot does not hold the fields {', '.join(names)}")
    for name in names:
        setattr(obj, name, data[name])


class DocumentState:
    """A component whose state is a versioned JSON document it already writes and reads
    (``save_state() -> bytes``, ``load_state(bytes)`` raising ValueError): the snapshot
    is that document as data, stamped; restoring loads it and takes its fields.

    >>> import orjson
    >>> class Box(DocumentState):
    ...     STATE_NAME = "box"
    ...     def __init__(self, n: int = 0) -> None:
    ...         self.n = n
    ...     def save_state(self) -> bytes:
    ...         return orjson.dumps({"n": self.n})
    ...     @classmethod
    ...     def load_state(cls, data: bytes) -> "Box":
    ...         return cls(int(orjson.loads(data)["n"]))
    >>> b = Box()
    >>> b.restore(Box(7).snapshot())
    >>> b.n, b.snapshot()
    (7, {'v': 1, 'data': {'n': 7}})
    """

    STATE_SNAPSHOT = 1
    STATE_NAME = "state"  # what a SnapshotError calls it

    def save_state(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def load_state(cls, data: bytes) -> Any:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """The state as plain JSON-able data, stamped with its schema version."""
        return stamp(self.STATE_SNAPSHOT, orjson.loads(self.save_state()))

    def restore(self, data: Any) -> None:
        """Continue from what :meth:`snapshot` returned (SnapshotError if unusable)."""
        doc = unstamp(data, self.STATE_SNAPSHOT, {}, self.STATE_NAME)
        try:
            loaded = type(self).load_state(orjson.dumps(doc))
        except (ValueError, TypeError) as exc:
            raise SnapshotError(str(exc)[:200]) from None
        vars(self).update(vars(loaded))
