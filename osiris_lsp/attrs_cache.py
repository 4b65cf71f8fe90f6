"""attrs-generated methods (lsprotocol's), compiled once and kept in the user's cache directory.

attrs writes the source of each class's `__init__`, `__eq__`, `__repr__`, ... and compiles it
when the class is created; lsprotocol.types has about 570 classes, and those compiles are more
than half of its import. Inside `compiled_attrs_methods()` (the server wraps its pygls import in
it), attrs' `compile` looks each code object up by its exact (filename, source) in a marshal file
of the cache directory (one per Python bytecode version) and compiles only what is missing; the
file is rewritten with exactly the code that import used when anything was missing or unused.
A key is the whole generated source, so a hit is the code `compile` would return; a file that
cannot be read or written just means compiling.
"""

from __future__ import annotations

import marshal
import sys
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def cache_file() -> Path:
    from osiris_runtime.registry import default_cache_dir

    return default_cache_dir().parent / "lsp" / f"attrs-code-{sys.implementation.cache_tag}.marshal"


class CachedCompile:
    """`compile` for attrs' generated code: from `known` when the same source was compiled before."""

    def __init__(self, known: dict[tuple[str, str], types.CodeType]) -> None:
        self.known = known
        self._by_filename = {filename: (filename, source) for filename, source in known}
        self.used: dict[tuple[str, str], types.CodeType] = {}
        self.missed = 0

    def __call__(self, source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
        if not (isinstance(source, str) and isinstance(filename, str) and mode == "exec" and not args and not kwargs):
            return compile(source, filename, mode, *args, **kwargs)
        key = (filename, source)
        code = self.known.get(key)
        if code is not None:
            self.used[key] = code
            return code
        code = compile(source, filename, mode)
        previous = self._by_filename.get(filename)
        if previous is None:
            self.missed += 1
            self.used[key] = code
        else:  # a source that differs in each process (attrs writes a str hash into __hash__): keep the file
            self.used[previous] = self.known[previous]
        return code


@contextmanager
def compiled_attrs_methods(path: Path | None = None) -> Iterator[CachedCompile | None]:
    """While inside: attrs classes get their methods' code from the cache (None: attrs absent, or
    its `compile` already replaced by someone else)."""
    try:
        import attr._make as attrs_make
    except ImportError:
        yield None
        return
    if "compile" in vars(attrs_make):
        yield None
        return
    path = path or cache_file()
    cached = CachedCompile(_load(path))
    attrs_make.compile = cached  # type: ignore[attr-defined] - a module global shadowing the builtin
    try:
        yield cached
    finally:
        del attrs_make.compile  # type: ignore[attr-defined]
    if cached.missed or len(cached.used) != len(cached.known):
        _store(path, cached.used)


def _load(path: Path) -> dict[tuple[str, str], types.CodeType]:
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: code for key, code in data.items()
            if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)
            and isinstance(code, types.CodeType)}


def _store(path: Path, used: dict[tuple[str, str], types.CodeType]) -> None:
    from osiris_runtime.atomic_files import write_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, marshal.dumps(used))  # another server reading it sees the old file or the new one
    except (OSError, ValueError):
        pass
