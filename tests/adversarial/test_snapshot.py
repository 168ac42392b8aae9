"""Issue 8 item 1: a tampered checkpoint must never run code.

The old snapshot format was a pickle loaded with an allow-list admitting any
``detector.*`` global; with protocol 4 a dotted name (module
``detector.sinks.pagerduty``, name ``os.system``) resolved to ``os.system``, and the
sha256 header was recomputed by the attacker. Snapshots are now plain data
(DETSNAP2, :mod:`detector.state.codec`); DETSNAP1 is read only through an exact
allow-list for migration; an optional HMAC key authenticates them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
from collections import deque
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.config import Settings
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from detector.state import SnapshotError, dumps, loads
from detector.state.codec import encode
from tests.pipeline.synthetic import DEPLOY_AT, _bad_deploy_status, traffic

DATA = Path(__file__).parent / "data"
V1 = b"DETSNAP1"


def dotted_payload(marker: Path) -> bytes:
    """Protocol-4 pickle: STACK_GLOBAL('detector.sinks.pagerduty', 'os.system')('touch marker')."""
    def s(text: str) -> bytes:
        raw = text.encode()
        return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE

    return (b"\x80\x04" + s("detector.sinks.pagerduty") + s("os.system") + b"\x93"
            + s(f"touch {marker}") + b"\x85" + b"R" + b".")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def reduce_payload(marker: Path) -> bytes:
    return pickle.dumps(_Evil(marker), protocol=5)


def v1(body: bytes) -> bytes:
    """A DETSNAP1 snapshot around ``body`` with a valid (recomputed) checksum header."""
    return V1 + hashlib.sha256(body).digest() + body


def v2_plain(body: bytes) -> bytes:
    return b"DETSNAP2S" + hashlib.sha256(b"S" + body).digest() + body


PAYLOADS = {"dotted": dotted_payload, "reduce": reduce_payload}


def test_the_dotted_payload_names_real_code(tmp_path: Path) -> None:
    # The old allow-list admitted module detector.*: the payload resolves to os.system
    # (resolved here, then swapped for a stub: nothing runs).
    found: list[Any] = []

    class Spy(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found.append(super().find_class(module, name))
            return lambda *a: None

    Spy(io.BytesIO(dotted_payload(tmp_path / "pwned"))).load()
    assert found == [os.system]


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_pickle_payloads_are_refused_and_nothing_runs(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    body = PAYLOADS[kind](marker)
    with pytest.raises(SnapshotError, match=r"forbidden type .*nothing was run"):
        loads(v1(body))
    with pytest.raises(SnapshotError, match="cannot load snapshot"):
        loads(v2_plain(body))  # a pickle under the new header is not JSON
    assert not marker.exists()


@pytest.mark.parametrize("tree", [
    {"$x": ["os.system", ["touch x"]]},
    {"$x": ["detector.sinks.pagerduty.os.system", []]},
    {"$x": ["routes.RouteTemplater", {"__class__": 1}]},
    {"$x": ["detectors.RatioBaseline", {"not_a_slot": 1}]},
    {"$x": ["incidents.DeploymentRef", {"version": []}]},
    {"$reduce": ["os", "system"]},
    {"$q": [-1, []]},
    {"$s": [[1]]},
    {"$m": [1]},
    {"$i": "9" * 5000},
])
def test_tagged_data_cannot_name_code_or_break_the_loader(tree: Any) -> None:
    body = orjson.dumps({"schema": 2, "state": tree})
    with pytest.raises(SnapshotError, match="cannot load snapshot"):
        loads(v2_plain(body))


_TAGS = ["$t", "$s", "$z", "$q", "$c", "$o", "$m", "$d", "$b", "$f", "$i", "$n", "$x", "$"]
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63)
            | st.floats(allow_nan=False) | st.text(max_size=8))
_TREES = st.recursive(
    _SCALARS,
    lambda c: st.lists(c, max_size=4)
    | st.dictionaries(st.sampled_from(_TAGS) | st.text(max_size=4), c, max_size=3)
    | st.builds(lambda t, v: {t: v}, st.sampled_from(_TAGS), c),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_TREES)
def test_hostile_trees_load_or_are_refused_cleanly(tree: Any) -> None:
    with contextlib.suppress(SnapshotError):  # anything else (or running code) fails
        loads(v2_plain(orjson.dumps({"schema": 2, "state": tree})))


_KEYS = st.text(max_size=6) | st.integers() | st.tuples(st.text(max_size=3), st.integers())
_STATE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=10) | st.binary(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.tuples(c, c) | st.dictionaries(_KEYS, c, max_size=3)
    | st.frozensets(_KEYS, max_size=3) | st.sets(_KEYS, max_size=3)
    | st.builds(lambda xs, n: deque(xs, n), st.lists(c, max_size=3),
                st.none() | st.integers(0, 5)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_STATE)
def test_state_data_round_trips_exactly(state: Any) -> None:
    back = loads(dumps(state))
    assert back == state and _canon(back) == _canon(state)


def test_unknown_schema_and_headers_are_refused() -> None:
    with pytest.raises(SnapshotError, match="schema 99"):
        loads(v2_plain(orjson.dumps({"schema": 99, "state": 1})))
    with pytest.raises(SnapshotError, match="unknown header"):
        loads(b"DETSNAP2X" + bytes(32) + b"{}")
    good = dumps({"x": 1})
    with pytest.raises(SnapshotError, match="checksum"):
        loads(good[:-1] + b"2")


# ---- keyed snapshots ---------------------------------------------------------------


def test_with_a_key_snapshots_are_signed_and_tampering_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    unsigned = dumps({"x": 1})
    monkeypatch.setenv("DETECTOR_STATE_KEY", "s3cret-state-key-0123456789")
    signed = dumps({"x": 1})
    assert signed[8:9] == b"H" and loads(signed) == {"x": 1}
    forged = signed[:41] + signed[41:].replace(b'"x":1', b'"x":2')
    with pytest.raises(SnapshotError, match="signature mismatch"):
        loads(forged)
    with pytest.raises(SnapshotError, match="unsigned snapshot"):
        loads(unsigned)  # a valid sha256 header is no authentication
    with pytest.raises(SnapshotError, match="unsigned DETSNAP1"):
        loads(v1(pickle.dumps({"x": 1}, protocol=5)))
    monkeypatch.setenv("DETECTOR_STATE_KEY", "another-key-entirely-0123456789")
    with pytest.raises(SnapshotError, match="signature mismatch"):
        loads(signed)
    monkeypatch.delenv("DETECTOR_STATE_KEY")
    with pytest.raises(SnapshotError, match="no key is configured"):
        loads(signed)
    key_file = tmp_path / "state.key"
    key_file.write_text("s3cret-state-key-0123456789\n")
    monkeypatch.setenv("DETECTOR_STATE_KEY_FILE", str(key_file))
    assert loads(signed) == {"x": 1}
    monkeypatch.setenv("DETECTOR_STATE_KEY", "x" * 20)
    with pytest.raises(SnapshotError, match="set only one"):
        dumps({})
    monkeypatch.delenv("DETECTOR_STATE_KEY")
    monkeypatch.setenv("DETECTOR_STATE_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SnapshotError, match="cannot read"):
        dumps({})


# ---- migration from DETSNAP1 ----------------------------------------------------------


def _canon(state: Any) -> Any:
    """The encoded tree with sets in a fixed order: equal trees = equal states."""
    def c(t: Any) -> Any:
        if isinstance(t, list):
            return [c(x) for x in t]
        if isinstance(t, dict):
            if len(t) == 1 and next(iter(t)) in ("$s", "$z"):
                (k, v), = t.items()
                return {k: sorted((c(x) for x in v), key=repr)}
            return {k: c(v) for k, v in t.items()}
        return t
    return c(encode(state))


def test_a_detsnap1_snapshot_of_the_previous_release_restores(tmp_path: Path) -> None:
    # Written by the pickle-based code before this change (tests/adversarial/data).
    old = (DATA / "detsnap1_pipeline.bin").read_bytes()
    assert old.startswith(V1)
    trusted = pickle.loads(old[40:])  # our own fixture: the reference, loaded without limits
    state = loads(old)
    assert _canon(state) == _canon(trusted)
    p = Pipeline(Settings(), [MemorySink()])
    p.restore(old)
    new = p.snapshot()
    assert new.startswith(b"DETSNAP2")
    assert b"\x80\x05" not in new[:64]
    assert _canon(loads(new)) == _canon(p.state())


def test_restore_from_detsnap1_continues_like_an_uninterrupted_run() -> None:
    events = traffic(150, rate=8, status=_bad_deploy_status,
                     version=lambda t: "2.32.0" if t >= DEPLOY_AT else "2.31.0")
    whole = MemorySink()
    p = Pipeline(Settings(), [whole])
    p.process(events)
    p.finish()
    n = int(len(events) * 0.62)
    first, second = MemorySink(), MemorySink()
    a = Pipeline(Settings(), [first])
    a.process(events[:n])
    old = v1(pickle.dumps(a.state(), protocol=5))  # what the previous release wrote
    b = Pipeline(Settings(), [second])
    b.restore(old)
    assert _canon(b.state()) == _canon(a.state())
    b.process(events[n:])
    b.finish()
    got = [(i.id, i.status, i.model_dump_json()) for i in first.items + second.items]
    assert got == [(i.id, i.status, i.model_dump_json()) for i in whole.items]


# ---- the service restore path: a tampered --state-dir / changelog topic -----------------


def _lines(n: int = 400) -> list[bytes]:
    """Steady traffic of a few services (keys spread over the partitions)."""
    start = 1_773_734_400.0
    return [orjson.dumps({
        "timestamp": start + i * 0.5, "service.name": f"svc{i % 6}",
        "http.request.method": "GET", "url.path": f"/api/items/{i % 37}",
        "http.response.status_code": 200, "http.server.request.duration": 0.02,
        "client.address": f"10.1.0.{i % 50}",
    }) for i in range(n)]


@pytest.mark.parametrize("store", ["state-dir", "changelog"])
async def test_a_restart_from_tampered_checkpoints_runs_nothing(
    broker: Any, tmp_path: Path, store: str
) -> None:
    from detector.kafka import KafkaConnection, produce_lines
    from detector.service.jsonlog import JsonLog
    from detector.service.runtime import ServiceRuntime
    from detector.state.checkpointing import (
        DirectoryStore,
        KafkaChangelogStore,
        pack,
        partition_key,
        unpack,
    )
    from tests.service.conftest import make_topics, run_until_drained, service_settings, unique

    bs = broker.bootstrap_servers
    access, deps = await make_topics(bs, partitions=2)
    await produce_lines(bs, access, _lines(), key_fn=lambda ln: orjson.loads(ln)["service.name"]
                        .encode())
    group = unique("tamper")
    extra = {"state_dir": tmp_path / "state"} if store == "state-dir" else {}
    cfg = service_settings(bs, access, deps, group, drain_when_idle=1.0, **extra)
    with open(os.devnull, "w") as devnull:
        await run_until_drained(ServiceRuntime(cfg, Settings(), [MemorySink()],
                                               log=JsonLog(devnull)))
    st: Any = (DirectoryStore(tmp_path / "state") if store == "state-dir"
               else KafkaChangelogStore(KafkaConnection(bootstrap_servers=bs), cfg.changelog()))
    marker = tmp_path / "pwned"
    try:
        tampered, formats = 0, set()
        for part, kind in zip((0, 1), sorted(PAYLOADS), strict=True):
            key = partition_key(group, access, part)
            data = st.load(key)
            if data is None:
                continue
            offset, snap = unpack(data)
            formats.add(snap[:8])
            # The attacker writes a payload with a recomputed checksum, keeping the offset.
            st.save(key, pack(offset, v1(PAYLOADS[kind](marker))))
            tampered += 1
    finally:
        if isinstance(st, KafkaChangelogStore):
            st.close()
    assert tampered == 2  # both payloads, one per partition
    log = tmp_path / "restart.jsonl"
    with open(log, "w") as out:
        await run_until_drained(ServiceRuntime(cfg, Settings(), [MemorySink()],
                                               log=JsonLog(out)))
    assert not marker.exists(), "the tampered checkpoint ran a command"
    assert formats == {b"DETSNAP2"}  # what the service itself writes
    records = [orjson.loads(x) for x in log.read_bytes().splitlines() if x.strip()]
    refused = [r for r in records if r["event"] == "checkpoint unusable"]
    assert len(refused) == tampered
    assert all("forbidden type" in r["error"] for r in refused)


def test_run_refuses_an_unusable_key_before_connecting(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "DETECTOR_STATE_KEY": "short"}
    r = subprocess.run([sys.executable, "-m", "detector", "run", "--bootstrap-servers",
                        "127.0.0.1:1", "--topic", "access", "--state-dir", str(tmp_path),
                        "--connect-timeout", "2"],
                       capture_output=True, timeout=60, env=env)
    err = r.stderr.decode()
    assert r.returncode == 2 and "DETECTOR_STATE_KEY" in err and "16 bytes" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
