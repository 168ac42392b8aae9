"""Pipeline state <-> a plain JSON tree (numbers, strings, lists, objects). No code, ever.

The state is plain data, but of more kinds than JSON has, so a JSON object with
exactly one key starting with ``$`` is a tagged value (any other object is a
dict with string keys; a string-keyed dict that would look tagged is wrapped in
``$d``):

=========  ======================================================
``$t``     tuple: ``[items]``
``$s``     set, ``$z`` frozenset: ``[items]``
``$q``     deque: ``[maxlen or null, [items]]``
``$c``     Counter, ``$o`` OrderedDict, ``$m`` dict with other keys:
           ``[k1, v1, k2, v2, ...]``
``$d``     dict with string keys: ``{...}``
``$b``     bytes: base64 text
``$f``     float that JSON lacks: ``"inf"``, ``"-inf"``, ``"nan"``
``$i``     int beyond 64 bits: decimal text
``$n``     numpy array: ``[dtype, shape, base64 bytes]`` (numeric dtypes only)
``$x``     an object of this package: ``[tag, fields]``
=========  ======================================================

Objects of this package are rebuilt only through :data:`CLASSES`, an explicit
table of exact classes by tag, field by field (NamedTuple fields in order,
slots or attributes by name, pydantic fields through validation). Nothing in
the data is ever imported or called: an unknown tag or field is an error.
"""

from __future__ import annotations

import base64
import math
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

import orjson


class CodecError(ValueError):
    """State that cannot be encoded, or data that is not a valid encoding."""


class _Cls(NamedTuple):
    cls: type
    kind: str  # "tuple" | "slots" | "dict" | "model"
    fields: tuple[str, ...]  # slots / model fields, in declaration order; () otherwise


# tag -> (module, class name). Add a class here when it becomes part of pipeline state;
# tests/pipeline/test_snapshot.py round-trips a real state and fails on anything missing.
_TABLE = {
    "events.AccessEvent": ("detector.events", "AccessEvent"),
    "events.DeploymentEvent": ("detector.events", "DeploymentEvent"),
    "events.BadRecord": ("detector.events", "BadRecord"),
    "detectors.SeriesKey": ("detector.detectors.base", "SeriesKey"),
    "detectors.SeriesWindow": ("detector.detectors.base", "SeriesWindow"),
    "detectors.Signal": ("detector.detectors.base", "Signal"),
    "detectors.RatioBaseline": ("detector.detectors.baselines.ratio", "RatioBaseline"),
    "detectors.CountBaseline": ("detector.detectors.baselines.count", "CountBaseline"),
    "detectors.LatencyBaseline": ("detector.detectors.baselines.latency", "LatencyBaseline"),
    "detectors.RatioSurgeState": ("detector.detectors.ratio_surge", "_State"),
    "detectors.TrafficState": ("detector.detectors.traffic", "_State"),
    "detectors.LatencyState": ("detector.detectors.latency_regression", "_State"),
    "detectors.CanaryState": ("detector.detectors.canary", "_State"),
    "detectors.DataExposureState": ("detector.detectors.data_exposure", "_State"),
    "detectors.AuthRouteState": ("detector.detectors.auth_route", "AuthRouteState"),
    "detectors.AuthorizationDriftState": ("detector.detectors.authorization_drift", "_State"),
    "detectors.ObjectWalk": ("detector.detectors.object_walk", "ObjectWalk"),
    "routes.Node": ("detector.routes.tree", "Node"),
    "routes.RouteTree": ("detector.routes.tree", "RouteTree"),
    "routes.RouteTemplater": ("detector.routes.templater", "RouteTemplater"),
    "deployments.Deployment": ("detector.deployments.registry", "Deployment"),
    "deployments.DeploymentRegistry": ("detector.deployments.registry", "DeploymentRegistry"),
    "incidents.Tracked": ("detector.incidents.manager", "_Tracked"),
    "incidents.DeploymentRef": ("detector.incidents.model", "DeploymentRef"),
    "incidents.Incident": ("detector.incidents.model", "Incident"),
    "verdict.WinAgg": ("detector.verdict.sides", "WinAgg"),
    "verdict.Agg": ("detector.verdict.collect", "Agg"),
}


def _describe(cls: type) -> _Cls:
    from pydantic import BaseModel

    if issubclass(cls, BaseModel):
        return _Cls(cls, "model", tuple(cls.model_fields))
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return _Cls(cls, "tuple", ())
    slots = [s for c in cls.__mro__ for s in c.__dict__.get("__slots__", ())]
    instance_dict = any("__slots__" not in c.__dict__ for c in cls.__mro__ if c is not object)
    if not instance_dict:
        return _Cls(cls, "slots", tuple(dict.fromkeys(slots)))
    if cls.__new__ is not object.__new__:
        raise CodecError(f"{cls.__qualname__}: a custom __new__ cannot be rebuilt field by field")
    return _Cls(cls, "dict", ())


