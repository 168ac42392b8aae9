"""The release record's canonical form, digest, signature, key and directory (CONTRACTS §6)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.verdict.record import (
    KEY_ENV,
    KEY_FILE_ENV,
    RecordError,
    canonical,
    check_file,
    dumps,
    escape_name,
    iter_records,
    read_record,
    record_path,
    seal,
    signing_key,
    unescape_name,
    verify,
    write_record,
)
from tests.verdict.records import KEY, sample_record


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _changed(record: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(record)
    *parents, last = path
    holder = out
    for p in parents:
        holder = holder[p]
    old = holder[last]
    holder[last] = (not old if isinstance(old, bool) else old + 1 if isinstance(old, int | float)
                    else old + "x" if isinstance(old, str) else "x")
    return out


# -- canonical form ------------------------------------------------------------------


def test_canonical_ignores_key_order_at_every_level() -> None:
    rec = sample_record()
    reordered = json.loads(json.dumps(rec), object_pairs_hook=lambda kv: dict(reversed(kv)))
    assert list(reordered) != list(rec)
    assert list(reordered["checks"][0]) != list(rec["checks"][0])
    assert canonical(reordered) == canonical(rec)
    assert canonical(rec) == canonical(sample_record())  # a fresh equal dict: same bytes


def test_canonical_is_compact_sorted_utf8() -> None:
    raw = canonical({"z": 1, "a": {"é": "日本", "b": [1.0, 0.1, -0.0, 1e-12, 1e300]}})
    assert raw == ('{"a":{"b":[1.0,0.1,0.0,1e-12,1e+300],"é":"日本"},"z":1}').encode()
    assert canonical({"a": "é"}) == canonical({"a": "\u00e9"})
    assert canonical({"a": -0.0}) == canonical({"a": 0.0}) == b'{"a":0.0}'


def test_canonical_leaves_out_only_digest_and_signature() -> None:
    rec = sample_record()
    sealed = seal(rec, KEY)
    assert canonical(sealed) == canonical(rec)
    assert b'"digest"' not in canonical(sealed) and b"score" in canonical(sealed)


@pytest.mark.parametrize("bad, where", [
    ({"score": float("nan")}, "score"),
    ({"checks": [{"mde": float("inf")}]}, "checks[0].mde"),
    ({"checks": [{"interval": [0.1, float("-inf")]}]}, "checks[0].interval[1]"),
    ({"traffic": {1: 2}}, "traffic"),
    ({"service": "a\ud800"}, "service"),
    ({"deployed_at": datetime(2026, 3, 17, tzinfo=UTC)}, "deployed_at"),
    ({"not_evaluated": {"scanning"}}, "not_evaluated"),
    ({"traffic": {"baseline_requests": 2**70}}, "traffic.baseline_requests"),
])
def test_canonical_refuses_what_json_cannot_hold_naming_the_field(
        bad: dict[str, Any], where: str) -> None:
    with pytest.raises(ValueError) as err:
        canonical(bad)
    assert str(err.value).startswith(f"{where}: "), str(err.value)
    assert "\n" not in str(err.value)


def test_canonical_refuses_deep_nesting_without_recursion_error() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than"):
        canonical({"x": deep})


def test_numpy_scalars_and_tuples_give_the_bytes_of_plain_values() -> None:
    assert (canonical({"a": np.float64(0.1), "b": np.int64(3), "c": (1, 2)})
            == canonical({"a": 0.1, "b": 3, "c": [1, 2]}))


# -- digest and signature ------------------------------------------------------------


def test_digest_is_sha256_of_canonical_and_signature_hmac_of_it() -> None:
    rec = sample_record()
    sealed = seal(rec, KEY)
    assert sealed["digest"] == "sha256:" + hashlib.sha256(canonical(rec)).hexdigest()
    assert sealed["signature"] == "hmac-sha256:" + hmac.new(
        KEY, canonical(rec), hashlib.sha256).hexdigest()
    assert seal(rec, None)["signature"] is None
    assert seal(sealed, KEY) == sealed  # sealing again changes nothing


def test_seal_is_a_deep_copy() -> None:
    rec = sample_record()
    sealed = seal(rec, None)
    rec["checks"][0]["candidate"] = 0.5
    assert sealed["checks"][0]["candidate"] == 0.118
    assert verify(sealed, None) == []


def test_digest_changes_when_any_field_changes() -> None:
    rec = sample_record()
    digest = seal(rec, None)["digest"]
    paths = list(_leaves(rec))
    assert len(paths) > 50
    for path in paths:
        assert seal(_changed(rec, path), None)["digest"] != digest, path
    assert seal({**rec, "extra": None}, None)["digest"] != digest  # a key added
    assert seal({k: v for k, v in rec.items() if k != "score"}, None)["digest"] != digest


def test_a_sealed_record_verifies_with_and_without_its_key() -> None:
    assert verify(seal(sample_record(), None), None) == []
    assert verify(seal(sample_record(), KEY), KEY) == []


def test_verify_detects_a_tampered_check_value() -> None:
    sealed = seal(sample_record(), KEY)
    sealed["checks"][0]["result"] = "pass"
    problems = verify(sealed, KEY)
    assert [p.split(":")[0] for p in problems] == ["digest mismatch", "signature mismatch"]


def test_verify_detects_a_recomputed_digest_without_the_key() -> None:
    sealed = seal(sample_record(), KEY)
    sealed["verdict"] = "pass"
    forged = {**seal(sealed, None), "signature": sealed["signature"]}  # digest redone
    assert verify(forged, None) == [
        "signed, but no key was given: the signature cannot be checked "
        f"(--key-file, {KEY_ENV} or {KEY_FILE_ENV})"]
    assert verify(forged, KEY) == [
        "signature mismatch: another key, or the record changed after it was signed"]


def test_verify_detects_a_removed_signature_and_a_wrong_key() -> None:
    sealed = seal(sample_record(), KEY)
    assert verify({**sealed, "signature": None}, KEY) == [
        "not signed, but a key was given: it was never signed, or its signature was removed"]
    assert verify(sealed, b"another-key-of-16-bytes") == [
        "signature mismatch: another key, or the record changed after it was signed"]
    assert verify({**sealed, "signature": "md5:00"}, KEY) == [
        "signature 'md5:00' is not hmac-sha256:<hex>"]


def test_verify_reports_schema_shape_and_missing_fields() -> None:
    sealed = seal(sample_record(), None)
    assert verify({**sealed, "schema": 2}, None)[0] == "schema 2: this detector reads schema 1"
    assert verify({**sealed, "schema": True}, None)[0].startswith("schema True")
    del sealed["windows"], sealed["digest"]
    assert verify(sealed, None) == ["missing fields: windows, digest"]
    odd = seal(sample_record(verdict="ok", score=101, service="", checks={}), None)
    assert verify(odd, None) == [
        "service '' is not a name", "verdict 'ok' is not one of pass, marginal, fail, "
        "inconclusive", "score 101 is not an integer from 0 to 100",
        "checks is not a list of objects"]
    assert verify([1, 2], None) == ["not a JSON object"]


# -- the key ---------------------------------------------------------------------------


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    return monkeypatch


def test_signing_key_sources_and_precedence(no_key_env: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    assert signing_key(None) is None
    flag = tmp_path / "flag.key"
    flag.write_bytes(b"  from-the-flag-file-0123\n")
    no_key_env.setenv(KEY_ENV, " from-the-environment-0123 ")
    assert signing_key(None) == b"from-the-environment-0123"
    assert signing_key(flag) == b"from-the-flag-file-0123"  # the flag beats the environment
    no_key_env.delenv(KEY_ENV)
    env_file = tmp_path / "env.key"
    env_file.write_bytes(b"from-the-env-file-0123456\n")
    no_key_env.setenv(KEY_FILE_ENV, str(env_file))
    assert signing_key(None) == b"from-the-env-file-0123456"


def test_bad_keys_are_one_line_errors(no_key_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty.key"
    empty.write_bytes(b" \n")
    short = tmp_path / "short.key"
    short.write_bytes(b"abc")
    cases = [(empty, f"--key-file: {empty} is empty"),
             (short, "must be at least 16 bytes"),
             (tmp_path / "missing.key", "cannot read"),
             (tmp_path, "cannot read")]
    for path, message in cases:
        with pytest.raises(RecordError, match=message) as err:
            signing_key(path)
        assert "\n" not in str(err.value)
    no_key_env.setenv(KEY_FILE_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(RecordError, match=f"{KEY_FILE_ENV}: cannot read"):
        signing_key(None)
    no_key_env.setenv(KEY_ENV, "k" * 20)
    with pytest.raises(RecordError, match="set only one of"):
        signing_key(None)


# -- names and paths -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", "../../etc/x", "a/b", "a\x00b", ".hidden", "%2F",
                                  "/", "\\..\\x", "..json", "日本", " "])
def test_hostile_names_stay_one_component(name: str, tmp_path: Path) -> None:
    escaped = escape_name(name)
    assert "/" not in escaped and "\x00" not in escaped and "\\" not in escaped
    assert not escaped.startswith(".") and escaped.isascii()
    assert unescape_name(escaped) == name
    path = record_path(tmp_path, name, name)
    assert path.parent.parent == tmp_path
    assert path.resolve().is_relative_to(tmp_path.resolve())


def test_escaping_is_unambiguous() -> None:
    assert escape_name("/") != escape_name("%2F") != escape_name("%252F")
    for not_ours in ["%2f", "%61", "a%", "%", "..", ".x", "a/b", "%FF", "", "%2E%2E"]:
        with pytest.raises(RecordError):
            unescape_name(not_ours)


def test_empty_and_overlong_names_are_refused() -> None:
    with pytest.raises(RecordError, match="empty"):
        record_path("releases", "", "1.0")
    with pytest.raises(RecordError, match="too long"):
        record_path("releases", "payments", "/" * 100)


@settings(max_examples=300, deadline=None)
@given(service=st.text(), version=st.text())
def test_any_name_stays_inside_the_directory_and_round_trips(service: str, version: str) -> None:
    root = Path("/srv/releases")
    try:
        path = record_path(root, service, version)
    except RecordError as exc:
        assert "empty" in str(exc) or "too long" in str(exc), str(exc)
        return
    rel = path.relative_to(root)
    assert len(rel.parts) == 2 and ".." not in rel.parts and "." not in rel.parts
    assert os.path.normpath(path) == str(path)  # nothing for the OS to collapse
    assert all(len(p.encode()) <= 255 - 30 for p in rel.parts)
    assert unescape_name(rel.parts[0]) == service
    assert unescape_name(rel.parts[1].removesuffix(".json")) == version


# -- files -----------------------------------------------------------------------------


def test_write_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    sealed = seal(sample_record(), KEY)
    path = write_record(tmp_path, sealed)
    first = path.read_bytes()
    assert write_record(tmp_path, seal(sample_record(), KEY)) == path
    assert path.read_bytes() == first == dumps(sealed) + b"\n"
    assert path == tmp_path / "payments" / "2.32.0.json"
    assert sorted(p.name for p in path.parent.iterdir()) == ["2.32.0.json"]  # no temp left
    assert read_record(path) == sealed
    assert verify(read_record(path), KEY) == [] and check_file(path, KEY, tmp_path) == []


def test_floats_survive_the_file_round_trip(tmp_path: Path) -> None:
    values = [0.1, 1e-12, 1e300, -1.5, 2.0, 1 / 3, 5e-324, 0.0]
    sealed = seal(sample_record(traffic={"values": values}), None)
    back = read_record(write_record(tmp_path, sealed))
    assert back["traffic"]["values"] == values and canonical(back) == canonical(sealed)


def test_a_hostile_version_is_written_inside_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "releases"
    path = write_record(root, seal(sample_record(service="..", version="../../x"), None))
    assert path.resolve().is_relative_to(root.resolve())
    found = [p.relative_to(root).as_posix() for p in iter_records(root)]
    assert found == ["%2E./%2E.%2F..%2Fx.json"]
    assert not (tmp_path / "x.json").exists()


def test_write_refuses_a_record_changed_after_sealing(tmp_path: Path) -> None:
    sealed = seal(sample_record(), None)
    sealed["score"] = 99
    with pytest.raises(ValueError, match="seal it"):
        write_record(tmp_path, sealed)
    with pytest.raises(ValueError, match="seal it"):
        write_record(tmp_path, sample_record())
    assert list(tmp_path.iterdir()) == []


def test_write_into_an_unwritable_place_is_a_record_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RecordError, match="cannot write"):
        write_record(blocker, seal(sample_record(), None))


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not a JSON object but list"),
    (b"\xff\xfe", "not valid JSON"),
    (b"", "not valid JSON"),
])
def test_read_record_errors_are_one_line_naming_the_file(
        tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(RecordError, match=message) as err:
        read_record(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    with pytest.raises(RecordError, match="cannot read"):
        read_record(tmp_path / "missing.json")


def test_iter_records_lists_record_files_only_sorted(tmp_path: Path) -> None:
    for service, version in [("search", "1.0"), ("payments", "2.32.0"), ("payments", "2.31.0")]:
        write_record(tmp_path, seal(sample_record(service=service, version=version), None))
    (tmp_path / "payments" / ".2.33.0.json.0123.tmp").write_bytes(b"{")
    (tmp_path / "payments" / "notes.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / "top.json").write_text("{}")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_records(tmp_path)] == [
        "payments/2.31.0.json", "payments/2.32.0.json", "search/1.0.json"]
    with pytest.raises(RecordError, match="cannot read"):
        list(iter_records(tmp_path / "missing"))


def test_check_file_catches_edits_outside_the_record(tmp_path: Path) -> None:
    old = write_record(tmp_path, seal(sample_record(version="2.31.0", verdict="pass",
                                                    score=97), KEY))
    new = write_record(tmp_path, seal(sample_record(), KEY))
    new.write_bytes(old.read_bytes())  # the passing record copied over the failing one
    assert check_file(new, KEY) == []  # alone it is a genuine record...
    assert check_file(new, KEY, tmp_path) == [  # ...but not the one of this path
        f"holds the record of 'payments' '2.31.0', which belongs at {old}"]
    pretty = orjson.dumps(read_record(old), option=orjson.OPT_INDENT_2)
    old.write_bytes(pretty)
    assert check_file(old, KEY, tmp_path) == [
        "not in the canonical form it was written in: edited, or reformatted"]
    genuine = write_record(tmp_path, seal(sample_record(), KEY)).read_bytes()
    # A key given twice: this reader takes the last (genuine) value, others the first.
    new.write_bytes(b'{"verdict":"pass",' + genuine[1:])
    assert check_file(new, KEY, tmp_path) == [
        "not in the canonical form it was written in: edited, or reformatted"]
    (tmp_path / "payments" / "bad.json").write_bytes(b"[]")
    assert check_file(tmp_path / "payments" / "bad.json", KEY) == ["not a JSON object but list"]
