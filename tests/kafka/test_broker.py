from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from detector.kafka import BrokerUnavailable, EmbeddedBroker
from detector.kafka.broker import ENV_VAR, find_tansu, kafka_answers


@pytest.mark.broker
def test_sync_start_stop_and_pause() -> None:
    try:
        b = EmbeddedBroker().start()
    except BrokerUnavailable as e:
        pytest.skip(str(e))
    try:
        assert b.pid > 0
        assert kafka_answers("127.0.0.1", b.port)
        b.pause()
        assert not kafka_answers("127.0.0.1", b.port, timeout=0.3)
        b.resume()
        assert kafka_answers("127.0.0.1", b.port)
        log = b.log_path
        assert log is not None and "listening on" in log.read_text()
    finally:
        port = b.port
        b.stop()
    assert not kafka_answers("127.0.0.1", port, timeout=0.3)


@pytest.mark.broker
async def test_async_context_manager() -> None:
    try:
        async with EmbeddedBroker() as b:
            assert b.bootstrap_servers.startswith("127.0.0.1:")
            assert kafka_answers("127.0.0.1", b.port)
    except BrokerUnavailable as e:
        pytest.skip(str(e))


@pytest.mark.broker
def test_stop_while_paused_does_not_hang() -> None:
    try:
        b = EmbeddedBroker(stop_grace=2.0).start()
    except BrokerUnavailable as e:
        pytest.skip(str(e))
    pid, port = b.pid, b.port
    b.pause()
    started = time.monotonic()
    b.stop()
    # A frozen process ignores SIGTERM until continued: stop() must resume it first, so
    # it ends on SIGTERM well before the grace period that would fall back to SIGKILL.
    assert time.monotonic() - started < b.stop_grace
    with pytest.raises(ProcessLookupError):  # reaped, not left as a zombie or running
        os.kill(pid, 0)
    assert not kafka_answers("127.0.0.1", port, timeout=0.3)


def _script(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "fake-tansu"
    p.write_text(body)
    p.chmod(0o755)
    return p


@pytest.mark.parametrize(
    ("body", "mode", "message"),
    [
        ("", 0o644, "not an executable file"),
        ("\x7fELF garbage", 0o755, "cannot run"),
        ("#!/bin/sh\necho boom >&2\nexit 3\n", 0o755, "exited with 3"),
    ],
)
def test_unusable_binary_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, mode: int, message: str
) -> None:
    p = _script(tmp_path, body)
    p.chmod(mode)
    monkeypatch.setenv(ENV_VAR, str(p))
    with pytest.raises(BrokerUnavailable, match=message) as info:
        EmbeddedBroker(start_timeout=3).start()
    assert "\n" not in str(info.value)
    assert info.value.retriable is False


def test_missing_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "/nonexistent/tansu")
    with pytest.raises(BrokerUnavailable, match=ENV_VAR):
        find_tansu()


def test_finds_packaged_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    try:
        path = find_tansu()
    except BrokerUnavailable as e:
        pytest.skip(str(e))
    assert os.access(path, os.X_OK)
