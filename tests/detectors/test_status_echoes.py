"""Status surges a campaign causes on its own route are the campaign's, not incidents."""

from __future__ import annotations

from typing import Any

from detector.detectors.base import Signal
from detector.detectors.campaigns import CampaignFold, CampaignWindow
from detector.detectors.status_echoes import HOLD, StatusEchoes

MIN = 60.0


def _sig(kind: str, route: str, client: str | None = None, hits: int = 5,
         service: str = "shop") -> Signal:
    return Signal(kind=kind, service=service, route=route, method="POST", client=client,
                  start=0.0, end=MIN, score=0.9, observed=0.3, baseline=0.01, requests=40,
                  p_value=1e-9, extra={"hits": hits}, samples=[])


def _window(echoes: StatusEchoes, i: int, signals: list[Signal],
            routes: dict[tuple[str, str], tuple[int, int]] | None = None) -> list[str]:
    """One window through drop then remember; the kinds (and routes) kept."""
    start, end = i * MIN, (i + 1) * MIN
    out = echoes.drop(signals, start, end, routes or {})
    echoes.remember(signals, start, end)
    return [f"{s.kind}:{s.route}" for s in out]


def test_payload_campaign_explains_4xx_and_5xx_surges_of_its_route_for_hold_windows() -> None:
    echoes = StatusEchoes()
    assert _window(echoes, 0, [_sig("unusual_payload", "/reviews", client="10.0.0.7")]) == [
        "unusual_payload:/reviews"]
    # The 400/500 answers to the campaign lift the route's shares a few windows later.
    kept = _window(echoes, 3, [_sig("client_error_surge", "/reviews"),
                               _sig("error_surge", "/reviews"),
                               _sig("client_error_surge", "/cart")])
    assert kept == ["client_error_surge:/cart"]
    # Long after the campaign's last signal the route's surges are its own again.
    assert _window(echoes, 3 + HOLD + 1, [_sig("client_error_surge", "/reviews")]) == [
        "client_error_surge:/reviews"]


def test_same_route_in_another_service_and_client_keyed_surges_are_kept() -> None:
    echoes = StatusEchoes()
    window = [_sig("attack_payload", "/login", client="6.6.6.6"),
              _sig("client_error_surge", "/login", service="billing"),
              _sig("client_error_surge", "/login", client="6.6.6.6")]
    assert _window(echoes, 0, window) == ["attack_payload:/login", "client_error_surge:/login",
                                          "client_error_surge:/login"]


def test_auth_campaign_explains_only_a_4xx_surge_smaller_than_its_denials() -> None:
    echoes = StatusEchoes()
    stuffing = _sig("auth_failure_burst", "/login")
    # A lockout's 429s: 5 of them next to 60 denials.
    assert _window(echoes, 0, [stuffing, _sig("client_error_surge", "/login", hits=5)],
                   {("shop", "/login"): (100, 60)}) == ["auth_failure_burst:/login"]
    # A deploy rejecting a third of the route's requests is no lockout echo.
    assert _window(echoes, 1, [_sig("client_error_surge", "/login", hits=80)],
                   {("shop", "/login"): (240, 40)}) == ["client_error_surge:/login"]
    # 5xx are never an authentication campaign's.
    assert _window(echoes, 2, [_sig("error_surge", "/login", hits=3)],
                   {("shop", "/login"): (100, 60)}) == ["error_surge:/login"]


def test_campaign_fold_drops_echoes_and_keeps_them_across_a_snapshot() -> None:
    fold = CampaignFold()
    payload = _sig("unusual_payload", "/reviews", client="10.0.0.7")
    fold.fold_window(CampaignWindow(0.0, MIN, [payload], {}, {}))
    restored = CampaignFold()
    restored.restore(fold.snapshot())
    x = CampaignWindow(MIN, 2 * MIN, [_sig("client_error_surge", "/reviews")], {}, {})
    assert fold.fold(x) == [] and restored.fold(x) == []


def test_campaign_snapshot_of_schema_1_still_loads() -> None:
    old: dict[str, Any] = {"v": 1, "data": {"active": {}, "usual": {("shop", "scanning",
                                                                      "/{path}"): 1.5}}}
    fold = CampaignFold()
    fold.restore(old)
    x = CampaignWindow(0.0, MIN, [_sig("client_error_surge", "/reviews")], {}, {})
    assert [s.kind for s in fold.fold(x)] == ["client_error_surge"]
