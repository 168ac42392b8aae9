"""clf, alb and wsgi lines."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.decoding.conftest import T, decode
from tests.decoding.samples import ALB, WSGI

CLF_TIME = "[17/Mar/2026:09:06:00 +0000]"


def test_common_log_format() -> None:
    e = decode("clf", f'127.0.0.1 - frank {CLF_TIME} "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326\n')
    assert e == (
        T,
        "svc",
        None,
        "GET",
        "/apache_pb.gif",
        "x=1",
        200,
        None,
        2326,
        "127.0.0.1",
        "",
        None,
        None,
        "test.log",
        7,
        None,
    )


def test_combined_with_request_time_and_escaped_quote() -> None:
    line = (
        f'10.0.0.1 - - {CLF_TIME} "POST /login HTTP/1.1" 401 12 "https://ref/" '
        f'"Mozilla \\"quoted\\" 5.0" 0.123\r\n'
    )
    e = decode("clf", line)
    assert (e.method, e.status, e.bytes, e.duration) == ("POST", 401, 12, 0.123)
    assert e.user_agent == 'Mozilla \\"quoted\\" 5.0'


def test_plain_clf_with_trailing_number_and_extra_fields() -> None:
    e = decode("clf", f'10.0.0.1 - - {CLF_TIME} "GET / HTTP/1.1" 304 0 0.5')
    assert (e.status, e.bytes, e.duration) == (304, 0, 0.5)
    e = decode("clf", f'10.0.0.1 - - {CLF_TIME} "GET / HTTP/1.1" 200 1 "-" "ua" 0.5 upstream=x')
    assert (e.duration, e.user_agent) == (0.5, "ua")


def test_nasa_hostname_http09_and_dashes() -> None:
    e = decode("clf", 'unicomp6.unicomp.net - - [01/Jul/1995:00:00:06 -0400] "GET /shuttle/" 200 -')
    assert (e.client, e.path, e.bytes, e.ts) == (
        "unicomp6.unicomp.net",
        "/shuttle/",
        None,
        804571206.0,
    )
    e = decode("clf", f'h - - {CLF_TIME} "GET /a b.html HTTP/1.0" - 5')
    assert (e.path, e.status) == ("/a b.html", None)


def test_alb() -> None:
    e = decode("alb", ALB)
    assert e == (
        T,
        "svc",
        None,
        "GET",
        "/api/x",
        "y=1",
        200,
        pytest.approx(0.049),
        366,
        "192.168.131.39",
        "curl/7.46.0",
        None,
        "Root=1-58337281-1d84f3d73c47ec4e58577259",
        "test.log",
        7,
        None,
    )


def test_alb_minimal_and_unreachable_target() -> None:
    line = (
        "http 2026-03-17T09:06:00Z app/lb/1 10.0.0.9:1 - -1 -1 -1 502 - 0 0 "
        '"POST http://h/p HTTP/1.1" "-"'
    )
    e = decode("alb", line)
    assert (e.status, e.duration, e.path, e.user_agent, e.request_id) == (502, None, "/p", "", None)


def test_wsgi() -> None:
    e = decode("wsgi", WSGI, service="nova")
    assert e == (
        1494892800.008,
        "nova",
        None,
        "GET",
        "/v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail",
        "all=1",
        200,
        0.2477829,
        1893,
        "10.11.10.1",
        "",
        None,
        "req-38101a0b-2096-447d-96ea-a692162415ae",
        "test.log",
        7,
        None,
    )
    bare = WSGI.split(" ", 1)[1]  # without loghub's file-name prefix
    assert decode("wsgi", bare).path == e.path


# The quoted-field pattern before it was unrolled: one alternation per character.
_OLD_QUOTED = r'"((?:[^"\\]|\\.)*)"'


@settings(max_examples=300, deadline=None)
@given(request=st.text(alphabet='a"\\ /?x\n\r', max_size=12),
       tail=st.text(alphabet='a"\\ -0.5', max_size=12))
def test_unrolled_quoted_fields_match_as_before(request: str, tail: str) -> None:
    """The unrolled quoted-field pattern takes the same lines, with the same groups."""
    from detector.decoding import alb, clf

    old_clf = re.compile(clf._CLF.pattern.replace(clf.QUOTED, _OLD_QUOTED), re.DOTALL)
    old_alb = re.compile(alb._ALB.pattern.replace(clf.QUOTED, _OLD_QUOTED), re.DOTALL)
    assert old_clf.pattern != clf._CLF.pattern and old_alb.pattern != alb._ALB.pattern
    for line in (f'h - - [t] "{request}" 200 5 "{tail}" "{request}"{tail}',
                 f'h - - [t] "{request}" 200 5{tail}',
                 f'https t e c:1 t:2 0.1 0.2 0.3 200 200 1 2 "GET / H" "{request}"{tail}',
                 f'https t e c:1 t:2 0.1 0.2 0.3 200 200 1 2 "GET / H" "{request}" a b c '
                 f'"{tail}"'):
        for new, old in ((clf._CLF, old_clf), (alb._ALB, old_alb)):
            a, b = new.match(line), old.match(line)
            assert (a and a.groups()) == (b and b.groups()), line
