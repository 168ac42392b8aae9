"""A label confined to one version (a canary) needs an incident carrying that version."""

from __future__ import annotations

from pathlib import Path

from tests.evaluate.test_evaluate import incident, label, run


def _canary_label() -> dict[str, object]:
    lab = label("canary", 0, 40, deployment="2.41.0")
    lab["params"] = {"shape": "canary_errors", "version": "2.41.0"}
    return lab


def test_version_label_needs_the_incidents_version(tmp_path: Path) -> None:
    plain = incident("plain", 5, 20)
    other = incident("other", 5, 20, route="/v2/payments/{id}/refunds")
    other["version"] = "2.40.2"
    r = run(tmp_path, [_canary_label()], [plain, other])
    assert r.overall.recall == 0.0
    assert {u.id for u in r.unmatched} == {"plain", "other"}


def test_version_given_on_an_update_counts(tmp_path: Path) -> None:
    # The route-wide detector opened it; the canary comparison scoped it later.
    opened = incident("i1", 5, 8)
    update = incident("i1", 5, 20, status="update")
    update["version"] = "2.41.0"
    r = run(tmp_path, [_canary_label()], [opened, update])
    assert r.overall.recall == 1.0 and r.overall.precision == 1.0


def test_label_without_version_matches_any(tmp_path: Path) -> None:
    scoped = incident("i1", 5, 20)
    scoped["version"] = "2.41.0"
    r = run(tmp_path, [label("plain", 0, 40)], [scoped])
    assert r.overall.recall == 1.0
