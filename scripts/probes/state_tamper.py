"""Hostile state on disk (issue 8, items 1 and 4): tampered checkpoints, escaping registries.

* snapshot: a checkpoint whose pickle names ``os.system`` through a dotted name
  (module ``detector.sinks.pagerduty``) or a ``__reduce__``, with a recomputed
  checksum, must be refused on restart and run nothing.
* registry: ``current`` or a version folder symlinked outside the registry must
  be refused without leaking the outside file; with ``DETECTOR_MODEL_KEY`` set,
  a card whose sha256 sums were recomputed after swapping an artifact must be
  refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import orjson

from probes import Probe, ProbeFailed, check, run_detector

GOOD = [orjson.dumps({"timestamp": f"2026-11-29T10:00:{i:02d}Z", "service.name": "shop",
                      "http.request.method": "GET", "url.path": f"/cart/{i}",
                      "http.response.status_code": 200}) for i in range(40)]
FAST = {"DETECTOR_SERVICE__SESSION_TIMEOUT_MS": "2000",
        "DETECTOR_SERVICE__HEARTBEAT_INTERVAL_MS": "250",
        "DETECTOR_SERVICE__POLL_TIMEOUT_MS": "200"}
SECRET = "root:x:0:0:TOP-SECRET-HASH"


def _s(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE


def dotted(marker: Path) -> bytes:
    """STACK_GLOBAL('detector.sinks.pagerduty', 'os.system')('touch MARKER'), protocol 4."""
    return (b"\x80\x04" + _s("detector.sinks.pagerduty") + _s("os.system") + b"\x93"
            + _s(f"touch {marker}") + b"\x85R.")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _v1(body: bytes) -> bytes:
    return b"DETSNAP1" + hashlib.sha256(body).digest() + body


def snapshot_payloads_restore(work: Path) -> str:
    """Both pickle payloads and a tagged-JSON one through the service's restore path."""
    from detector.config import Settings
    from detector.pipeline import Pipeline
    from detector.sinks import MemorySink
    from detector.state import SnapshotError
    from detector.state.checkpointing import DirectoryStore, pack, unpack

    marker = work / "pwned"
    tagged = orjson.dumps({"schema": 2, "state": {"$x": ["os.system", [f"touch {marker}"]]}})
    payloads = {"dotted": _v1(dotted(marker)),
                "reduce": _v1(pickle.dumps(_Evil(marker), protocol=5)),
                "tagged": b"DETSNAP2S" + hashlib.sha256(b"S" + tagged).digest() + tagged}
    store = DirectoryStore(work / "state")
    for name, snap in payloads.items():
        store.save(name, pack(7, snap))
        data = store.load(name)
        assert data is not None
        try:
            Pipeline(Settings(), [MemorySink()]).restore(unpack(data)[1])
        except SnapshotError as exc:
            check("forbidden type" in str(exc) or "unknown object tag" in str(exc),
                  f"{name}: refused for another reason: {exc}")
        else:
            raise ProbeFailed(f"{name}: the tampered snapshot was restored")
        check(not marker.exists(), f"{name}: the payload ran a command")
    return "refused: 3 payloads (dotted, __reduce__, tagged), nothing executed"


async def _fill(bs: str, topic: str) -> None:
    from detector.kafka import KafkaConnection, TopicAdmin, TopicSpec, produce_lines

    async with TopicAdmin(KafkaConnection(bootstrap_servers=bs)) as admin:
        await admin.ensure_topics([TopicSpec(topic, 1)])
    await produce_lines(bs, topic, GOOD, key_fn=lambda _l: b"shop")


