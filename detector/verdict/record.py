"""The release record (CONTRACTS §6): its canonical form, digest, signature and checks.

A record is plain JSON data (str, int, float, bool, None, list, dict with str keys).
Its canonical form is that JSON with sorted keys, no insignificant whitespace, UTF-8,
each float in its shortest round-trip form (orjson) and -0.0 written as 0.0, so one
record is one byte string on every machine: replay and live agree byte for byte.

- ``digest``: ``sha256:`` + the hex sha256 of the canonical form of the record
  without its ``digest`` and ``signature`` keys. It catches accidents (a truncated
  copy, an edit by hand), not tampering: whoever can edit a record can recompute it.
- ``signature``: ``hmac-sha256:`` + the hex HMAC-SHA256 of those same bytes under a
  secret key (:func:`signing_key`), or None. A plain HMAC of the canonical bytes, so
  anyone holding the key can check a record without this tool. The keyed MACs of
  :mod:`detector.state.signing` start their message with a purpose label, canonical
  JSON with ``{``: a key shared with them cannot make one pass for the other.

Records live at ``DIR/<service>/<version>.json`` (:func:`record_path`: names escaped
so that none leaves ``DIR``), written atomically as the canonical form of the whole
sealed record and a newline: writing a record twice gives the same bytes.

>>> rec = {"schema": 1, "service": "payments", "version": "2.32.0", "score": 97}
>>> canonical(rec)
b'{"schema":1,"score":97,"service":"payments","version":"2.32.0"}'
>>> sealed = seal(rec, None)
>>> sealed["digest"][:19], sealed["signature"]
('sha256:f227bee869c0', None)
>>> sealed["score"] = 100  # edited after sealing
>>> verify(sealed, None)[-1]
'digest mismatch: recorded sha256:f227bee869c0..., content gives sha256:77f8129b213b...'
"""

from __future__ import annotations

import hashlib
import hmac
import numbers
import os
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from detector.errors import UsageError
from detector.state.signing import MIN_KEY_BYTES, KeyConfigError, load_key

__all__ = ["KEY_ENV", "KEY_FILE_ENV", "REQUIRED", "SCHEMA", "RecordError", "canonical",
           "check_file", "dumps", "escape_name", "iter_records", "read_record", "record_path",
           "seal", "signing_key", "unescape_name", "verify", "write_record"]

SCHEMA = 1
KEY_ENV, KEY_FILE_ENV = "DETECTOR_RECORD_KEY", "DETECTOR_RECORD_KEY_FILE"
SEAL_KEYS = ("digest", "signature")
REQUIRED = ("schema", "service", "version", "previous_version", "deployed_at", "windows",
            "traffic", "checks", "not_evaluated", "score", "verdict", "producer", *SEAL_KEYS)
VERDICTS = ("pass", "marginal", "fail", "inconclusive")
DIGEST_PREFIX, SIGNATURE_PREFIX = "sha256:", "hmac-sha256:"
_MAX_DEPTH = 32  # records nest 4 deep; a crafted file must not exhaust the stack
_MAX_KEY_FILE = 64 * 1024  # a key file is a line of text, never /dev/zero read to the end
_INT_RANGE = (-(2**63), 2**64 - 1)  # what orjson writes; JSON readers lose more past 2**53


class RecordError(UsageError):
    """A record, record directory or key that cannot be used (exit 2, one line).

    >>> signing_key(Path("/nonexistent/record.key"))
    Traceback (most recent call last):
    ...
    detector.verdict.record.RecordError: --key-file: cannot read /nonexistent/record.key: ...
    """


def canonical(record: Mapping[str, Any]) -> bytes:
    """The canonical JSON bytes of ``record`` without ``digest`` and ``signature``.

    Raises ValueError naming the field for anything that is not plain JSON data:
    NaN and infinities (JSON has no such numbers), non-str keys, other types.

    >>> canonical({"b": [1.5, None], "a": "é", "digest": "sha256:00"})
    b'{"a":"\\xc3\\xa9","b":[1.5,null]}'
    >>> canonical({"checks": [{"candidate": float("nan")}]})
    Traceback (most recent call last):
    ...
    ValueError: checks[0].candidate: nan is not a JSON number (a release record holds...
    """
    return dumps(_body(record))


def dumps(data: Any) -> bytes:
    """Canonical JSON bytes of any plain data (the whole record, seal keys included)."""
    return _encode(_plain(data))


