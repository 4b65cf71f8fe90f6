"""Generated Python source compiled once and kept as code objects (marshal files in the cache directory).

`@dataclass` writes the source of each class's `__init__`, `__repr__`, `__eq__`, ... and compiles
it while the class is defined: a validate or compile defines about 26 dataclasses, and those
compiles were about a fifth of the instructions of a CLI run. Inside `compiled_dataclass_methods()`
(the CLI runs its commands in it) the `exec` of `dataclasses` looks the code up by its exact
source and compiles only what is missing. A key is the whole source text, so a hit is the code
`compile` would return; a file that cannot be read or written just means compiling.

`make install` ships the code of the runtime's own dataclasses (`python -m osiris_runtime.code_cache`),
so a first run with an empty user cache hits too; whatever it misses goes to the user's file.
"""

from __future__ import annotations

import marshal
import os
import sys
import types
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from osiris_runtime.cache_root import cache_root

# module name -> marshal.dumps({source: marshal.dumps(code)}) of the classes that module defines.
# Decoding every code object of a file would cost more than the compiles it saves: a run decodes
# the table of the modules it imports, and of those only the code it uses.
CodeByModule = dict[str, bytes]
_FILE_NAME = f"dataclass-code-{sys.implementation.cache_tag}.marshal"
SHIPPED_DATACLASS_CODE = os.path.join(os.path.dirname(os.path.abspath(__file__)), f".{_FILE_NAME}")


def dataclass_code_file(env: Mapping[str, str] | None = None) -> str:
    return os.path.join(cache_root(env), "code", _FILE_NAME)


def load_code(path: str) -> CodeByModule:
    """The {module: table} of a cache file; {} when it is missing, unreadable or not such a dict."""
    try:
        with open(path, "rb") as handle:
            data = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def store_code(path: str, code: CodeByModule) -> None:
    """Write `code` to `path` atomically (readers see the old file or the new); failures are ignored."""
    from pathlib import Path

    from osiris_runtime.atomic_files import write_atomically

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(Path(path), marshal.dumps(code))
    except (OSError, ValueError):
        pass


class CachedExec:
    """`exec` for dataclasses' generated functions: source text compiled at most once."""

    def __init__(self, *files: CodeByModule) -> None:
        self._files = files  # the user's first: its table of a module is the newer
        self._tables: dict[str, dict[str, bytes]] = {}
        self.used: dict[str, dict[str, bytes]] = {}  # module -> {source: code} this run looked up
        self.missing = 0  # of those, compiled here

    def __call__(self, source: Any, globals: Any = None, locals: Any = None) -> None:
        if isinstance(source, str):
            module = globals.get("__name__") if isinstance(globals, dict) else None
            module = module if isinstance(module, str) else ""
            code = self._cached(module, source)
            if code is None:
                code = compile(source, "<string>", "exec")
                self._table(module)[source] = marshal.dumps(code)
                self.missing += 1
            self.used.setdefault(module, {})[source] = self._table(module)[source]
            source = code
        exec(source, globals, locals)

    def _table(self, module: str) -> dict[str, bytes]:
        table = self._tables.get(module)
        if table is None:
            table = {}
            for file in reversed(self._files):
                data = file.get(module)
                if isinstance(data, bytes):
                    try:
                        loaded = marshal.loads(data)
                    except (EOFError, ValueError, TypeError):
                        continue
                    if isinstance(loaded, dict):
                        table.update(loaded)
            self._tables[module] = table
        return table

    def _cached(self, module: str, source: str) -> types.CodeType | None:
        data = self._table(module).get(source)
        if not isinstance(data, bytes):
            return None
        try:
            code = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, types.CodeType) else None


@contextmanager
def compiled_dataclass_methods(path: str | None = None, shipped: str | None = SHIPPED_DATACLASS_CODE) -> Iterator[CachedExec | None]:
    """While inside, dataclasses get their methods' code from the cache files (None: `exec` of
    dataclasses already replaced by someone else). On the way out, also by an exception or
    `sys.exit`, the user's file gains whatever was compiled."""
    import dataclasses

    if "exec" in vars(dataclasses):
        yield None
        return
    path = path or dataclass_code_file()
    own = load_code(path)
    cached = CachedExec(own, load_code(shipped) if shipped else {})
    dataclasses.exec = cached  # type: ignore[attr-defined] - a module global shadowing the builtin
    try:
        yield cached
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
        if cached.missing:
            # The table of each module this run defined classes of becomes what it used (old sources of
            # changed classes drop out); other modules' tables stay.
            store_code(path, {**own, **{module: marshal.dumps(table) for module, table in cached.used.items()}})


def write_shipped_dataclass_code() -> int:
    """Define every dataclass of osiris_runtime (by importing its modules) and keep their code in
    `SHIPPED_DATACLASS_CODE`; the number of functions kept."""
    import importlib
    import pkgutil

    import osiris_runtime

    fresh = SHIPPED_DATACLASS_CODE + ".new"
    if os.path.exists(fresh):
        os.remove(fresh)
    with compiled_dataclass_methods(fresh, shipped=None) as cached:
        assert cached is not None
        for module in pkgutil.walk_packages(osiris_runtime.__path__, "osiris_runtime."):
            if module.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(module.name)
            except Exception:  # noqa: BLE001 - an optional dependency missing: its classes just compile at run time
                continue
    os.replace(fresh, SHIPPED_DATACLASS_CODE)
    return sum(len(table) for table in cached.used.values())


if __name__ == "__main__":
    print(f"{write_shipped_dataclass_code()} dataclass functions compiled into {SHIPPED_DATACLASS_CODE}")
