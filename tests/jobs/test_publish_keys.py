"""The Kafka key of a line: the service the real decoder gives, found without decoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.decoding import DecodeError
from detector.jobs.publish_keys import ServiceKeyer

FLAT = (b'{"timestamp": "2026-03-20T00:00:0%dZ", "service.name": "%s", '
        b'"http.request.method": "GET", "url.path": "/a", "http.response.status_code": 200}')
NESTED = (b'{"timestamp": "2026-03-20T00:00:00Z", "service": {"name": "%s", "version": "1"}, '
          b'"http": {"request": {"method": "GET"}, "response": {"status_code": 200}}, '
          b'"url": {"path": "/a"}}')
CLF = b'1.2.3.4 - - [10/Oct/2026:13:55:3%d +0000] "GET /x HTTP/1.1" 200 5'
NGINX = (b'{"time_iso8601": "2026-03-20T00:00:00+00:00", "remote_addr": "1.2.3.4", '
         b'"request": "GET /a HTTP/1.1", "status": 200, "body_bytes_sent": 5, '
         b'"request_time": 0.01}')


def test_flat_json_keys_by_the_service_field_on_the_fast_path() -> None:
    k = ServiceKeyer("a.log", [FLAT % (1, b"shop"), FLAT % (2, b"cart")])
    assert k.fast and k.carries_service
    assert k.key(FLAT % (3, b"billing")) == b"billing"


def test_nested_service_name_is_found() -> None:
    k = ServiceKeyer("a.log", [NESTED % b"orders"])
    assert k.fast and k.key(NESTED % b"search") == b"search"


def test_a_line_without_a_match_is_decoded_and_a_broken_one_is_none() -> None:
    k = ServiceKeyer("a.log", [FLAT % (1, b"shop")])
    spaced = FLAT.replace(b'"service.name": ', b'"service.name"  :\t') % (1, b"cart")
    assert k.key(spaced) == b"cart"  # the regex allows spaces; a broken line does not decode
    assert k.key(b'{"timestamp": "2026-03-20T00:00:00Z"') is None


def test_text_formats_and_json_without_service_take_the_default() -> None:
    clf = ServiceKeyer("a.log", [CLF % i for i in range(3)], default="www")
    assert not clf.carries_service and clf.key(CLF % 4) == b"www"
    nginx = ServiceKeyer("a.log", [NGINX], default="www")
    assert not nginx.carries_service and nginx.key(NGINX) == b"www"


def test_fast_path_refused_when_the_pattern_disagrees_with_the_decoder() -> None:
    # A nested "service" the decoder ignores comes before the real one.
    both = (b'{"timestamp": "2026-03-20T00:00:00Z", "labels": {"service": "z"}, '
            b'"service.name": "a", "http.request.method": "GET", "url.path": "/", '
            b'"http.response.status_code": 200}')
    k = ServiceKeyer("a.log", [both])
    assert not k.fast
    assert k.key(both) == b"a"  # decoded for real: what the consumer will see


def test_timed_gives_event_time_and_key() -> None:
    k = ServiceKeyer("a.log", [FLAT % (1, b"shop")])
    ts, key = k.timed(FLAT % (5, b"cart"))
    assert key == b"cart" and ts == pytest.approx(1773964805.0)
    assert k.timed(b"junk") == (float("-inf"), None)


def test_unknown_format_raises_before_anything_is_published() -> None:
    with pytest.raises(DecodeError):
        ServiceKeyer("a.log", [b"not a log line", b"neither"])


def test_cli_refuses_an_unknown_format_before_connecting(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from detector.cli.app import app

    f = tmp_path / "notes.txt"
    f.write_text("dear diary\nnothing to see\n")
    result = CliRunner().invoke(app, ["publish", str(f), "--topic", "t",
                                      "--bootstrap-servers", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "notes.txt" in result.stderr
    assert "--format" in result.stderr and "cannot publish" not in result.stderr


def test_cli_rejects_a_bad_rate(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from detector.cli.app import app

    f = tmp_path / "a.log"
    f.write_bytes(CLF % 1 + b"\n")
    result = CliRunner().invoke(app, ["publish", str(f), "--topic", "t", "--rate", "0"])
    assert result.exit_code == 2 and "--rate" in result.stderr
