"""Dataclass methods' code from the cache (osiris_runtime/code_cache.py): a hit is the code a compile gives."""

from __future__ import annotations

import dataclasses
import sys
import textwrap
import types
from pathlib import Path

from osiris_runtime.code_cache import compiled_dataclass_methods, load_code


def _define(namespace: str) -> type:
    module = types.ModuleType(namespace)
    sys.modules[namespace] = module  # dataclasses looks the class's module up
    exec(textwrap.dedent("""
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class Point:
            x: int
            y: int = 0
    """), module.__dict__)
    del sys.modules[namespace]
    return module.Point


def test_classes_defined_from_the_cache_behave_as_compiled_ones(tmp_path: Path):
    path = str(tmp_path / "code.marshal")
    with compiled_dataclass_methods(path, shipped=None) as first:
        compiled = _define("cache_probe")
    assert first is not None and first.missing > 0
    assert "cache_probe" in load_code(path)
    with compiled_dataclass_methods(path, shipped=None) as second:
        cached = _define("cache_probe")
    assert second is not None and second.missing == 0  # every method came from the file
    assert "exec" not in vars(dataclasses)  # the builtin is back
    for cls in (compiled, cached):
        point = cls(1)
        assert (point, repr(point), hash(point) == hash(cls(1, 0))) == (cls(1, 0), "Point(x=1, y=0)", True)
        try:
            point.x = 2  # type: ignore[misc]
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError("frozen")


def test_an_unreadable_cache_file_means_compiling(tmp_path: Path):
    path = tmp_path / "code.marshal"
    path.write_bytes(b"\x00 not marshal")
    with compiled_dataclass_methods(str(path), shipped=str(path)) as cached:
        point = _define("cache_probe_broken")(3, 4)
    assert cached is not None and cached.missing > 0 and point.y == 4
    assert "cache_probe_broken" in load_code(str(path))  # rewritten with what was compiled
