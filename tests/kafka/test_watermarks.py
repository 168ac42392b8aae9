from __future__ import annotations

from detector.kafka import PartitionWatermarks


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_min_over_partitions_and_monotonic() -> None:
    clock = Clock()
    wm = PartitionWatermarks(idle_timeout=10, clock=clock)
    wm.assign(["a", "b"])
    assert wm.watermark() is None
    wm.observe("a", 50)
    assert wm.watermark() is None  # b may still deliver older data
    wm.observe("b", 40)
    assert wm.watermark() == 40
    wm.observe("b", 45)
    wm.observe("a", 30)  # out of order within a: max stays 50
    assert wm.watermark() == 45
    assert wm.partition_max("a") == 50


def test_idle_partition_stops_holding_back_and_never_rewinds() -> None:
    clock = Clock()
    wm = PartitionWatermarks(idle_timeout=10, clock=clock)
    wm.assign(["a", "b"])
    wm.observe("a", 100)
    clock.now = 11  # b never delivered: idle
    wm.observe("a", 110)
    assert wm.watermark() == 110
    wm.observe("b", 20)  # b wakes up far behind: its events are late, the watermark holds
    assert wm.watermark() == 110
    clock.now = 30
    wm.observe("a", 200)
    wm.observe("b", 150)
    assert wm.watermark() == 150


def test_revoked_partition_no_longer_counts() -> None:
    clock = Clock()
    wm = PartitionWatermarks(idle_timeout=10, clock=clock)
    wm.assign(["a", "b"])
    wm.observe("a", 100)
    wm.observe("b", 10)
    assert wm.watermark() == 10
    wm.revoke(["b"])
    assert wm.watermark() == 100
    assert wm.partition_max("b") is None
