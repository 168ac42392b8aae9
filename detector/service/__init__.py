"""The consumer service (``detector run``): Kafka in, one pipeline per partition, incidents out.

Checkpoints follow the documented order (flush sinks, save state with the
offset it reflects, commit offsets); see :mod:`detector.service.checkpoint`.
"""

from detector.service.checkpoint import DirectoryStore, KafkaChangelogStore, StateStore
from detector.service.config import ServiceSettings, load_service_settings

__all__ = [
    "DirectoryStore",
    "KafkaChangelogStore",
    "ServiceSettings",
    "StateStore",
    "load_service_settings",
]
