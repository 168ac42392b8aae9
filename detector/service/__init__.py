"""The consumer service (``detector run``): Kafka in, one pipeline per partition, incidents out.

Checkpoints follow the documented order (flush sinks, save state with the
offset it reflects, commit offsets); see :mod:`detector.state.checkpointing`.
"""

from detector.service.config import ServiceSettings, load_service_settings

__all__ = [
    "ServiceSettings",
    "load_service_settings",
]
