"""Kafka edges of the pipeline: the source, producers, topic admin, and an
embedded broker for tests and the demo.

The pipeline itself never imports aiokafka; it sees :class:`KafkaSource`,
:class:`KafkaRecord` and :class:`detector.events.BadRecord`.
"""

from detector.kafka.admin import TopicAdmin, TopicSpec
from detector.kafka.broker import EmbeddedBroker
from detector.kafka.config import KafkaConnection, KafkaSourceConfig
from detector.kafka.dead_letter import DeadLetterProducer
from detector.kafka.errors import (
    BrokerUnavailable,
    DeadLetterError,
    KafkaEdgeError,
    SourceClosedError,
    TopicAdminError,
)
from detector.kafka.producer import key_partition, produce_lines
from detector.kafka.records import KafkaRecord, partition_lag, strip_schema_prefix
from detector.kafka.source import KafkaSource
from detector.kafka.watermarks import PartitionWatermarks

__all__ = [
    "BrokerUnavailable",
    "DeadLetterError",
    "DeadLetterProducer",
    "EmbeddedBroker",
    "KafkaConnection",
    "KafkaEdgeError",
    "KafkaRecord",
    "KafkaSource",
    "KafkaSourceConfig",
    "PartitionWatermarks",
    "SourceClosedError",
    "TopicAdmin",
    "TopicAdminError",
    "TopicSpec",
    "key_partition",
    "partition_lag",
    "produce_lines",
    "strip_schema_prefix",
]
