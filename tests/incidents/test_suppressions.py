"""Suppression rules and maintenance windows: the file checked, and matching (CONTRACTS §7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.incidents.suppressions import (
    Subject,
    SuppressionError,
    Suppressions,
    parse_time,
)

EXPIRES = "2026-12-31T00:00:00Z"
T = parse_time("2026-03-17T09:00:00Z")


def rule(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {"service": "catalog", "reason": "export job", "author": "ops",
                               "expires": EXPIRES}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def one(**extra: object) -> Suppressions:
    return Suppressions.parse({"suppress": [rule(**extra)]}, "s.toml")


def subject(kind: str = "traffic_spike", route: str | None = "/v1/reports/export",
            client: str | None = None, who: tuple[tuple[str, str], ...] = (),
            at: float = T, service: str = "catalog") -> Subject:
    return Subject(service, kind, route, client, at, at, who)


def test_the_contract_example_parses(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text("""
[[suppress]]
kind = ["traffic_spike"]            # optional; any kind when absent
service = "catalog"                 # required
route = "/v1/reports/export"        # optional, templated
client = "203.0.113.0/24"           # optional, address or CIDR
user_agent = "Googlebot*"           # optional, glob
reason = "nightly export job"
author = "ops@example.com"
expires = "2026-12-31T00:00:00Z"    # required

