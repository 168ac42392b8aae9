"""Shape tables: every id shape collapses, words and version tags stay literal."""

from __future__ import annotations

import base64
import random

import pytest

from detector.routes.shapes import ID, is_id, shape

IDS = [
    "0", "42", "1234567890123",                                   # integers
    "550e8400-e29b-41d4-a716-446655440000",                       # uuid
    "550E8400-E29B-41D4-A716-446655440000",                       # uuid, upper case
    "550e8400e29b41d4a716446655440000",                           # uuid without dashes
    "deadbeef1", "0x1f", "3f2a9c1b",                              # hex >= 8 with a digit
    "d41d8cd98f00b204e9800998ecf8427e",                           # md5
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",                   # sha1
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256
    "eyJhbGciOiJIUzI1NiJ9", "dGhpcyBpcyBhIHRlc3Q", "Zm9vYmFyYmF6cXV4-_Ab",  # base64(url)
    "SKU-19786", "ord_8f3k2", "A12-B34", "ORD-42", "INV-2024-0001", "user-12345",
    "cus_9s6XKzkNRiz8i3", "dQw4w9WgXcQ", "A1234567", "v20240101",   # random / digit-heavy
    "2026-03-17", "2026-03-17T09:06:00Z", "17.03.2026", "12:30",    # dates, times
    "john@example.com", "first.last+tag@mail.example.org",          # emails
    "10.0.0.1", "192.168.100.254", "2001:db8::1",                   # ip addresses
    "+1-555-123-4567", "(555)123-4567", "555.123.4567",             # phone numbers
    "1.2", "1.2.3", "-1",                                           # numeric-ish
    "{userId}", "{id}",                                             # unfilled client templates
    "\x00", "a\x1bb", "\udcff",                                     # not printable: never words
]  # fmt: skip

LITERALS = [
    "v1", "v2", "V3", "v1.2", "v2.0.1", "v2beta", "v1alpha1",      # short version tags
    "api", "me", "self", "login", "logout", "health", "healthz", "search", "users",
    "orders", "red-shoes", "red_shoes", "RedShoes", "getUserProfileData",
    "XMLHttpRequestHandler", "deadbeef", "facade", "decade",        # hex letters, no digit
    "oauth2", "oauth2callback", "utf8mb4", "x86_64", "api-v2", "h264", "h264-stream",
    "covid-19", "top-10", "iso-8601", "utf-8", "UTF-8", "2fa", "k8s", "i18n", "s3", "mp4",
    "index.html", "favicon.ico", "robots.txt", "jquery-3.6.0.min.js", "report-2024.pdf",
    "report-2024", "café", "поиск", "red shoes", ".well-known", "..", ".",
    "@alice", "wp-login.php", ".env",
]  # fmt: skip


@pytest.mark.parametrize("seg", IDS)
def test_ids_collapse(seg: str) -> None:
    assert shape(seg) == ID


@pytest.mark.parametrize("seg", LITERALS)
def test_words_stay_literal(seg: str) -> None:
    assert shape(seg) is None


@pytest.mark.parametrize(
    ("seg", "expected"),
    [
        ("3f2a9c1be9d04c7a5b6e7f8091a2b3c4d5e6f708.png", "{id}.png"),
        ("d41d8cd98f00b204e9800998ecf8427e.jpg", "{id}.jpg"),
        ("app.3f2a9c1b.js", "{id}.js"),
        ("main.abcdef12.css", "{id}.css"),
        ("3f2a9c1be9d04c7a.tar.gz", "{id}.tar.gz"),
        ("12345.json", "{id}.json"),
        ("{id}.png", "{id}.png"),  # our own output is stable
        ("{id}.tar.gz", "{id}.tar.gz"),
        ("SKU-19786.pdf", "{id}.pdf"),
        ("john@example.com", "{id}"),  # .com is a domain, not an extension
    ],
)
def test_file_names_keep_their_extension(seg: str, expected: str) -> None:
    assert shape(seg) == expected


@pytest.mark.parametrize(
    ("seg", "expected"),
    [
        ("%31%32%33", ID),  # 123
        ("john%40example.com", ID),
        ("%00", ID),
        ("caf%C3%A9", None),  # café: a word, kept as received by the templater
        ("red%20shoes", None),
        ("%zz", None),
    ],
)
def test_percent_encoded_segments_are_judged_decoded(seg: str, expected: str | None) -> None:
    assert shape(seg) == expected


def test_random_tokens_are_ids() -> None:
    r = random.Random(3)
    tokens = [base64.urlsafe_b64encode(r.randbytes(r.randint(12, 48))).decode() for _ in range(999)]
    tokens += [r.randbytes(r.randint(4, 32)).hex() for _ in range(2000)]
    misses = [t for t in tokens if not is_id(t.rstrip("="))]
    assert len(misses) <= len(tokens) // 200, misses[:10]
