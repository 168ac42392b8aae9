"""Shared shell of the JSON decoders: load, route deployments, safety net, fast path.

Each JSON format has a generic path that understands every alias and oddity, and
a fast path for the layout most records of a source share: one ``itemgetter``
call fetches the format's core keys, and a handful of type checks confirm the
values are already canonical. Anything unusual falls back to the generic path,
so both paths give the same event for the same record (tests check this).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from orjson import JSONDecodeError, loads

from detector.decoding._common import (
    fail,
    internal_error,
    load_object,
    opt_text,
    to_body,
    to_method,
)
from detector.decoding.base import MAX_LINE_BYTES, DecodeError
from detector.decoding.deployment import parse_deployment
from detector.decoding.timestamps import TimestampParser
from detector.events import AccessEvent, DeploymentEvent

Getter = Callable[[str], Any]

_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT")
FAST_MISS_LIMIT = 32  # records without the core keys before a source stops trying the fast path


class JsonDecoder:
    """Base of the JSON formats.

    Subclasses set ``name``, ``time_keys`` and ``core_keys`` and write ``_generic``
    (every record) and ``_fast`` (core values in ``core_keys`` order; None = not
    canonical, use ``_generic``).
    """

    name = "json"
    time_keys: tuple[str, ...] = ("timestamp",)
    core_keys: tuple[str, ...] = ()
    __slots__ = (
        "default_service",
        "_parser",
        "_parse_ts",
        "_time_key",
        "_methods",
        "_core",
        "_misses",
    )

    def __init__(self, default_service: str = "default") -> None:
        self.default_service = default_service
        self._parser = TimestampParser()
        self._parse_ts = self._parser.parse
        # The key this source uses for event time, learned from its first record,
        # so later records hit it first instead of walking the alias list.
        self._time_key = self.time_keys[0]
        # Raw method value -> canonical method: one dict lookup instead of three
        # str method calls per event.
        self._methods: dict[str, str] = {m: m for m in _METHODS}
        self._methods.update((m.lower(), m) for m in _METHODS)
        self._core: Callable[[dict[str, Any]], tuple[Any, ...]] | None = (
            itemgetter(*self.core_keys) if len(self.core_keys) > 1 else None
        )
        self._misses = 0

    def decode(self, raw: bytes, source: str, offset: int) -> AccessEvent | DeploymentEvent:
        """Decode one JSON record; raise DecodeError on anything unusable."""
        try:
            obj = loads(raw) if len(raw) <= MAX_LINE_BYTES else None
            if type(obj) is dict:
                core = self._core
                if core is not None:
                    try:
                        values = core(obj)
                    except KeyError:
                        values = None
                    if values is not None:
                        # A record carrying every core access key is an access record.
                        event = self._fast(values, obj, source, offset)
                        if event is not None:
                            return event
                    else:
                        self._missed()
                return self._slow(obj, source, offset)
            return self._slow(load_object(raw), source, offset)
        except JSONDecodeError:
            return self._slow(load_object(raw), source, offset)  # re-raises with a short reason
        except DecodeError:
            raise
        except Exception as e:  # safety net: whatever the bytes, only DecodeError escapes
            raise internal_error(e) from e

    def _missed(self) -> None:
        self._misses += 1
        if self._misses > FAST_MISS_LIMIT:
            self._core = None  # this source has another layout: stop paying for the miss

    def _slow(self, obj: dict[str, Any], source: str, offset: int) -> AccessEvent | DeploymentEvent:
        try:
            if obj.get("type") == "deployment":
                return parse_deployment(obj, source, offset, self._parser)
            return self._generic(obj, source, offset)
        except DecodeError:
            raise
        except Exception as e:
            raise internal_error(e) from e

    def _fast(
        self, values: tuple[Any, ...], obj: dict[str, Any], source: str, offset: int
    ) -> AccessEvent | None:
        return None

    def _generic(self, obj: dict[str, Any], source: str, offset: int) -> AccessEvent:
        raise NotImplementedError

    def service_version(self, get: Getter) -> tuple[str, str | None]:
        """Service (record, else the source default) and version, as any JSON format has them."""
        service = get("service")
        if type(service) is not str or not service:
            service = opt_text(get("service.name")) or self.default_service
        version = get("version")
        if version is None:
            version = get("service.version")
        return service, (opt_text(version) if version is not None else None)

    @staticmethod
    def body_and_id(get: Getter, body_keys: tuple[str, ...]) -> tuple[str | None, str | None]:
        """Request body sample (first key present, in this format's order) and request id."""
        body = None
        for key in body_keys:
            body = get(key)
            if body is not None:
                break
        request_id = get("request_id")
        return (to_body(body) if body is not None else None,
                opt_text(request_id) if request_id is not None else None)

    def event_time(self, get: Getter) -> float:
        """Event time under the learned key, else any alias (then remembered)."""
        v = get(self._time_key)
        if v is None:
            for key in self.time_keys:
                v = get(key)
                if v is not None:
                    self._time_key = key
                    break
            else:
                fail("missing timestamp")
        return self._parse_ts(v)

    def method(self, v: object, field: str) -> str:
        """Canonical method, through the memo of values already seen."""
        try:
            return self._methods[v]  # type: ignore[index]
        except (KeyError, TypeError):  # TypeError: unhashable JSON value
            m = to_method(v, field)
        if type(v) is str and len(self._methods) < 256:
            self._methods[v] = m
        return m
