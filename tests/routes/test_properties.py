"""Property tests: random and hostile strings never raise and give bounded, stable routes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.routes import RouteTemplater

MAX_DEPTH, MAX_SEG = 6, 40
LONGEST = MAX_DEPTH * (MAX_SEG + 1) + len("/{rest}")

hostile_segment = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["..", ".", "%00", "%2e%2e", "%2F", "%", "%zz", "{id}", "{rest}", "{x}",
                     "\x00", "\r\n", "\udcff", "\u202e", "é", "日本", "🙂", "?", "#", "\\"]),
    st.from_regex(r"[0-9a-f]{8,40}(\.[a-z]{1,4})?", fullmatch=True),
    st.from_regex(r"[A-Za-z]{1,6}[-_][0-9]{3,8}", fullmatch=True),
    st.text(alphabet="/%.", max_size=30),
    st.integers(0, 10**20).map(str),
)  # fmt: skip
hostile_path = st.one_of(
    st.text(),
    st.lists(hostile_segment, max_size=12).map("/".join),
    st.lists(hostile_segment, max_size=12).map(lambda s: "/" + "/".join(s) + "/"),
    st.builds(lambda s, n: s * n, st.text(max_size=5), st.integers(0, 5000)),
)

# One templater shared across examples, with small caps, so that collapse, the node
# budget and the cache clear all happen while hypothesis explores.
SHARED = RouteTemplater(
    collapse_threshold=3,
    max_nodes_per_service=60,
    cache_size=50,
    max_depth=MAX_DEPTH,
    max_segment_len=MAX_SEG,
    max_root_children=8,
)


@pytest.mark.slow
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(service=st.sampled_from(["a", "b", ""]), path=hostile_path)
def test_never_raises_and_is_bounded(service: str, path: str) -> None:
    out = SHARED.template(service, path)
    assert isinstance(out, str) and out.startswith("/")
    assert len(out) <= LONGEST
    assert out.isprintable()
    assert "?" not in out and "#" not in out and "//" not in out
    assert out == "/" or not out.endswith("/")
    assert SHARED.node_count(service) <= 60 and SHARED.cached_paths() <= 50


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(path=hostile_path)
def test_templating_a_template_changes_nothing(path: str) -> None:
    out = SHARED.template("a", path)
    assert SHARED.template("a", out) == out


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(paths=st.lists(hostile_path, max_size=40))
def test_same_inputs_same_templates(paths: list[str]) -> None:
    one = RouteTemplater(collapse_threshold=2, max_nodes_per_service=30, cache_size=7)
    two = RouteTemplater(collapse_threshold=2, max_nodes_per_service=30, cache_size=0)
    assert [one.template("s", p) for p in paths] == [two.template("s", p) for p in paths]
    assert one.templates("s") == two.templates("s")
    assert RouteTemplater.load_state(one.save_state()).save_state() == one.save_state()
