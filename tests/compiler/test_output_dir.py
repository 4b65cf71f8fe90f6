"""An output directory is never a way to delete or write files elsewhere: stale cfgs go only when
the directory's own manifest names them, and nothing is written through a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris_runtime.compiler import write_compiled
from osiris_runtime.errors import ConfigError

from .test_compile import BASIC, _ok


def test_a_json_in_cfg_that_no_manifest_names_is_refused_not_deleted(compile_text, tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mine.json").write_text("{}")
    with pytest.raises(ConfigError) as refused:
        write_compiled(_ok(compile_text(BASIC)), tmp_path)
    assert refused.value.code == "compile.out-dir-not-empty" and refused.value.exit_code == 5
    assert (tmp_path / "cfg" / "mine.json").read_text() == "{}" and not (tmp_path / "manifest.yaml").exists()


@pytest.mark.parametrize("link", ["cfg", "manifest.yaml", "cfg/pull.json"])
def test_a_link_where_osiris_writes_is_refused(compile_text, tmp_path: Path, link: str) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "cfg").mkdir(parents=True)
    elsewhere.mkdir()
    (elsewhere / "victim.json").write_text("precious")
    if link == "cfg":
        (out / "cfg").rmdir()
        (out / "cfg").symlink_to(elsewhere)
    else:
        (out / link).symlink_to(elsewhere / "victim.json")
    with pytest.raises(ConfigError) as refused:
        write_compiled(_ok(compile_text(BASIC)), out)
    assert refused.value.code == "compile.out-dir-links"
    assert [p.name for p in elsewhere.iterdir()] == ["victim.json"] and (elsewhere / "victim.json").read_text() == "precious"


_OUR_NAMES = ["manifest.yaml", "cfg", "events.jsonl", "status.json", ".manifest.yaml.tmp", "notes.txt",
              "cfg/pull.json", "cfg/push.json", "cfg/other.json", "cfg/README", "cfg/.pull.json.tmp"]
_KINDS = st.sampled_from(["file", "dir", "link-file", "link-dir"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.dictionaries(st.sampled_from(_OUR_NAMES), _KINDS, max_size=6), again=st.booleans())
def test_whatever_the_folder_holds_nothing_outside_changes(compile_text, tmp_path_factory, layout, again) -> None:
    """Property: after a compile into any pre-existing layout (files, folders, links to outside),
    the files outside are exactly as before and every foreign file inside is kept or refused."""
    root = tmp_path_factory.mktemp("o")
    out, outside = root / "out", root / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "f.json").write_text("outside")
    (outside / "d").mkdir()
    pipeline = _ok(compile_text(BASIC))
    if again:
        write_compiled(pipeline, out)  # an earlier compile's own files are fine
    for name, kind in sorted(layout.items()):
        path = out / name
        if not path.parent.is_dir() or path.parent.is_symlink() or os.path.lexists(path):
            continue
        {"file": lambda: path.write_text("user"), "dir": lambda: path.mkdir(),
         "link-file": lambda: path.symlink_to(outside / "f.json"), "link-dir": lambda: path.symlink_to(outside / "d")}[kind]()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and not p.is_symlink()}
    try:
        write_compiled(pipeline, out)
    except ConfigError:
        assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and not p.is_symlink()} == before
    else:
        for path, data in before.items():  # only Osiris's own files (by name) may change or go
            relative = path.relative_to(out).as_posix()
            if relative in pipeline.files() or relative.endswith(".tmp"):
                continue
            assert path.exists() and path.read_bytes() == data, relative
    assert (outside / "f.json").read_text() == "outside"
    assert sorted(p.name for p in outside.rglob("*")) == ["d", "f.json"]


def test_recompiling_over_the_same_manifest_trusts_it_without_parsing(compile_text, tmp_path: Path, monkeypatch) -> None:
    """The manifest about to be written, byte for byte already there: its cfgs are known without a
    parse (a CLI re-compile of an unchanged pipeline); a manifest that differs by a byte is parsed."""
    from osiris_runtime.oml import yaml_tree

    pipeline = _ok(compile_text(BASIC))
    write_compiled(pipeline, tmp_path)
    parsed: list[int] = []
    real_parse = yaml_tree.parse_yaml
    monkeypatch.setattr(yaml_tree, "parse_yaml", lambda text, **kw: parsed.append(1) or real_parse(text, **kw))
    write_compiled(pipeline, tmp_path)
    assert parsed == []
    manifest = tmp_path / "manifest.yaml"
    manifest.write_bytes(manifest.read_bytes() + b"# edited\n")
    (tmp_path / "cfg" / "mine.json").write_text("{}")  # named by neither: still refused
    with pytest.raises(ConfigError) as refused:
        write_compiled(pipeline, tmp_path)
    assert parsed == [1] and refused.value.code == "compile.out-dir-not-empty"
    assert (tmp_path / "cfg" / "mine.json").read_text() == "{}"