@cache
def classes() -> tuple[dict[str, _Cls], dict[type, str]]:
    """(tag -> class description, class -> tag), imported from :data:`_TABLE` once."""
    import importlib

    by_tag = {tag: _describe(getattr(importlib.import_module(mod), name))
              for tag, (mod, name) in _TABLE.items()}
    return by_tag, {d.cls: tag for tag, d in by_tag.items()}


def legacy_names() -> frozenset[tuple[str, str]]:
    """The exact (module, name) pairs of :data:`_TABLE`: what a DETSNAP1 pickle may name."""
    return frozenset(_TABLE.values())


_LO, _HI = -(2**63), 2**64
_PRIM = frozenset({str, bool, type(None)})
_SCALARS = _PRIM | {int, float}
_INT, _FLOAT = {int}, {float}


def _prim(x: Any) -> bool:
    t = type(x)
    return (t in _PRIM or (t is int and _LO <= x < _HI)
            or (t is float and x - x == 0.0))  # x - x is nan for inf and nan


def _plain(xs: Any) -> bool:
    """Whether every item of ``xs`` is JSON as it is (checked in C where possible: hot path)."""
    ts = set(map(type, xs))
    if ts <= _PRIM:
        return True
    if not ts <= _SCALARS:
        return False
    if ts == _INT:
        return bool(min(xs) >= _LO and max(xs) < _HI)
    if ts == _FLOAT:
        return all(map(math.isfinite, xs))
    return all(map(_prim, xs))


def encode(o: Any) -> Any:
    """``o`` as a JSON-compatible tree (CodecError on a type that is not state).

    >>> encode({"a": (1, float("inf")), 2: {3}})
    {'$m': ['a', {'$t': [1, {'$f': 'inf'}]}, 2, {'$s': [3]}]}
    """
    t = type(o)
    if t is str or t is bool or o is None:
        return o
    if t is int:
        return o if _LO <= o < _HI else {"$i": str(o)}
    if t is float:
        return o if o - o == 0.0 else {"$f": repr(o)}
    if t is list:
        return o if _plain(o) else [encode(x) for x in o]
    if t is dict:
        if all(type(k) is str for k in o):
            d = {k: encode(v) for k, v in o.items()}
            return {"$d": d} if len(d) == 1 and next(iter(d)).startswith("$") else d
        return {"$m": _pairs(o)}
    enc = _ENCODERS.get(t)
    if enc is not None:
        return enc(o)
    return _encode_other(o)


def _items(xs: Any) -> list[Any]:
    return list(xs) if _plain(xs) else [encode(x) for x in xs]


def _set_items(xs: Any) -> list[Any]:
    """A set's items in a fixed order: the same set gives the same bytes whatever its
    insertion history (a restored set iterates in another order than the original)."""
    items = _items(xs)
    try:
        return sorted(items)
    except TypeError:  # mixed or unorderable items: order by their JSON text
        return sorted(items, key=orjson.dumps)


def _pairs(d: Any) -> list[Any]:
    out: list[Any] = []
    for k, v in d.items():
        out.append(encode(k))
        out.append(encode(v))
    return out


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    tuple: lambda o: {"$t": _items(o)},
    set: lambda o: {"$s": _set_items(o)},
    frozenset: lambda o: {"$z": _set_items(o)},
    deque: lambda o: {"$q": [o.maxlen, _items(o)]},
    Counter: lambda o: {"$c": _pairs(o)},
    OrderedDict: lambda o: {"$o": _pairs(o)},
    bytes: lambda o: {"$b": base64.b64encode(o).decode("ascii")},
}


def _encode_other(o: Any) -> Any:
    t = type(o)
    if t.__module__ == "numpy":
        return _encode_numpy(o)
    by_tag, tags = classes()
    tag = tags.get(t)
    if tag is None:
        raise CodecError(f"cannot snapshot a {t.__module__}.{t.__qualname__} "
                         "(not a state type: add it to detector/state/codec.py _TABLE)")
    d = by_tag[tag]
    if d.kind == "tuple":
        return {"$x": [tag, _items(o)]}
    if d.kind == "dict":
        return {"$x": [tag, {k: encode(v) for k, v in vars(o).items()}]}
    out = {}
    for name in d.fields:
        v = getattr(o, name, _UNSET)
        if v is not _UNSET:
            out[name] = encode(v)
    return {"$x": [tag, out]}


_UNSET = object()