def seal(record: Mapping[str, Any], key: bytes | None) -> dict[str, Any]:
    """A deep copy of ``record`` (as plain JSON data) with ``digest`` and ``signature`` set.

    >>> s = seal({"schema": 1}, b"k" * 16)
    >>> s["signature"].startswith("hmac-sha256:"), len(s["signature"])
    (True, 76)
    """
    if key is not None and not key:
        raise ValueError("an empty signing key signs nothing: pass None for no signature")
    body = _body(record)
    sealed: dict[str, Any] = _plain(body)
    raw = _encode(sealed)
    sealed["digest"] = _digest(raw)
    sealed["signature"] = None if key is None else _signature(key, raw)
    return sealed


def verify(record: Any, key: bytes | None) -> list[str]:
    """What is wrong with ``record``, one line each; an empty list when nothing is.

    Checks the fields CONTRACTS §6 requires, the schema, the digest, and the
    signature: a signed record without a key to check it is a problem (it is not
    verified), and so is an unsigned one when a key is given (a signature may have
    been removed).
    """
    if not isinstance(record, Mapping):
        return ["not a JSON object"]
    try:
        plain = _plain(record)
    except ValueError as exc:
        return [*_shape_problems(record), f"cannot be hashed: {exc}"]
    return _problems(plain, key)


def signing_key(key_file: Path | None = None) -> bytes | None:
    """The record key: ``key_file`` (``--key-file``), else ``$DETECTOR_RECORD_KEY`` (the
    key itself) or the file ``$DETECTOR_RECORD_KEY_FILE`` names; None when none is set.

    Surrounding whitespace is stripped; an unreadable, empty or short (< 16 bytes) key
    is a :class:`RecordError`.
    """
    if key_file is not None:  # a flag beats the environment
        return _key_from_file(key_file, "--key-file")
    try:
        return load_key(KEY_ENV, KEY_FILE_ENV)
    except KeyConfigError as exc:
        raise RecordError(str(exc)) from None


def _problems(plain: dict[str, Any], key: bytes | None) -> list[str]:
    """:func:`verify` of a record already made plain (walked once, however it is used)."""
    problems = _shape_problems(plain)
    raw = _encode(_body(plain))
    recorded = plain.get("digest")
    if "digest" in plain and not _same(recorded, _digest(raw)):
        problems.append(f"digest mismatch: recorded {_short(recorded)}, "
                        f"content gives {_short(_digest(raw))}")
    if "signature" in plain:
        problems.extend(_signature_problems(plain["signature"], key, raw))
    return problems


def _encode(plain: Any) -> bytes:
    try:
        return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # _plain lets nothing through that orjson refuses
        raise ValueError(f"not plain JSON data: {exc}") from None


def _body(record: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise ValueError(f"a release record is a JSON object, not {type(record).__name__}")
    return {k: v for k, v in record.items() if k not in SEAL_KEYS}


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data, or ValueError naming the field where it is not."""
    try:
        return _walk(value, 0)
    except _NotPlain as exc:
        where = "".join(reversed(exc.path)).lstrip(".") or "record"
        raise ValueError(f"{where}: {exc.reason}") from None


class _NotPlain(Exception):
    """Raised at the bad value; each level adds its key on the way up (no path is built
    while nothing is wrong: a record of hundreds of checks is walked at every seal)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.path: list[str] = []


def _walk(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        if not value.isascii():
            _check_utf8(value)
        return value
    if kind is float or isinstance(value, float):  # numpy floats are float subclasses
        if value - value != 0.0:  # inf - inf and nan - nan are nan
            raise _NotPlain(f"{value} is not a JSON number (a release record holds finite "
                            "numbers only)")
        return float(value) + 0.0  # -0.0 + 0.0 is 0.0: one zero, as RFC 8785 writes it
    if kind is int:
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise _NotPlain(f"integer {value} is too large for JSON")
        return value
    if value is None or kind is bool:
        return value
    if depth >= _MAX_DEPTH:
        raise _NotPlain(f"nested more than {_MAX_DEPTH} levels deep")
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlain(f"key {key!r} is not a string")
            name = key if type(key) is str else str.__str__(key)
            try:
                out[name] = _walk(item, depth + 1)
            except _NotPlain as exc:
                exc.path.append(f".{name}")
                raise
        return out
    if isinstance(value, list | tuple):
        items = []
        for i, item in enumerate(value):
            try:
                items.append(_walk(item, depth + 1))
            except _NotPlain as exc:
                exc.path.append(f"[{i}]")
                raise
        return items
    if isinstance(value, str):  # a str subclass (an enum member): its text
        return _walk(str.__str__(value), depth)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):  # numpy ints
        return _walk(int(value), depth)
    if isinstance(value, numbers.Real):  # other real numbers
        return _walk(float(value), depth)
    raise _NotPlain(f"{type(value).__name__} is not plain JSON data")


def _check_utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _NotPlain("text with a lone surrogate is not valid UTF-8") from None


def _shape_problems(record: Mapping[str, Any]) -> list[str]:
    problems = []
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        problems.append(f"missing fields: {', '.join(missing)}")
    schema = record.get("schema", SCHEMA)
    if type(schema) is not int or schema != SCHEMA:
        problems.append(f"schema {_short(schema)}: this detector reads schema {SCHEMA}")
    for name in ("service", "version"):
        value = record.get(name, "-")
        if not isinstance(value, str) or not value:
            problems.append(f"{name} {_short(value)} is not a name")
    if record.get("verdict", "pass") not in VERDICTS:
        problems.append(f"verdict {_short(record['verdict'])} is not one of "
                        f"{', '.join(VERDICTS)}")
    score = record.get("score", 0)
    if type(score) is not int or not 0 <= score <= 100:
        problems.append(f"score {_short(score)} is not an integer from 0 to 100")
    checks = record.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, Mapping) for c in checks):
        problems.append("checks is not a list of objects")
    return problems


