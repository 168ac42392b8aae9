"""payload: what belongs to an attack campaign, what is probing, what stays unusual."""

from __future__ import annotations

from detector.analysis.findings import Finding
from detector.analysis.resources import RESOURCE as ANALYZER_RESOURCE
from detector.config import DetectorSettings
from detector.detectors.payload import RESOURCE, PayloadDetector
from detector.events import AccessEvent

SQLI = Finding("attack_payload", 0.9, ("sqli",), ("sqli-tautology",), ("r1",))
SSRF = Finding("attack_payload", 0.9, ("ssrf",), ("ssrf-metadata",), ("r2",))
ODD = Finding("unusual_payload", 0.8, (), ("unknown parameter proxy",), (),
              (("params", 0.8),))
BACKUP = Finding("unusual_payload", 0.8, (), ("resource /src.bak: backup suffix",), (),
                 ((RESOURCE, 0.8),))
Found = list[tuple[AccessEvent, str, Finding]]


def ev(client: str, path: str = "/v1/sessions", status: int = 200) -> AccessEvent:
    return AccessEvent(0.0, "accounts", None, "GET", path, "x=1", status, None, None, client,
                       "Mozilla/5.0", None, None, "f", 1)


def run(windows: list[Found]) -> list[list[tuple[str, str | None, str | None]]]:
    det = PayloadDetector(DetectorSettings())
    return [[(s.kind, s.route, s.client) for s in det.check_window(f, 60.0 * i, 60.0 * i + 60)]
            for i, f in enumerate(windows)]


def test_unusual_requests_on_a_route_under_a_distributed_attack_are_the_attacks() -> None:
    # A botnet: 3 clients a window send SSRF probes a signature recognises, 6 others send
    # the same callback in a parameter no signature knows (unusual findings).
    out = run([[(ev(f"9.9.{w}.{k}"), "/v1/sessions", SSRF) for k in range(3)]
               + [(ev(f"8.8.{w}.{k}"), "/v1/sessions", ODD) for k in range(6)]
               for w in range(4)])
    kinds = {k for window in out for k, _, _ in window}
    assert kinds == {"attack_payload"}
    assert all(c is None for window in out for _, _, c in window)  # route-keyed


def test_an_unusual_campaign_beside_one_attacking_client_is_still_reported() -> None:
    # One client attacks the route: no distributed campaign, the other clients' unusual
    # payloads (a new app build sending an unknown parameter) are their own incident.
    out = run([[(ev("6.6.6.6"), "/v1/sessions", SQLI)] * 3
               + [(ev(f"8.8.{w}.{k}"), "/v1/sessions", ODD) for k in range(6)]
               for w in range(4)])
    assert ("unusual_payload", "/v1/sessions", None) in {x for window in out for x in window}
    assert ("attack_payload", "/v1/sessions", "6.6.6.6") in out[0]


def test_missing_resources_answered_404_are_probing_not_unusual_payloads() -> None:
    probes = [[(ev(f"7.7.{w}.{k}", f"/src{k}.bak", 404), "/{id}", BACKUP) for k in range(9)]
              for w in range(3)]
    assert run(probes) == [[], [], []]
    found = [[(ev(f"7.7.{w}.{k}", f"/src{k}.bak", 200), "/{id}", BACKUP) for k in range(9)]
             for w in range(3)]  # served: a backup file that exists is worth an incident
    assert ("unusual_payload", "/{id}", None) in {x for window in run(found) for x in window}


def test_attackers_remembers_clients_for_a_few_windows() -> None:
    det = PayloadDetector(DetectorSettings())
    det.check_window([(ev("6.6.6.6"), "/v1/sessions", SQLI)] * 4, 0.0, 60.0)
    assert det.attackers([]) == {("accounts", "6.6.6.6")}
    assert det.attackers([(ev("5.5.5.5"), "/x", SQLI)]) == {("accounts", "6.6.6.6"),
                                                            ("accounts", "5.5.5.5")}
    for i in range(1, 12):
        det.check_window([], 60.0 * i, 60.0 * i + 60)
    assert det.attackers([]) == set()


def test_the_resource_part_is_the_analyzers() -> None:
    assert RESOURCE == ANALYZER_RESOURCE
