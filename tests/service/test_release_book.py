"""The service's release book keeps judging when a record cannot be written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detector.service.releases import ReleaseBook
from detector.verdict.record import KEY_ENV, KEY_FILE_ENV, read_record, verify
from tests.verdict.records import sample_record


@pytest.fixture(autouse=True)
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)


def test_records_are_sealed_kept_and_written(tmp_path: Path) -> None:
    book = ReleaseBook(tmp_path, None)
    book.add(sample_record())
    verdict, record = book.judge("payments", "2.32.0")
    assert verdict == "fail" and record is not None and verify(record, None) == []
    assert read_record(tmp_path / "payments" / "2.32.0.json") == record


@pytest.mark.parametrize("why", ["unwritable directory", "name too long"])
def test_a_record_that_cannot_be_written_is_logged_and_kept(tmp_path: Path, why: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    logged: list[tuple[str, dict[str, Any]]] = []
    book = ReleaseBook(blocker if why == "unwritable directory" else tmp_path, None,
                       log=lambda msg, **fields: logged.append((msg, fields)))  # type: ignore[arg-type]
    version = "2.32.0" if why == "unwritable directory" else "v" * 300
    book.add(sample_record(version=version))  # no exception: the service goes on
    assert book.judge("payments", version)[0] == "fail"
    assert [m for m, _ in logged] == ["release record not written", "release judged"]
    assert logged[0][1]["level"] == "error"


def test_another_replicas_record_answers_from_the_shared_directory(tmp_path: Path) -> None:
    writer = ReleaseBook(tmp_path, None)  # the replica owning the release's partition
    writer.add(sample_record())
    logged: list[tuple[str, dict[str, Any]]] = []
    reader = ReleaseBook(tmp_path, None,
                         log=lambda msg, **fields: logged.append((msg, fields)))  # type: ignore[arg-type]
    verdict, record = reader.judge("payments", "2.32.0")
    assert verdict == "fail" and record == writer.judge("payments", "2.32.0")[1]
    assert reader.judge("payments", "9.9.9") == ("unknown", None)
    # A record changed on disk is never a gate's answer.
    path = tmp_path / "payments" / "2.32.0.json"
    path.write_bytes(path.read_bytes().replace(b'"verdict":"fail"', b'"verdict":"pass"'))
    assert reader.judge("payments", "2.32.0") == ("unknown", None)
    assert logged and logged[-1][0] == "release record refused"