def snapshot_tampered_state_dir_cli(work: Path) -> str:
    """``detector run --state-dir``, tamper the checkpoint, run again: refused, not run."""
    from detector.kafka import BrokerUnavailable, EmbeddedBroker
    from detector.state.checkpointing import pack, unpack

    try:
        broker = EmbeddedBroker().start()
    except BrokerUnavailable as exc:
        raise ProbeFailed(f"no embedded broker: {exc}") from None
    marker = work / "pwned"
    try:
        bs = broker.bootstrap_servers
        asyncio.run(_fill(bs, "access"))
        args = ["run", "--bootstrap-servers", bs, "--topic", "access", "--group-id", "probe",
                "--deployments-topic", "deployments", "--sink", f"jsonl:{work / 'inc.jsonl'}",
                "--state-dir", str(work / "state"), "--metrics-port", "0",
                "--checkpoint-every", "1", "--drain-when-idle", "2"]
        first = run_detector(args, env=FAST, timeout=90)
        check(first.returncode == 0, f"first run: exit {first.returncode}: "
                                     f"{first.stderr.decode()[-300:]}")
        files = list((work / "state").glob("*.ckpt"))
        check(len(files) == 1, f"expected one checkpoint, found {len(files)}")
        offset, _ = unpack(files[0].read_bytes())
        files[0].write_bytes(pack(offset, _v1(dotted(marker))))
        second = run_detector(args, env=FAST, timeout=90)
    finally:
        broker.stop()
    err = second.stderr.decode()
    check(not marker.exists(), "the tampered checkpoint ran a command on restart")
    check(second.returncode == 0, f"restart: exit {second.returncode}: {err[-300:]}")
    check("checkpoint unusable" in err and "forbidden type" in err,
          f"restart did not report the refused checkpoint: {err[-300:]}")
    return "refused on restart: logged 'checkpoint unusable: forbidden type', nothing executed"


def _registry(work: Path) -> tuple[Path, str]:
    from datetime import UTC, datetime

    from detector.models.registry import ModelRegistry

    root = work / "models"
    v = ModelRegistry(root).publish("request", {"threshold": 0.5}, artifacts={"x.txt": b"x"},
                                    trained_at=datetime(2026, 3, 17, tzinfo=UTC))
    return root, v


def _scan(work: Path, root: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    logs = work / "in.jsonl"
    logs.write_bytes(b"\n".join(GOOD) + b"\n")
    r = run_detector(["scan", str(logs), "--models", str(root), "--output",
                      str(work / "out.jsonl")], env=env, timeout=90)
    return r.returncode, r.stderr.decode() + r.stdout.decode()


def registry_current_symlink_outside(work: Path) -> str:
    root, _ = _registry(work)
    secret = work / "passwd"
    secret.write_text(SECRET + "\n")
    (root / "request" / "current").unlink()
    (root / "request" / "current").symlink_to(secret)
    code, out = _scan(work, root)
    check(SECRET not in out and "TOP-SECRET" not in out, "the outside file leaked")
    check(code == 2 and "outside the model registry" in out, f"exit {code}: {out[-300:]}")
    return "refused: exit 2, 'leads outside the model registry', nothing leaked"


def registry_version_symlink_outside(work: Path) -> str:
    elsewhere, v = _registry(work / "elsewhere")
    root = work / "models"
    (root / "request").mkdir(parents=True)
    (root / "request" / v).symlink_to(elsewhere / "request" / v, target_is_directory=True)
    (root / "request" / "current").write_text(v + "\n")
    code, out = _scan(work, root)
    check(code == 2 and "outside the model registry" in out, f"exit {code}: {out[-300:]}")
    return "refused: exit 2, version folder outside the registry not loaded"


def registry_resummed_card_with_key(work: Path) -> str:
    env = {"DETECTOR_MODEL_KEY": "probe-model-key-0123456789abcdef"}
    history = work / "history.jsonl"
    history.write_bytes(b"\n".join(GOOD * 8) + b"\n")
    r = run_detector(["train", str(history), "--out", str(work / "models")], env=env)
    check(r.returncode == 0, f"train: exit {r.returncode}: {r.stderr.decode()[-300:]}")
    (card_path,) = (work / "models").glob("*/*/card.json")
    card = orjson.loads(card_path.read_bytes())
    check(str(card.get("signature", "")).startswith("hmac-sha256:"), "train did not sign")
    name = next(iter(a for a in card["artifacts"] if a != "model.skops"))
    forged = b'{"forged": true}'
    (card_path.parent / name).write_bytes(forged)
    card["artifacts"][name] = {"sha256": hashlib.sha256(forged).hexdigest(),
                               "bytes": len(forged)}
    card_path.write_bytes(orjson.dumps(card))
    code, out = _scan(work, work / "models", env)
    check(code == 2 and "signature mismatch" in out, f"exit {code}: {out[-300:]}")
    return "refused: exit 2, card signature mismatch after re-summing a swapped artifact"


PROBES: list[Probe] = [
    Probe("snapshot-payloads-restore", snapshot_payloads_restore),
    Probe("snapshot-tampered-state-dir-cli", snapshot_tampered_state_dir_cli),
    Probe("registry-current-symlink-outside", registry_current_symlink_outside),
    Probe("registry-version-symlink-outside", registry_version_symlink_outside),
    Probe("registry-resummed-card-with-key", registry_resummed_card_with_key),
]
