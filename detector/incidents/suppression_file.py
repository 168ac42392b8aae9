"""Editing the suppression file (``detector suppress add|remove``), atomically.

TOML files are edited as text: a new entry is appended and a removed one is
cut out, so comments, layout and the order of the other entries stay as the
author wrote them. YAML files are rewritten from their data (comments in a
YAML file are not kept). Either way the new text is checked with the same
parser the service uses before it replaces the file, in one rename: a reader
(the service's watch) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import yaml

from detector.incidents.suppressions import (
    Maintenance,
    Rule,
    SuppressionError,
    Suppressions,
    is_yaml,
    read_document,
)

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(?:#.*)?$")
NEW_FILE_HEADER = ("# Suppression rules and maintenance windows (CONTRACTS §7), read by\n"
                   "# `detector replay --suppressions` and the service; edit with `detector "
                   "suppress`.\n")


def toml_value(v: object) -> str:
    """A TOML literal for a string or a list of strings (JSON escapes are TOML's).

    >>> toml_value("a\\"b"), toml_value(["x", "y"])
    ('"a\\\\"b"', '["x", "y"]')
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def entry_block(table: str, entry: dict[str, Any]) -> str:
    """One ``[[table]]`` entry as TOML text."""
    lines = [f"[[{table}]]"] + [f"{k} = {toml_value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


def add_entry(path: Path, table: str, entry: dict[str, Any]) -> Suppressions:
    """Append ``entry`` to ``table`` (``suppress`` or ``maintenance``); the file is
    created when missing. Returns the file's checked contents after the change."""
    if is_yaml(path):
        data = _yaml_data(path) if path.exists() else {}
        data.setdefault(table, []).append(entry)
        return _write_yaml(path, data)
    old = _text(path) if path.exists() else NEW_FILE_HEADER
    sep = "" if not old or old.endswith("\n\n") else ("\n" if old.endswith("\n") else "\n\n")
    return _write_toml(path, old + sep + entry_block(table, entry))


def remove_entry(path: Path, which: str) -> tuple[Suppressions, Rule | Maintenance]:
    """Remove a rule by its 1-based index or its id (``sup-…``), or a maintenance window
    by its id (``mnt-…``) or ``m<index>``. Returns the contents after and what went."""
    current = Suppressions.load(path)
    table, index, gone = _find(current, which)
    if is_yaml(path):
        data = _yaml_data(path)
        del data[table][index - 1]
        return _write_yaml(path, data), gone
    lines = _text(path).splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _table_of(line) == table]
    headers = [i for i, line in enumerate(lines) if _table_of(line) is not None]
    if len(starts) != (len(current.rules) if table == "suppress" else len(current.maintenance)):
        raise SuppressionError(f"{path}: cannot locate entry {which!r} in the text "
                               "(tables written inline?): edit the file by hand")
    first = starts[index - 1]
    end = next((h for h in headers if h > first), len(lines))
    while end > first + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip()
                                .startswith("#")) and end < len(lines):
        end -= 1  # comments just above the next entry are the next entry's
    after = _write_toml(path, "".join(lines[:first] + lines[end:]), expect_gone=gone)
    return after, gone


def _find(s: Suppressions, which: str) -> tuple[str, int, Rule | Maintenance]:
    w = which.strip()
    if w.isdigit() and 1 <= int(w) <= len(s.rules):
        return "suppress", int(w), s.rules[int(w) - 1]
    if w[:1] == "m" and w[1:].isdigit() and 1 <= int(w[1:]) <= len(s.maintenance):
        return "maintenance", int(w[1:]), s.maintenance[int(w[1:]) - 1]
    for r in s.rules:
        if r.id == w:
            return "suppress", r.index, r
    for m in s.maintenance:
        if m.id == w:
            return "maintenance", m.index, m
    raise SuppressionError(f"no rule {which!r} in {s.source} ({len(s.rules)} rules, "
                           f"{len(s.maintenance)} maintenance windows; see suppress list)")


def _table_of(line: str) -> str | None:
    m = _HEADER.match(line)
    return m.group(1).strip("\"' ") if m and line.lstrip().startswith("[") else None


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuppressionError(f"cannot read suppressions {path}: {exc}") from None


def _yaml_data(path: Path) -> dict[str, Any]:
    data = read_document(path) or {}
    Suppressions.parse(data, str(path))  # only a valid file is edited
    return dict(data)


def _write_toml(path: Path, text: str, *,
                expect_gone: Rule | Maintenance | None = None) -> Suppressions:
    try:
        after = Suppressions.parse(tomllib.loads(text), str(path))
    except tomllib.TOMLDecodeError as exc:
        raise SuppressionError(f"{path}: the edit would not be valid TOML ({exc}); "
                               "file left as it was") from None
    if expect_gone is not None:  # exactly that entry went, the others stay in order
        before = _ids(Suppressions.load(path))
        before.remove(expect_gone.id)
        if _ids(after) != before:
            raise SuppressionError(f"{path}: cannot cut {expect_gone.id} out of the text "
                                   "safely: edit the file by hand")
    atomic_write(path, text)
    return after


def _ids(s: Suppressions) -> list[str]:
    return [r.id for r in s.rules] + [m.id for m in s.maintenance]


def _write_yaml(path: Path, data: dict[str, Any]) -> Suppressions:
    after = Suppressions.parse(data, str(path))
    atomic_write(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return after


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (same directory, same mode, fsynced)."""
    folder = path.parent if str(path.parent) else Path(".")
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
