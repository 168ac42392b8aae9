"""tail -F: appended lines once complete, rotation and truncation, over-long lines skipped."""

from __future__ import annotations

import os
from pathlib import Path

from detector.jobs.publish_tail import FileFollower, LineSplitter


def test_splitter_carries_partial_lines_and_skips_overlong() -> None:
    s = LineSplitter(max_line=5)
    assert s.feed(b"ab\ncd") == [b"ab"]
    assert s.feed(b"e\r\n\n123456789") == [b"cde"]
    assert s.feed(b"0123456789") == []  # still inside the over-long line
    assert s.feed(b"x\nok\n") == [b"ok"]
    assert s.overlong == 1
    assert s.feed(b"tail") == [] and s.finish() == [b"tail"]


def test_follower_waits_for_a_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    f = FileFollower(p)
    assert f.poll() == []
    p.write_bytes(b"a\n")
    assert f.poll() == [b"a"]
    f.close()


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"1\n")
    f = FileFollower(p)
    assert f.poll() == [b"1"]
    with p.open("ab") as out:
        out.write(b"2\n")
    os.rename(p, tmp_path / "app.log.1")  # logrotate: rename, then a new file
    p.write_bytes(b"3\n")
    assert f.poll() == [b"2", b"3"]
    assert f.rotations == 1
    f.close()


def test_truncation_starts_again_from_the_top(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"first line\nsecond line\n")
    f = FileFollower(p)
    assert len(f.poll()) == 2
    with p.open("r+b") as out:  # copytruncate
        out.truncate(0)
    with p.open("ab") as out:
        out.write(b"new\n")
    assert f.poll() == [b"new"]
    assert f.truncations == 1
    f.close()


def test_a_line_is_not_handed_out_before_its_newline(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"half")
    f = FileFollower(p)
    assert f.poll() == []
    with p.open("ab") as out:
        out.write(b"-done\n")
    assert f.poll() == [b"half-done"]
    f.close()
