"""Format name -> decoder factory, and format detection from a source's first records."""

from __future__ import annotations

from collections.abc import Callable

from detector.decoding.alb import AlbDecoder
from detector.decoding.base import DecodeError, Decoder
from detector.decoding.clf import ClfDecoder
from detector.decoding.envoy import EnvoyDecoder
from detector.decoding.nginx_json import NginxJsonDecoder
from detector.decoding.otel import OtelDecoder
from detector.decoding.wsgi import WsgiDecoder
from detector.events import AccessEvent

# Order matters only to break ties in detect_format: more specific formats first.
_FACTORIES: dict[str, Callable[[str], Decoder]] = {
    "otel": OtelDecoder,
    "nginx_json": NginxJsonDecoder,
    "envoy": EnvoyDecoder,
    "clf": ClfDecoder,
    "alb": AlbDecoder,
    "wsgi": WsgiDecoder,
}
FORMATS: tuple[str, ...] = tuple(_FACTORIES)
DETECT_LINES = 20  # non-empty sample lines looked at by detect_format


def make_decoder(fmt: str, default_service: str = "default") -> Decoder:
    """A fresh decoder for one source (decoders learn per-source key layouts and cache times).

    >>> make_decoder("clf", "www").name
    'clf'
    """
    factory = _FACTORIES.get(fmt)
    if factory is None:
        raise DecodeError(f"unknown format: {fmt!r} (expected one of {', '.join(FORMATS)})")
    return factory(default_service)


def detect_format(samples: list[bytes]) -> str:
    """The format most of the sample lines decode as; deployments and garbage do not vote.

    >>> detect_format([b'{"type": "deployment"}', b'not a log line',
    ...                b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 5'])
    'clf'
    """
    decoders = [make_decoder(fmt) for fmt in FORMATS]
    votes = dict.fromkeys(FORMATS, 0)
    seen = 0
    for raw in samples:
        line = raw.strip()
        if not line:
            continue
        seen += 1
        if seen > DETECT_LINES:
            break
        for decoder in decoders:
            try:
                event = decoder.decode(line, "detect", seen)
            except DecodeError:
                continue
            if type(event) is AccessEvent:
                votes[decoder.name] += 1
    best = max(FORMATS, key=votes.__getitem__)  # max keeps the first of equal counts
    if votes[best] == 0:
        raise DecodeError(
            f"unknown format: none of the {min(seen, DETECT_LINES)} sample lines decodes "
            f"as {', '.join(FORMATS)}"
        )
    return best
