"""Signature engine: rule examples on both backends, benign lookalikes, hostile input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.analysis.backends import available_backends
from detector.analysis.rules import CATEGORIES, LOCATIONS, Rule, load_rules
from detector.analysis.signatures import SignatureEngine, header_values
from tests.conftest import shared_path

RULES = load_rules()
BACKENDS = available_backends()
LOOKALIKES = (
    Path(__file__).resolve().parents[2]
    / "detector" / "analysis" / "rules" / "corpus" / "benign_lookalikes.yaml"
)  # fmt: skip


@pytest.fixture(scope="module", params=BACKENDS)
def engine4(request: pytest.FixtureRequest) -> SignatureEngine:
    return SignatureEngine.default(paranoia=4, backend=request.param)


@pytest.fixture(scope="module")
def engine() -> SignatureEngine:
    return SignatureEngine.default(paranoia=2)


def _example_location(rule: Rule) -> str:
    return "query" if "query" in rule.locations else rule.locations[0]


def test_rules_are_well_formed() -> None:
    assert len({r.id for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.category in CATEGORIES and 1 <= r.paranoia <= 4
        assert set(r.locations) <= set(LOCATIONS)
        assert r.match and r.no_match, f"{r.id} needs positive and negative examples"


def test_both_backends_available() -> None:
    assert "re2" in BACKENDS
    assert SignatureEngine.default().backend in ("hyperscan", "re2")


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_examples(engine4: SignatureEngine, rule: Rule) -> None:
    loc = _example_location(rule)
    for text in rule.match:
        ids = {h.rule_id for h in engine4.scan_text(text, loc)}
        assert rule.id in ids, f"{engine4.backend}: {rule.id} should match {text!r}"
    for text in rule.no_match:
        ids = {h.rule_id for h in engine4.scan_text(text, loc)}
        assert rule.id not in ids, f"{engine4.backend}: {rule.id} should not match {text!r}"


def test_backends_agree_on_all_examples() -> None:
    if len(BACKENDS) < 2:
        pytest.skip("hyperscan not installed: only RE2 to compare")
    a, b = (SignatureEngine.default(paranoia=4, backend=name) for name in ("hyperscan", "re2"))
    for r in RULES:
        loc = _example_location(r)
        for text in r.match + r.no_match:
            assert a.scan_text(text, loc) == b.scan_text(text, loc), (r.id, text)


def test_lookalikes_stay_benign(engine: SignatureEngine) -> None:
    corpus = yaml.safe_load(LOOKALIKES.read_text())
    flagged = []
    for s in corpus["query"]:
        if hits := engine.scan_request("GET", "/search", "q=" + quote_plus(s), None, "Mozilla/5.0"):
            flagged.append((s, hits))
    for s in corpus["path"]:
        if hits := engine.scan_request("GET", s, "", None, "Mozilla/5.0"):
            flagged.append((s, hits))
    for s in corpus["body"]:
        if hits := engine.scan_request("POST", "/api/items", "", s, "Mozilla/5.0"):
            flagged.append((s, hits))
    for h in corpus["header"]:
        if hits := engine.scan_request("GET", "/", "", None, "Mozilla/5.0", h):
            flagged.append((str(h), hits))
    assert not flagged


def test_paranoia_filters_rules() -> None:
    low = SignatureEngine.default(paranoia=1)
    assert all(r.paranoia == 1 for r in low.rules)
    assert len(SignatureEngine.default(paranoia=4).rules) == len(RULES)
    # a PL2-only shape fires at 2, not at 1
    assert not low.scan_text("RAND(")
    assert SignatureEngine.default(paranoia=2).scan_text("RAND(")


def test_scan_request_locations(engine: SignatureEngine) -> None:
    hits = engine.scan_request(
        "POST", "/.env", "id=1%27%20union%20select%201--", '{"q": "<script>alert(1)</script>"}',
        "sqlmap/1.7",
    )  # fmt: skip
    assert {(h.category, h.location) for h in hits} >= {
        ("sensitive_file", "path"), ("sqli", "query"), ("xss", "body"), ("scanner", "user_agent"),
    }  # fmt: skip


def test_scan_request_headers(engine: SignatureEngine) -> None:
    # positional calls without headers keep working
    assert engine.scan_request("GET", "/", "", None, "Mozilla/5.0") == []
    attacks = {
        "Cookie": "sid=abc; pref=1%27%20union%20select%20password%20from%20users--",
        "Referer": "/etc/shadow",
        "X-Filename": "shell.php5",
        "X-Custom": "() { :;}; /bin/bash -c id",
    }
    hits = engine.scan_request("GET", "/", "", None, "Mozilla/5.0", attacks)
    assert {h.location for h in hits} == {"header"}
    assert {h.category for h in hits} >= {"sqli", "path_traversal", "php", "cmdi"}
    # cookie names are scanned too (CRS puts Java class names there)
    hits = engine.scan_request("GET", "/", "", None, "", {"Cookie": "java.lang.Runtime=test"})
    assert {h.category for h in hits} == {"java"}
    # plumbing headers are not scanned
    quiet = {"Host": "x' or 1=1--", "Accept": "<script>", "Authorization": "Bearer ' or 1=1--"}
    assert engine.scan_request("GET", "/", "", None, "", quiet) == []


def test_header_values_splitting() -> None:
    vals = header_values({"Cookie": "a=1; b=x%27y; c", "Host": "h", "X-File-Name": "a.txt"})
    assert vals == ["1", "x%27y", 'filename="a.txt"']
    assert header_values({"User-Agent": "ua"}) == []
    assert header_values({"User-Agent": "ua"}, skip_user_agent=False) == ["ua"]


def test_unknown_location_rejected(engine: SignatureEngine) -> None:
    with pytest.raises(ValueError):
        engine.scan_text("x", "cookie")


def test_hyperscan_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "hyperscan" not in BACKENDS:
        pytest.skip("hyperscan not installed")
    from detector.analysis.backends import HyperscanMatcher, cache_dir

    monkeypatch.setenv("DETECTOR_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    pats = ["union\\s+select", "<script", "/etc/passwd"]
    first = HyperscanMatcher(pats, cache_dir())
    second = HyperscanMatcher(pats, cache_dir())
    assert (first.source, second.source) == ("compiled", "cache")
    assert second.scan(b"1 UNION SELECT <script>") == {0, 1}
    # a different rule set never reuses the file
    assert HyperscanMatcher([*pats, "x"], cache_dir()).source == "compiled"
    # a tampered file (digest mismatch) is ignored and rewritten
    for f in (tmp_path / "c").glob("hs-*.db"):
        blob = bytearray(f.read_bytes())
        blob[-1] ^= 0xFF
        f.write_bytes(bytes(blob))
    assert HyperscanMatcher(pats, cache_dir()).source == "compiled"
    assert HyperscanMatcher(pats, cache_dir()).source == "cache"
    # garbage and an unwritable location fall back to compiling
    for f in (tmp_path / "c").glob("hs-*.db"):
        f.write_bytes(b"not a database")
    assert HyperscanMatcher(pats, cache_dir()).scan(b"<script") == {1}
    (tmp_path / "file").write_text("")  # a file where the cache dir should be
    assert HyperscanMatcher(pats, tmp_path / "file").scan(b"/etc/passwd") == {2}
    assert HyperscanMatcher(pats, tmp_path / "file" / "x").source == "compiled"
    monkeypatch.setenv("DETECTOR_CACHE_DIR", "")
    assert cache_dir() is None


KNOWN_IDS = {r.id for r in RULES}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=400),
        st.text(alphabet="%'\"()<>;|&$`{}[]\\/.*-#=+ uU0123456789abcdefx", max_size=400),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    ),
    st.sampled_from(LOCATIONS),
)
def test_hostile_text_never_raises(text: str, location: str) -> None:
    engine = SignatureEngine.default(paranoia=4)
    for h in engine.scan_text(text, location):
        assert h.rule_id in KNOWN_IDS and h.location == location


def test_large_hostile_input_completes() -> None:
    """Linear-time backends only; 1 MB of backtracking bait must simply finish (no timing)."""
    assert SignatureEngine.default().backend in ("hyperscan", "re2")
    engine = SignatureEngine(RULES, paranoia=4, max_field_chars=2 << 20)
    for bait in ("a" * 1_000_000 + "!", "'" * 1_000_000, "(" * 1_000_000, "%" * 1_000_000,
                 ("' or 1=1 " * 120_000), ("<a " * 350_000)):  # fmt: skip
        engine.scan_text(bait, "query")


# --- acceptance figures on the third-party reference data -------------------------------

CRS_CATS = {942, 941, 930, 931, 932, 933, 944, 934}


def _crs_rate(engine: SignatureEngine) -> float:
    path = shared_path("crs", "crs_regression_requests.jsonl.gz")
    hit = total = 0
    with gzip.open(path, "rt") as f:
        for line in f:
            d = json.loads(line)
            if d["category_id"] not in CRS_CATS or d["paranoia_level"] not in (1, 2):
                continue
            if d["expect_trigger"] is not True:
                continue
            p, _, q = (d["uri"] or "/").partition("?")
            headers = {str(k): str(v) for k, v in (d["headers"] or {}).items()}
            ua = next((v for k, v in headers.items() if k.lower() == "user-agent"), "")
            total += 1
            hits = engine.scan_request(d["method"] or "GET", p, q, d["body"], ua, headers)
            hit += bool(hits)
    return hit / total


def test_crs_detection_target(engine: SignatureEngine) -> None:
    """CRS regression attacks at PL1-2 (categories 930-934, 941, 942, 944), whole requests."""
    assert _crs_rate(engine) >= 0.90


PAYLOAD_FLOORS = {"sqli": 0.95, "lfi": 0.92, "path_traversal": 0.99, "xss": 0.68, "cmdi": 0.42}


def _payload_rates(engine: SignatureEngine) -> dict[str, float]:
    path = shared_path("payloads", "payloads_combined.jsonl.gz")
    hit: dict[str, int] = {}
    tot: dict[str, int] = {}
    with gzip.open(path, "rt") as f:
        for line in f:
            d = json.loads(line)
            c = d["category"]
            if c not in PAYLOAD_FLOORS:
                continue
            tot[c] = tot.get(c, 0) + 1
            q = "q=" + quote(d["payload"], safe="")
            hit[c] = hit.get(c, 0) + bool(engine.scan_request("GET", "/search", q, None, ""))
    return {c: hit.get(c, 0) / tot[c] for c in tot}


def test_payload_detection_floors(engine: SignatureEngine) -> None:
    rates = _payload_rates(engine)
    for cat, floor in PAYLOAD_FLOORS.items():
        assert rates[cat] >= floor, (cat, rates[cat])


@pytest.mark.parametrize("category", ["sqli", "lfi", "path_traversal"])
def test_payload_detection_target(engine: SignatureEngine, category: str) -> None:
    assert _payload_rates(engine)[category] >= 0.90


@pytest.mark.slow
@pytest.mark.xfail(
    reason="not reachable without flagging benign words: of 6,241 xss lines 1,090 are fuzzdb "
    "metadata ('Author Name: ha.ckers.org', 'Exploit Description: ...'), 424 bare event-handler "
    "names ('onload'), 207 plain descriptive titles, 139 a lone encoded '<'; of 1,845 cmdi lines "
    "1,135 are bare command names ('id', 'sort', 'test', 'find'). Without those lines: xss ~95 %, "
    "cmdi ~95 % (scripts/eval_signatures.py reports both rates)",
    strict=True,
)
@pytest.mark.parametrize("category", ["xss", "cmdi"])
def test_payload_detection_target_noisy_lists(engine: SignatureEngine, category: str) -> None:
    assert _payload_rates(engine)[category] >= 0.90
