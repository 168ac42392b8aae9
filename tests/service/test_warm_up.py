"""The signature database compiled ahead of the first assignment is the one partitions share."""

from __future__ import annotations

import io
import threading

import pytest

from detector.analysis import signatures
from detector.config import Settings
from detector.service.config import ServiceSettings
from detector.service.context import ServiceContext
from detector.service.jsonlog import JsonLog
from detector.service.refresh import ModelRefresh


def _refresh(analysis: bool = True) -> ModelRefresh:
    ctx = ServiceContext(ServiceSettings(topics=("access",)), Settings(), [],
                         log=JsonLog(io.StringIO()))
    return ModelRefresh(ctx, analysis=analysis)


def test_warm_up_compiles_once_for_every_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    real = signatures.SignatureEngine.default
    calls: list[int] = []

    def counted() -> signatures.SignatureEngine:
        calls.append(1)
        return real()

    monkeypatch.setattr(signatures.SignatureEngine, "default", staticmethod(counted))
    refresh = _refresh()
    warm = threading.Thread(target=refresh.warm_up)
    warm.start()
    first = refresh.new_analyzer(None)  # may run while the thread compiles: waits for it
    warm.join()
    second = refresh.new_analyzer(None)
    assert first is not None and second is not None
    assert first is not second  # each partition its own profiles...
    assert first.signatures is second.signatures  # ...over one compiled database
    assert calls == [1]


def test_a_failed_warm_up_is_raised_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> signatures.SignatureEngine:
        raise RuntimeError("no database")

    monkeypatch.setattr(signatures.SignatureEngine, "default", staticmethod(broken))
    refresh = _refresh()
    refresh.warm_up()  # quiet: the restore that needs the database meets the error
    with pytest.raises(RuntimeError, match="no database"):
        refresh.new_analyzer(None)


def test_no_analysis_compiles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signatures.SignatureEngine, "default",
                        staticmethod(lambda: pytest.fail("compiled without analysis")))
    refresh = _refresh(analysis=False)
    refresh.warm_up()
    assert refresh.new_analyzer(None) is None