def _signature_problems(signature: Any, key: bytes | None, raw: bytes) -> list[str]:
    if signature is None:
        if key is None:
            return []
        return ["not signed, but a key was given: it was never signed, or its signature "
                "was removed"]
    if not isinstance(signature, str) or not signature.startswith(SIGNATURE_PREFIX):
        return [f"signature {_short(signature)} is not {SIGNATURE_PREFIX}<hex>"]
    if key is None:
        return [f"signed, but no key was given: the signature cannot be checked "
                f"(--key-file, {KEY_ENV} or {KEY_FILE_ENV})"]
    if not _same(signature, _signature(key, raw)):
        return ["signature mismatch: another key, or the record changed after it was signed"]
    return []


def _digest(raw: bytes) -> str:
    return DIGEST_PREFIX + hashlib.sha256(raw).hexdigest()


def _signature(key: bytes, raw: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(key, raw, hashlib.sha256).hexdigest()


def _same(recorded: Any, expected: str) -> bool:
    if not isinstance(recorded, str):
        return False
    return hmac.compare_digest(recorded.encode("utf-8", "surrogatepass"), expected.encode())


def _short(value: Any) -> str:
    """A recorded value in a message: digests cut to 12 hex digits, anything else
    quoted (repr keeps control characters escaped) and cut."""
    if isinstance(value, str) and value.startswith((DIGEST_PREFIX, SIGNATURE_PREFIX)):
        prefix, _, hexpart = value.partition(":")
        return f"{prefix}:{hexpart[:12]}..." if len(hexpart) > 12 else value
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _key_from_file(path: Path, where: str) -> bytes:
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise RecordError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > _MAX_KEY_FILE:
        raise RecordError(f"{where}: {path} is larger than {_MAX_KEY_FILE // 1024} KiB, "
                          "not a key")
    key = raw.strip()
    if not key:
        raise RecordError(f"{where}: {path} is empty")
    if len(key) < MIN_KEY_BYTES:
        raise RecordError(f"{where}: the key in {path} must be at least {MIN_KEY_BYTES} bytes")
    return key


# -- the record directory -------------------------------------------------------------

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+")
# One escaped name, under the 255 bytes of common filesystems with ".json" and the
# temporary name of an atomic write (".<name>.json.<16 hex>.tmp") around it.
MAX_NAME_CHARS = 200
MAX_RECORD_BYTES = 32 * 1024 * 1024  # thousands of checks fit in a few MB


def escape_name(name: str) -> str:
    """``name`` (a service or version) as one path component that stays in its directory.

    Letters, digits and ``- _ . +`` stay; every other character is ``%XX`` for each
    byte of its UTF-8 (uppercase hex), ``%`` included, and so is a leading dot: no
    escaped name is ``.``, ``..`` or hidden, none holds a separator or NUL, and
    :func:`unescape_name` gives the name back. An empty name, or one escaping to
    more than 200 characters, is a :class:`RecordError`.

    >>> escape_name("2.32.0+build.7"), escape_name("../../etc/x"), escape_name("50%")
    ('2.32.0+build.7', '%2E.%2F..%2Fetc%2Fx', '50%25')
    """
    if not isinstance(name, str) or not name:
        raise RecordError(f"{name!r} cannot name a release record (an empty name)")
    try:
        parts = [ch if ch in _SAFE and not (i == 0 and ch == ".")
                 else "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                 for i, ch in enumerate(name)]
    except UnicodeEncodeError:
        raise RecordError(f"{name!r} is not valid UTF-8 text and cannot name a record") from None
    escaped = "".join(parts)
    if len(escaped) > MAX_NAME_CHARS:
        raise RecordError(f"{name[:40]!r}...: too long to name a record file "
                          f"({len(escaped)} characters escaped, at most {MAX_NAME_CHARS})")
    return escaped


def unescape_name(escaped: str) -> str:
    """The name :func:`escape_name` made ``escaped`` from; RecordError when no name escapes
    to exactly ``escaped`` (a file this tool did not name).

    >>> unescape_name("%2E.%2F..%2Fetc%2Fx")
    '../../etc/x'
    """
    from urllib.parse import unquote

    try:
        name = unquote(escaped, errors="strict")
        if escape_name(name) == escaped:
            return name
    except (UnicodeDecodeError, RecordError):
        pass
    raise RecordError(f"{escaped!r} is not the escaped name of a service or version")


def record_path(root: Path | str, service: str, version: str) -> Path:
    """Where the record of ``service`` ``version`` lives: ``root/<service>/<version>.json``.

    >>> record_path("releases", "payments", "../2.32.0").as_posix()
    'releases/payments/%2E.%2F2.32.0.json'
    """
    return Path(root) / escape_name(service) / f"{escape_name(version)}.json"


def write_record(root: Path | str, record: Mapping[str, Any]) -> Path:
    """Write a sealed record to :func:`record_path` atomically (temporary file, fsync,
    rename); the file holds ``dumps(record)`` and a newline. Returns the path.

    A record whose digest does not match its content (changed after :func:`seal`) is
    refused with ValueError: it would never verify.
    """
    if not _same(record.get("digest"), _digest(canonical(record))):
        raise ValueError("the record's digest does not match its content: seal it "
                         "(again) after the last change")
    if not isinstance(record.get("service"), str) or not isinstance(record.get("version"), str):
        raise ValueError("a release record names its service and version (strings)")
    path = record_path(root, record["service"], record["version"])
    _write_atomic(path, dumps(record) + b"\n")
    return path


def read_record(path: Path | str) -> dict[str, Any]:
    """The record in ``path``; RecordError (one line, naming the file) when it cannot be
    read or is not a JSON object."""
    try:
        return _read(Path(path))[1]
    except _Unreadable as exc:
        raise RecordError(f"{path}: {exc}") from None


def iter_records(root: Path | str) -> Iterator[Path]:
    """The record files under ``root`` (``*/*.json``, hidden names and temporary files
    skipped), sorted; RecordError when a directory cannot be listed."""
    base = Path(root)
    for service in _listing(base, want_dirs=True):
        yield from _listing(service, want_dirs=False)


def check_file(path: Path, key: bytes | None, root: Path | None = None) -> list[str]:
    """Every problem of the record file ``path``: unreadable, :func:`verify`'s, bytes that
    are not the canonical form written (edited by hand, a key given twice), and, when it
    was found under ``root``, a location that is not its :func:`record_path` (an old
    passing record copied over a failing one verifies on its own)."""
    try:
        raw, record = _read(path)
    except _Unreadable as exc:
        return [str(exc)]
    try:
        plain = _plain(record)
    except ValueError as exc:
        return verify(record, key) or [str(exc)]
    problems = _problems(plain, key)
    if not problems and raw.removesuffix(b"\n") != _encode(plain):
        problems.append("not in the canonical form it was written in: edited, or reformatted")
    if root is not None and isinstance(record.get("service"), str) and isinstance(
            record.get("version"), str):
        try:
            expected = record_path(root, record["service"], record["version"])
        except RecordError as exc:
            return [*problems, str(exc)]
        if expected != path:
            problems.append(f"holds the record of {_short(record['service'])} "
                            f"{_short(record['version'])}, which belongs at {expected}")
    return problems


class _Unreadable(Exception):
    pass


def _read(path: Path) -> tuple[bytes, dict[str, Any]]:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_RECORD_BYTES + 1)
    except OSError as exc:
        raise _Unreadable(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_RECORD_BYTES:
        raise _Unreadable(f"larger than {MAX_RECORD_BYTES // 2**20} MiB, not a release record")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _Unreadable(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _Unreadable(f"not a JSON object but {type(data).__name__}")
    return raw, data


def _listing(directory: Path, want_dirs: bool) -> list[Path]:
    try:
        entries = sorted(directory.iterdir())
        return [p for p in entries if not p.name.startswith(".") and (
            p.is_dir() if want_dirs else p.suffix == ".json" and p.is_file())]
    except OSError as exc:
        raise RecordError(f"cannot read {directory}: {exc.strerror or exc}") from None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never through a planted file or symlink; 0o666 less the umask, as any file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
    except OSError as exc:
        raise RecordError(f"cannot write {path}: {exc.strerror or exc}") from None


def _fsync_dir(directory: Path) -> None:
    # The rename survives a crash only once the directory is on disk too.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every platform opens directories
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
