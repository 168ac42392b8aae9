"""Which connect failures the service tries again: aiokafka's own ``retriable``
flag (and transport errors), never the error's class name."""

from __future__ import annotations

import io

import pytest
from aiokafka.errors import (
    KafkaConfigurationError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NoBrokersAvailable,
    UnknownTopicOrPartitionError,
    UnsupportedVersionError,
)

from detector.config import Settings
from detector.kafka.errors import (
    DeadLetterError,
    SourceClosedError,
    TopicAdminError,
    retriable,
)
from detector.service.jsonlog import JsonLog
from detector.service.runtime import ServiceRuntime, connect_error

from .conftest import service_settings


@pytest.mark.parametrize("exc", [
    KafkaConnectionError("Unable to bootstrap"),
    NoBrokersAvailable(),  # retriable, though "Kafka" is not in its name
    UnknownTopicOrPartitionError(),
    KafkaTimeoutError(),  # aiokafka's own timeout: it already waited, the loop waits on
    ConnectionRefusedError(111, "refused"),
    TimeoutError(),
    TopicAdminError("controller moved", retriable=True),
])
def test_retriable(exc: BaseException) -> None:
    assert retriable(exc)
    assert connect_error(exc)


@pytest.mark.parametrize("exc", [
    KafkaConfigurationError("bad sasl"),  # "Kafka" in its name, yet never worth retrying
    KafkaError(),
    UnsupportedVersionError(),
    TopicAdminError("invalid config"),
    SourceClosedError("not started"),
    DeadLetterError("refused"),
    ValueError("Kafka-ish message"),
    RuntimeError(),
])
def test_not_retriable(exc: BaseException) -> None:
    assert not retriable(exc)
    assert connect_error(exc) is None


def test_kafka_error_keeps_its_own_message() -> None:
    exc = KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")
    assert connect_error(exc) == f"{exc}"
    assert connect_error(OSError()) == "OSError"


def _runtime(**kw: object) -> tuple[ServiceRuntime, io.StringIO]:
    log = io.StringIO()
    cfg = service_settings("127.0.0.1:9", "a", "d", "g", **kw)
    return ServiceRuntime(cfg, Settings(), [], log=JsonLog(log)), log


async def test_a_retriable_failure_is_tried_again_until_the_connect_timeout() -> None:
    rt, log = _runtime(connect_timeout=0.3)
    calls = 0

    async def connect() -> None:
        nonlocal calls
        calls += 1
        raise NoBrokersAvailable()

    rt._connect = connect  # type: ignore[method-assign]
    assert await rt.run() == 2
    assert calls >= 2
    assert rt.failure is not None and "NoBrokersAvailable" in rt.failure
    assert log.getvalue().count('"broker unreachable"') == calls


async def test_a_final_failure_propagates_at_once() -> None:
    rt, _ = _runtime(connect_timeout=30.0)
    calls = 0

    async def connect() -> None:
        nonlocal calls
        calls += 1
        raise KafkaConfigurationError("sasl_mechanism is required")

    rt._connect = connect  # type: ignore[method-assign]
    with pytest.raises(KafkaConfigurationError):
        await rt.run()
    assert calls == 1
