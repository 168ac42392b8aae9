"""The pipeline's snapshot tree, its formats and their migrations, in one place.

Format 3 (today) maps each component's name to that component's own stamped
snapshot (:mod:`detector.state.component`)::

    {"windows": {"v": 1, "data": ...}, "series": ..., "svc_first": ..., "templater": ...,
     "registry": ..., "incidents": ..., "client_auth": ..., "scanner": ...,
     "new_endpoint": ..., "payload": ..., "ua_benign": ..., "profiles": ... or None}

Older trees are recognised by their shape and upgraded step by step through
:data:`MIGRATIONS`:

1. the flat layout written up to this change: the pipeline's own fields and
   other objects' private fields side by side (``series_keys``, ``open_windows``,
   ``incidents`` as a tuple, ...); ``svc_first`` is missing in the oldest ones;
2. the component map without ``svc_first`` (what a format 1 tree without it
   becomes): every service seen started no later than the pipeline's first
   event, as the single figure of those versions said.

A later change of the tree itself adds a ``"format"`` key (4 on).
"""

from __future__ import annotations

from typing import Any

import orjson

from detector.state.component import migrate, stamp, unstamp
from detector.state.snapshot import SnapshotError

FORMAT = 3
COMPONENTS = ("windows", "series", "svc_first", "templater", "registry", "incidents",
              "client_auth", "scanner", "new_endpoint", "payload", "ua_benign", "profiles")
# Components added after format 3 was fixed: a snapshot written before one existed
# lacks it, and that component simply starts fresh (its memory is rebuilt by traffic).
LATER_COMPONENTS: frozenset[str] = frozenset({"object_enumeration", "campaigns",
                                             "populations", "maintenance_incidents"})
# Components only some pipelines have (the service's suppressor and release watch): in
# the snapshot when present, started fresh when the snapshot lacks them.
OPTIONAL_COMPONENTS: frozenset[str] = frozenset({"release_watch", "suppressor"})
_FLAT = ("series_keys", "series_states", "series_birth", "series_last", "awake", "sid_of",
         "open_windows", "closed_upto", "min_open", "next_close", "max_ts", "first_ts",
         "last_version", "templater", "registry", "incidents", "client_auth", "scanner",
         "new_endpoint", "routes_by_service", "payload", "profiles", "ua_benign")
# The attributes the flat layout pickled or tagged whole (frozen: what format 1 held).
_TEMPLATER = ("collapse_threshold", "max_nodes_per_service", "cache_size", "max_depth",
              "max_segment_len", "max_root_children", "_trees", "_caches", "_cached",
              "_cached_bytes", "_interned", "generation")
_REGISTRY = ("_by_service", "_traffic_seen", "_initial")


def format_of(tree: Any) -> int:
    """The format of a snapshot tree; SnapshotError when it is no pipeline state."""
    if isinstance(tree, dict):
        fmt = tree.get("format")
        if type(fmt) is int:
            return fmt
        if "series_keys" in tree and not set(_FLAT) - set(tree):
            return 1
        if "series" in tree:
            return FORMAT if "svc_first" in tree else 2
    raise SnapshotError("snapshot does not hold pipeline state")


def upgrade(tree: Any) -> dict[str, Any]:
    """A snapshot tree of any known format as a format-3 component map."""
    out = migrate(format_of(tree), tree, FORMAT, MIGRATIONS, "pipeline state")
    if set(COMPONENTS) - set(out):
        raise SnapshotError("snapshot does not hold pipeline state "
                            f"(missing {', '.join(sorted(set(COMPONENTS) - set(out)))})")
    return dict(out)


def _attrs(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    try:
        return {name: vars(obj)[name] for name in names}
    except (KeyError, TypeError) as exc:
        raise SnapshotError(f"pipeline state: malformed {type(obj).__name__}") from exc


def _templater(obj: Any) -> dict[str, Any]:
    # Templaters of releases before the cache's byte budget lack its count (state 0).
    if "_cached_bytes" in getattr(obj, "__dict__", {}):
        return stamp(1, _attrs(obj, _TEMPLATER))
    return stamp(0, _attrs(obj, tuple(n for n in _TEMPLATER if n != "_cached_bytes")))


def _flat_to_components(st: dict[str, Any]) -> dict[str, Any]:
    """Format 1 -> 2: each component's fields under its own name, at version 1."""
    try:
        inc_open, inc_resolved, last_signal, counts = st["incidents"]
        first_window, watch, known = st["new_endpoint"]
        payload_clients, payload_routes = st["payload"]
        profiles = None if st["profiles"] is None else stamp(1, orjson.loads(st["profiles"]))
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"pipeline state: malformed ({str(exc)[:120]})") from None
    out = {
        "windows": stamp(1, {"open": st["open_windows"], "closed_upto": st["closed_upto"],
                             "min_open": st["min_open"], "next_close": st["next_close"],
                             "max_ts": st["max_ts"], "first_ts": st["first_ts"],
                             "last_version": st["last_version"]}),
        "series": stamp(1, {"keys": st["series_keys"], "states": st["series_states"],
                            "birth": st["series_birth"], "last": st["series_last"],
                            "awake": st["awake"], "sid_of": st["sid_of"],
                            "by_service": st["routes_by_service"]}),
        "templater": _templater(st["templater"]),
        "registry": stamp(1, _attrs(st["registry"], _REGISTRY)),
        "incidents": stamp(1, {"open": inc_open, "resolved": inc_resolved,
                               "last_signal": last_signal, "counts": counts}),
        "client_auth": stamp(1, {"decayed": st["client_auth"]}),
        "scanner": stamp(1, {"recent": st["scanner"]}),
        "new_endpoint": stamp(1, {"first_window": first_window, "watch": watch,
                                  "known": known}),
        "payload": stamp(1, {"_clients": payload_clients, "_routes": payload_routes}),
        "ua_benign": stamp(1, st["ua_benign"]),
        "profiles": profiles,
    }
    if "svc_first" in st:
        out["svc_first"] = stamp(1, st["svc_first"])
    return out


def _service_starts(st: dict[str, Any]) -> dict[str, Any]:
    """Format 2 -> 3: per-service first-event times where a snapshot predates them."""
    if "svc_first" in st:
        return st
    keys = unstamp(st.get("series"), 1, {}, "series")["keys"]
    first_ts = unstamp(st.get("windows"), 1, {}, "windows")["first_ts"]
    return {**st, "svc_first": stamp(1, dict.fromkeys((k.service for k in keys), first_ts))}


MIGRATIONS = {1: _flat_to_components, 2: _service_starts}
