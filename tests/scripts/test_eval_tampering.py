"""scripts/eval_tampering.py: the value classifier, the corpora splits and the tamperer."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load():
    name = "eval_tampering_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "eval_tampering.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


et = _load()
Request = et.Request


@pytest.mark.parametrize(
    "value, shape",
    [
        ("ana.ruiz@correo.es", "email"),
        ("48263928s", "national_id"),
        ("4245052344943379", "card"),
        ("09530", "postcode"),
        ("612345678", "phone"),
        ("1466", "number4"),
        ("84", "small_int"),
        ("c/ quintana 132, 13?h", "address"),
        ("c/ caridad s/n", "address"),
        ("doctor waksmann, 120, 7ºb", "address"),
        ("l6c971c1a", "token"),
        ("7u6can*i2a04n", "token"),
        ("ulpiano", "word"),
        ("cuevas de san marcos", "words"),
        ("ametlla de mar, l'", "words"),
        ("a+b=c", "other"),
    ],
)
def test_value_shape(value: str, shape: str) -> None:
    assert et.value_shape(value) == shape


def _train_set() -> list:
    """A small application: a product page, a login form post, a static page."""
    rng = random.Random(1)
    reqs = []
    for i in range(60):
        ts = 1_700_000_000.0 + i
        reqs.append(Request(ts, "shop", "GET", "/catalog/item",
                            f"id={rng.randint(1, 999)}&name=item+{'abcdefghij'[i % 10]}{i}"
                            f"&email=a{i}%40mail.es&submit=Add+to+cart"))
        reqs.append(Request(ts, "shop", "POST", "/app/login", "",
                            f"user=u{i}x&password=p{i}w&remember=on", et.FORM_CTYPE))
        reqs.append(Request(ts, "shop", "GET", "/about.html"))
    return reqs


TEST = [
    Request(2e9, "shop", "GET", "/catalog/item",
            "id=42&name=lamp+o&email=bob%40mail.es&submit=Add+to+cart"),
    Request(2e9 + 1, "shop", "POST", "/app/login", "", "user=zed9&password=s3cret&remember=on",
            et.FORM_CTYPE),
    Request(2e9 + 2, "shop", "GET", "/about.html"),
]


@pytest.fixture
def tamperer():
    stats = et.RouteStats(_train_set())
    return et.Tamperer(stats, random.Random(3), min_history=50,
                       payloads=[("' or 1=1--", "sqli")])


def _params(r) -> list[tuple[str, str | None]]:
    return et.split_pairs(r.query) + et.split_pairs(r.body or "")


def _first(t, sub: str):
    for src in TEST:
        got = t.apply(src, sub)
        if got is not None:
            return src, got
    raise AssertionError(f"{sub} applied to no test request")


@pytest.mark.parametrize("cls, sub", [(c, s) for c, subs in et.SUBCLASSES.items() for s in subs])
def test_every_subclass_applies_and_changes_the_request(tamperer, cls: str, sub: str) -> None:
    src, new = _first(tamperer, sub)
    assert not new.same_request(src)
    before, after = dict(_params(src)), _params(new)
    if cls == "type_break":
        changed = [(k, v) for k, v in after if before.get(k) != v]
        assert len(changed) == 1
        name, value = changed[0]
        if sub.startswith("numeric_"):
            assert before[name].isdigit() and value.startswith(before[name])
            assert value[len(before[name]):] in ("%00", "/", "%") or value[-1].isalpha()
        elif sub == "email_two_at":
            assert unquote_plus(value).count("@") == 2
        elif sub == "quote":
            assert "'" in unquote_plus(value)
        elif sub == "enum_append":
            assert name == "submit" and value.startswith(before[name]) and value != before[name]
    elif cls == "unknown_name":
        names = {k for k, _ in after}
        new_names = names - set(before)
        assert len(new_names) == 1 and len(after) == len(before)
        (n,) = new_names
        if sub == "button_append":
            assert n[:-1] == "submit" and n[-1].isupper()
        elif sub == "name_append":
            assert n[:-1] in before and n[-1].isupper()
        else:
            assert any(n == k[:i] + k[i + 1:] for k in before for i in range(len(k)))
    elif sub == "missing":
        assert len(after) == len(before) - 1
        assert set(before) - {k for k, _ in after}
    elif sub == "duplicate":
        names = [k for k, _ in after]
        assert len(names) == len(set(names)) + 1
    elif cls == "method":
        assert new.method == sub.upper() and new.method not in ("GET", "POST")
        assert (new.path, new.query, new.body) == (src.path, src.query, src.body)
    elif cls == "unknown_resource":
        assert new.path not in {r.path for r in _train_set()}
        if sub == "backup_suffix":
            assert any(new.path == src.path + s for s in et.BACKUP_SUFFIXES)
        elif sub == "jsessionid":
            sid = new.path.rsplit(";jsessionid=", 1)[1]
            assert len(sid) == 32 and int(sid, 16) >= 0
        elif sub == "numeric_segment":
            assert any(seg.isdigit() for seg in new.path.split("/"))
        elif sub == "sample_file":
            assert new.method == "GET" and not new.query and new.body is None
    elif cls == "over_long":
        lo, hi = (300, 1000) if sub == "repeat_300_1000" else (1000, 5000)
        assert any(v is not None and lo <= len(v) <= hi for _, v in after)
    elif cls == "encoding":
        piece = {"crlf": ("%0D%0A",), "nul": ("%00",), "double_encoding": et.DOUBLE_ENCODED,
                 "bad_percent": et.BAD_PERCENT}[sub]
        assert any(v is not None and any(p in v for p in piece) for _, v in after)
    elif cls == et.ATTACK_CLASS:
        assert any(v is not None and "1%3D1" in v for _, v in after)


def test_value_tampering_needs_history() -> None:
    """Cold routes (fewer training requests than min_history) get no parameter tampering."""
    stats = et.RouteStats(_train_set()[:30])  # 10 requests per route
    t = et.Tamperer(stats, random.Random(3), min_history=50)
    assert t.apply(TEST[0], "numeric_nul") is None
    assert t.apply(TEST[0], "put") is None
    assert t.apply(TEST[2], "backup_suffix") is not None  # resources: any request


def test_numeric_tamper_only_on_numeric_fields(tamperer) -> None:
    for _ in range(20):
        new = tamperer.apply(TEST[0], "numeric_letters")
        changed = [k for k, v in _params(new) if dict(_params(TEST[0]))[k] != v]
        assert changed == ["id"]
    assert tamperer.apply(TEST[1], "numeric_nul") is None  # the login form has no number


def test_generate_labels_and_quota(tamperer) -> None:
    got = tamperer.generate(TEST, per_class=14)
    assert {t.cls for t in got} == set(et.CLASSES)
    for t in got:
        assert t.sub in et.SUBCLASSES[t.cls]
        assert not t.request.same_request(TEST[t.source])
    per_sub: dict[str, int] = {}
    for t in got:
        per_sub[t.sub] = per_sub.get(t.sub, 0) + 1
    assert max(per_sub.values()) <= 7  # ceil(14 / 2 subclasses), the largest quota
    again = et.Tamperer(tamperer.stats, random.Random(3), min_history=50,
                        payloads=tamperer.payloads).generate(TEST, per_class=14)
    fresh = et.Tamperer(tamperer.stats, random.Random(3), min_history=50,
                        payloads=tamperer.payloads).generate(TEST, per_class=14)
    assert again == fresh  # seeded


def test_otel_line_carries_the_form_content_type() -> None:
    import orjson

    rec = orjson.loads(et.otel_line(TEST[1]))
    assert rec["http.request.method"] == "POST"
    assert rec["http.request.body.content"] == TEST[1].body
    assert rec["http.request.header.content-type"] == et.FORM_CTYPE
    assert "url.query" not in rec


def _need(*parts: str) -> Path:
    path = et.DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data absent: {path} (set DETECTOR_SHARED_DATA)")
    return path


def test_forms_split_by_value() -> None:
    _need("httpparams", "payload_train.csv")
    c = et.forms(7)
    train_values = {v for r in c.train for _, v in _params(r) if v}
    test_values = {v for r in c.test for _, v in _params(r) if v}
    fixed = {"Register", "on", "Add+to+cart"}
    assert not (train_values & test_values) - fixed
    assert max(r.ts for r in c.train) < min(r.ts for r in c.test)
    posts = [r for r in c.train if r.method == "POST"]
    assert posts and all(r.ctype == et.FORM_CTYPE and r.body for r in posts)
    # non-ASCII letters arrive both as Latin-1 and as UTF-8 percent-encoding
    bodies = " ".join(r.body for r in posts if "address=" in r.body)
    assert "%BA" in bodies.replace("%C2%BA", "") and "%C2%BA" in bodies


def test_apache_rule_and_time_split() -> None:
    _need("access_logs", "apache_logs.log")
    c = et.apache()
    reqs = c.train + c.test
    assert reqs and all(r.status < 400 and r.method in et.KEEP_METHODS for r in reqs)
    assert not any(et.SCANNER_PATH.search(r.path + "?" + r.query) for r in reqs)
    assert max(r.ts for r in c.train) <= min(r.ts for r in c.test)
    assert abs(len(c.train) / len(reqs) - 0.7) < 0.01


def test_part_scores_follow_whatever_parts_findings_carry() -> None:
    from dataclasses import dataclass

    @dataclass
    class WithParts:  # a Finding that names its parts (being added to the detector)
        kind: str
        score: float
        parts: tuple[tuple[str, float], ...]

    fs = [None, WithParts("unusual_payload", 0.7, (("names", 0.6), ("values", 0.2))),
          WithParts("attack_payload", 0.8, ()), WithParts("unusual_payload", 0.1, ())]
    got = et.part_scores(fs)
    assert list(got) == ["names", "values", "signatures"]
    assert got["names"].tolist() == [0.0, 0.6, 0.0, 0.0]
    assert got["values"].tolist() == [0.0, 0.2, 0.0, 0.0]
    assert got["signatures"].tolist() == [0.0, 0.0, 1.0, 0.0]