[[maintenance]]
service = "payments"
start = "2026-03-17T02:00:00Z"
end = "2026-03-17T03:00:00Z"
reason = "database migration"
""")
    s = Suppressions.load(f)
    (r,), (m,) = s.rules, s.maintenance
    assert (r.service, r.kinds, r.route, r.client, r.user_agent) == (
        "catalog", frozenset({"traffic_spike"}), "/v1/reports/export", "203.0.113.0/24",
        "Googlebot*")
    assert r.expires == parse_time(EXPIRES) and r.id.startswith("sup-")
    assert (m.service, m.end - m.start, m.reason) == ("payments", 3600.0, "database migration")


def test_yaml_is_read_by_its_suffix(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("suppress:\n  - service: catalog\n    kind: scanning\n    reason: r\n"
                 "    author: a\n    expires: 2026-12-31T00:00:00Z\n")
    (r,) = Suppressions.load(f).rules
    assert r.kinds == frozenset({"scanning"}) and r.expires == parse_time(EXPIRES)


@pytest.mark.parametrize(("entry", "message"), [
    (rule(service=None), "suppress[1].service: required"),
    (rule(expires=None), "suppress[1].expires: required"),
    (rule(reason=None), "suppress[1].reason: required"),
    (rule(author=""), "suppress[1].author: a non-empty string"),
    (rule(expires="next week"), "suppress[1].expires: 'next week' is no ISO time"),
    (rule(kind=["traffic_spike", "eror_surge"]), "suppress[1].kind: unknown kind 'eror_surge'"),
    (rule(client="10.0.0.300/8"), "suppress[1].client: '10.0.0.300/8' is no address or CIDR"),
    (rule(route="v1/x"), "suppress[1].route: a route template starting with '/'"),
    (rule(colour="red"), "suppress[1].colour: unknown key"),
])
def test_a_bad_rule_is_one_line_naming_the_rule_and_key(entry: dict[str, object],
                                                        message: str) -> None:
    with pytest.raises(SuppressionError) as err:
        Suppressions.parse({"suppress": [entry]}, "s.toml")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_second_rule_is_named_by_its_index() -> None:
    with pytest.raises(SuppressionError, match=r"suppress\[2\]\.expires"):
        Suppressions.parse({"suppress": [rule(), rule(expires=None)]}, "s.toml")


def test_a_maintenance_window_ending_before_it_starts_is_refused() -> None:
    bad = {"service": "pay", "start": "2026-03-17T03:00:00Z", "end": "2026-03-17T02:00:00Z",
           "reason": "r"}
    with pytest.raises(SuppressionError, match=r"maintenance\[1\]\.end: must be after start"):
        Suppressions.parse({"maintenance": [bad]}, "s.toml")


def test_broken_toml_and_unknown_sections_are_one_line(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text("[[suppress]\nservice = 1\n")
    with pytest.raises(SuppressionError, match="s.toml"):
        Suppressions.load(f)
    with pytest.raises(SuppressionError, match="unknown section 'silence'"):
        Suppressions.parse({"silence": []})
    with pytest.raises(SuppressionError, match="cannot read suppressions"):
        Suppressions.load(tmp_path / "missing.toml")


def test_kind_and_route_scope() -> None:
    s = one(kind=["traffic_spike", "error_surge"], route="/v1/reports/export")
    assert s.suppresses(subject("traffic_spike"))
    assert s.suppresses(subject("error_surge"))
    assert not s.suppresses(subject("latency_regression"))
    assert not s.suppresses(subject(route="/v1/reports/{id}"))
    assert not s.suppresses(subject(service="search"))
    assert one(kind="scanning").suppresses(subject("scanning", route=None, client="192.0.2.1"))


@pytest.mark.parametrize(("cidr", "inside", "outside"), [
    ("203.0.113.0/24", "203.0.113.77", "203.0.114.1"),
    ("203.0.113.9", "203.0.113.9", "203.0.113.10"),
    ("2001:db8:5::/48", "2001:db8:5:ffff::1", "2001:db8:6::1"),
    ("2001:db8::7", "2001:db8::7", "2001:db8::8"),
])
def test_client_address_or_cidr_v4_and_v6(cidr: str, inside: str, outside: str) -> None:
    s = one(client=cidr)
    assert s.suppresses(subject("scanning", route=None, client=inside))
    assert not s.suppresses(subject("scanning", route=None, client=outside))
    assert not s.suppresses(subject("scanning", route=None, client="not-an-address"))


def test_a_route_keyed_incident_matches_a_client_rule_only_when_all_its_requests_do() -> None:
    s = one(client="203.0.113.0/24")
    mine = (("203.0.113.5", "export/1"), ("203.0.113.6", "export/1"))
    mixed = (("203.0.113.5", "export/1"), ("198.51.100.3", "browser"))
    assert s.suppresses(subject(who=mine))
    assert not s.suppresses(subject(who=mixed))
    assert not s.suppresses(subject(who=()))  # nothing known of who made it: not covered


def test_user_agent_glob() -> None:
    s = one(user_agent="Googlebot*")
    bots = (("66.249.66.1", "Googlebot/2.1 (+http://www.google.com/bot.html)"),)
    assert s.suppresses(subject("scanning", route=None, client="66.249.66.1", who=bots))
    fake = (("66.249.66.1", "Mozilla/5.0 Googlebot"),)  # a glob anchored at the start
    assert not s.suppresses(subject("scanning", route=None, client="66.249.66.1", who=fake))
    assert not s.suppresses(subject("scanning", route=None, client="66.249.66.1"))


def test_expiry_is_judged_by_event_time() -> None:
    s = one(expires="2026-03-17T10:00:00Z")
    assert s.suppresses(subject(at=parse_time("2026-03-17T09:59:59Z")))
    assert not s.suppresses(subject(at=parse_time("2026-03-17T10:00:00Z")))


def test_maintenance_window_covers_incidents_that_begin_inside_it() -> None:
    s = Suppressions.parse({"maintenance": [{
        "service": "payments", "start": "2026-03-17T02:00:00Z", "end": "2026-03-17T03:00:00Z",
        "reason": "db"}]})
    inside = parse_time("2026-03-17T02:30:00Z")
    assert s.suppresses(Subject("payments", "error_surge", "/r", None, inside, inside + 7200))
    assert not s.suppresses(Subject("catalog", "error_surge", "/r", None, inside, inside))
    after = parse_time("2026-03-17T03:00:00Z")
    assert not s.suppresses(Subject("payments", "error_surge", "/r", None, after, after))
    assert s.muted(inside, inside + 60) == frozenset({"payments"})
    assert s.muted(after, after + 60) == frozenset()
    assert s.muted(parse_time("2026-03-17T01:59:30Z"), parse_time("2026-03-17T02:00:30Z"))