def _encode_numpy(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.ndarray) and o.dtype.kind in "biufc":
        data = base64.b64encode(np.ascontiguousarray(o).tobytes()).decode("ascii")
        return {"$n": [o.dtype.str, list(o.shape), data]}
    if isinstance(o, np.generic) and o.dtype.kind in "biufc":
        return encode(o.item())
    raise CodecError(f"cannot snapshot a numpy {type(o).__name__} of dtype {o.dtype}")


def decode(tree: Any) -> Any:
    """Inverse of :func:`encode`; CodecError on anything :func:`encode` does not write.

    >>> decode(encode({"a": (1, float("inf")), 2: {3}}))
    {'a': (1, inf), 2: {3}}
    >>> decode({"$x": ["os.system", ["id"]]})
    Traceback (most recent call last):
    ...
    detector.state.codec.CodecError: unknown object tag 'os.system'
    """
    t = type(tree)
    if t is list:
        ts = set(map(type, tree))
        return [decode(x) for x in tree] if dict in ts or list in ts else tree
    if t is not dict:
        return tree  # str, int, float, bool, None: orjson makes nothing else
    if len(tree) == 1:
        (k, v), = tree.items()
        if k.startswith("$"):
            dec = _DECODERS.get(k)
            if dec is None:
                raise CodecError(f"unknown tag {k!r}")
            try:
                return dec(v)
            except CodecError:
                raise
            except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
                raise CodecError(f"malformed {k} value ({type(exc).__name__}: {exc})") from None
    ts = set(map(type, tree.values()))
    return {k: decode(v) for k, v in tree.items()} if dict in ts or list in ts else tree


def _list(v: Any) -> list[Any]:
    if type(v) is not list:
        raise CodecError("a tagged value holds a list")
    ts = set(map(type, v))
    return [decode(x) for x in v] if dict in ts or list in ts else v


def _pairs_of(v: Any) -> list[tuple[Any, Any]]:
    xs = _list(v)
    if len(xs) % 2:
        raise CodecError("odd number of items in a mapping")
    return list(zip(xs[::2], xs[1::2], strict=True))


def _float(v: Any) -> float:
    if v not in ("inf", "-inf", "nan"):
        raise CodecError(f"bad float {str(v)[:20]!r}")
    return float(v)


def _bigint(v: Any) -> int:
    if type(v) is not str or not 0 < len(v) <= 400:  # bounded: int() of huge text is slow
        raise CodecError("bad integer")
    return int(v)


def _deque(v: Any) -> deque[Any]:
    maxlen, items = v
    if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
        raise CodecError("bad deque maxlen")
    return deque(_list(items), maxlen)


def _numpy(v: Any) -> Any:
    import numpy as np

    dtype, shape, data = v
    dt = np.dtype(str(dtype))
    if dt.kind not in "biufc" or type(shape) is not list or not all(type(n) is int for n in shape):
        raise CodecError("bad numpy array")
    return np.frombuffer(base64.b64decode(data, validate=True), dtype=dt).reshape(shape).copy()


def _object(v: Any) -> Any:
    tag, fields = v
    d = classes()[0].get(tag) if type(tag) is str else None
    if d is None:
        raise CodecError(f"unknown object tag {str(tag)[:60]!r}")
    if d.kind == "tuple":
        return d.cls(*_list(fields))
    if type(fields) is not dict:
        raise CodecError(f"{tag}: fields are not a mapping")
    if d.kind == "model":
        from pydantic import ValidationError

        try:
            return d.cls.model_validate({k: decode(x) for k, x in fields.items()})  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise CodecError(f"{tag}: {exc.errors()[0].get('msg', 'invalid')}") from None
    obj: Any = object.__new__(d.cls)
    for name, x in fields.items():
        # Slots: only the class's own. Plain attributes: never a dunder (no __class__ games).
        if (name not in d.fields) if d.kind == "slots" else (
                not name.isidentifier() or name.startswith("__")):
            raise CodecError(f"{tag}: unknown field {name[:60]!r}")
        object.__setattr__(obj, name, decode(x) if type(x) is dict or type(x) is list else x)
    return obj


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$t": lambda v: tuple(_list(v)),
    "$s": lambda v: set(_list(v)),
    "$z": lambda v: frozenset(_list(v)),
    "$q": _deque,
    "$c": lambda v: Counter(dict(_pairs_of(v))),
    "$o": lambda v: OrderedDict(_pairs_of(v)),
    "$m": lambda v: dict(_pairs_of(v)),
    "$d": lambda v: {k: decode(x) for k, x in v.items()},
    "$b": lambda v: base64.b64decode(v, validate=True),
    "$f": _float,
    "$i": _bigint,
    "$n": _numpy,
    "$x": _object,
}
