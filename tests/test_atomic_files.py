"""write_atomically: the one way the runtime replaces a file that others may be reading."""

from __future__ import annotations

import pytest

from osiris_runtime.atomic_files import write_atomically


def test_text_and_bytes_replace_the_file_whole(tmp_path):
    target = tmp_path / "cache.json"
    write_atomically(target, "ünïcode\n")
    assert target.read_bytes() == "ünïcode\n".encode("utf-8")
    write_atomically(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json"]


def test_a_failed_replace_keeps_what_was_there_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        write_atomically(target, "new")  # a directory cannot be replaced by a file
    assert (target / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
