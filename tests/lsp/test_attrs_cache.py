"""The attrs code cache (osiris_lsp/attrs_cache.py): a hit is the code a compile gives, anything
wrong with the file means compiling, and attrs is left as it was."""

from __future__ import annotations

import subprocess
import sys

import attr
import attr._make

from osiris_lsp.attrs_cache import compiled_attrs_methods


def _define():
    @attr.define
    class Point:
        x: int
        y: int = 0

    return Point


def test_a_second_run_compiles_nothing_and_the_classes_behave_the_same(tmp_path):
    path = tmp_path / "code.marshal"
    with compiled_attrs_methods(path) as first:
        Fresh = _define()
    assert first is not None and first.missed > 0 and path.exists()
    with compiled_attrs_methods(path) as second:
        Cached = _define()
    assert second is not None and second.missed == 0 and len(second.used) == first.missed
    assert Cached(1, 2) == Cached(1, 2) != Cached(1) and repr(Cached(3)) == repr(Fresh(3))
    assert "compile" not in vars(attr._make)  # attrs compiles with the builtin again


def test_an_unreadable_or_foreign_file_means_compiling_and_is_replaced(tmp_path):
    path = tmp_path / "code.marshal"
    path.write_bytes(b"not marshal data")
    with compiled_attrs_methods(path) as cached:
        Point = _define()
    assert cached is not None and cached.missed > 0 and Point(1).y == 0
    with compiled_attrs_methods(path) as again:
        _define()
    assert again is not None and again.missed == 0


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with compiled_attrs_methods(blocker / "sub" / "code.marshal") as cached:
        Point = _define()
    assert cached is not None and Point(2).x == 2


def test_lsprotocol_from_the_cache_is_lsprotocol(tmp_path):
    code = ("import sys; from pathlib import Path; from osiris_lsp.attrs_cache import compiled_attrs_methods\n"
            "with compiled_attrs_methods(Path(sys.argv[1])) as c:\n"
            "    from lsprotocol import types, converters\n"
            "d = converters.get_converter().structure({'range': {'start': {'line': 1, 'character': 2}, "
            "'end': {'line': 1, 'character': 4}}, 'message': 'm', 'severity': 1}, types.Diagnostic)\n"
            "print(c.missed, d == types.Diagnostic(types.Range(types.Position(1, 2), types.Position(1, 4)), 'm', "
            "severity=types.DiagnosticSeverity.Error), repr(d.range.start))")
    runs = [subprocess.run([sys.executable, "-c", code, str(tmp_path / "code.marshal")], capture_output=True, text=True,
                           timeout=120) for _ in range(2)]
    (first_missed, first_eq, first_repr), (second_missed, second_eq, second_repr) = (r.stdout.split(maxsplit=2) for r in runs)
    assert int(first_missed) > 500 and second_missed == "0", runs
    assert first_eq == second_eq == "True" and first_repr == second_repr
