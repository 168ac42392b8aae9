"""detect_format on synthetic samples (with noise) and on the real reference logs."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import orjson
import pytest

from detector.decoding import FORMATS, DecodeError, detect_format, make_decoder
from detector.events import AccessEvent
from tests.conftest import shared_path
from tests.decoding.samples import ALB, DEPLOY, ENVOY, NGINX, OTEL, WSGI

NESTED = {
    "@timestamp": "2026-03-17T09:06:00Z",
    "http": {"request": {"method": "GET"}},
    "url": {"path": "/a"},
    "source": {"ip": "10.0.0.1"},
}
CLF = '10.0.0.1 - - [17/Mar/2026:09:06:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" 0.01'
SAMPLES: dict[str, list[bytes]] = {
    "otel": [orjson.dumps(OTEL), orjson.dumps(NESTED)],
    "nginx_json": [orjson.dumps(NGINX)],
    "envoy": [orjson.dumps(ENVOY)],
    "clf": [CLF.encode()],
    "alb": [ALB.encode()],
    "wsgi": [WSGI.encode()],
}
NOISE = [
    b"",
    b"   ",
    b"garbage line",
    b'{"half": ',
    orjson.dumps(DEPLOY),
    b"\xff\xfe\x00",
    b"[1,2]",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_detects_each_format_among_noise(fmt: str) -> None:
    good = SAMPLES[fmt] * 4
    mixed = [x for pair in zip(good, NOISE, strict=False) for x in pair] + good[len(NOISE) :]
    assert detect_format(mixed) == fmt
    assert detect_format(good[:1]) == fmt


def test_majority_wins() -> None:
    assert detect_format(SAMPLES["clf"] * 6 + SAMPLES["alb"] * 3) == "clf"


def test_only_the_first_lines_count() -> None:
    assert detect_format(SAMPLES["envoy"] * 20 + SAMPLES["otel"] * 100) == "envoy"


def test_unknown() -> None:
    with pytest.raises(DecodeError, match="^unknown format"):
        detect_format(NOISE)
    with pytest.raises(DecodeError, match="^unknown format"):
        detect_format([])


def _lines(path: Path) -> list[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return f.read().splitlines()


REAL = [
    (("access_logs", "apache_logs.log"), "clf"),
    (("access_logs", "nasa_ksc_1995", "NASA_access_log_small.gz"), "clf"),
    (("access_logs", "loghub_openstack", "OpenStack_2k.log"), "wsgi"),
]


@pytest.mark.parametrize(("parts", "fmt"), REAL, ids=[p[-1] for p, _ in REAL])
def test_real_files(parts: tuple[str, ...], fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(shared_path(*parts))
    assert detect_format(lines[:20]) == fmt
    decoder = make_decoder(fmt, "real")
    ok = 0
    reasons: Counter[str] = Counter()
    for i, raw in enumerate(lines, 1):
        try:
            event = decoder.decode(raw, parts[-1], i)
        except DecodeError as e:  # any other exception fails the test
            assert not e.reason.startswith("internal error"), (i, raw, e.reason)
            reasons[e.reason.split(":")[0]] += 1
            continue
        assert isinstance(event, AccessEvent)
        ok += 1
    with capsys.disabled():
        print(f"\n{parts[-1]}: {ok}/{len(lines)} decoded, errors {dict(reasons)}")
    assert ok >= 0.9 * len(lines) if fmt == "clf" else ok > 900
