"""What runs inside the validation worker process (see validation.py): one feature on one version.

This module imports no lsprotocol (nor pygls): the worker is spawned at server start and its first
job, the first document's diagnostics, needs only the runtime's parser and rules. Features that
build LSP objects (symbols, definitions, quick fixes) import them when first asked.
"""

from __future__ import annotations

import functools
import gc
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from osiris_lsp.settings import ServerSettings
from osiris_lsp.workspace import DocumentSnapshot, FolderContext

if TYPE_CHECKING:  # imported in the worker only: the server answers `initialize` without the parser
    from osiris_runtime.errors import Diagnostic
    from osiris_runtime.oml.incremental import StepChunkCache


@functools.lru_cache(maxsize=16)
def _worker_folder(root: Path | None, settings: ServerSettings) -> FolderContext:
    """The worker process's folder context for (root, settings), built once and kept warm."""
    return FolderContext.create(root, settings)


@functools.lru_cache(maxsize=8)
def _worker_chunk_cache(uri: str) -> "StepChunkCache":
    """Step parses of the last version of a document, for the last few documents edited."""
    from osiris_runtime.oml.incremental import StepChunkCache

    return StepChunkCache()


@functools.lru_cache(maxsize=4)
def _worker_snapshot(uri: str, version: int | None, text: str) -> DocumentSnapshot:
    """The worker's snapshot of a version (its parse is shared by validation and features)."""
    return DocumentSnapshot(uri, version, text, chunk_cache=_worker_chunk_cache(uri))


def _diagnostics(snap: DocumentSnapshot, folder: FolderContext) -> list["Diagnostic"]:
    from osiris_lsp.features.diagnostics import connections_file_diagnostics, runtime_diagnostics

    if snap.is_connections_file:
        return connections_file_diagnostics(snap, folder)
    return runtime_diagnostics(snap, folder)


def _features() -> dict[str, Callable[..., Any]]:
    from osiris_lsp.features import code_actions, definition, rename, symbols

    return {
        "diagnostics": _diagnostics,
        "symbols": lambda snap, folder: symbols.document_symbols(snap),
        "definition": definition.definition,
        "references": lambda snap, folder, pos, with_decl: definition.references(snap, pos, with_decl),
        "prepare_rename": lambda snap, folder, pos: rename.prepare_rename(snap, pos),
        "rename": lambda snap, folder, pos, new_name: rename.rename(snap, pos, new_name),
        "code_actions": code_actions.quick_fixes,
    }


def run_feature(feature: str, uri: str, version: int | None, text: str, root: Path | None,
                settings: ServerSettings, *args: Any) -> Any:
    """Runs in the worker process: one feature on one document version."""
    if feature == "diagnostics":  # the one feature that needs no lsprotocol: don't import the others
        return _diagnostics(_worker_snapshot(uri, version, text), _worker_folder(root, settings))
    return _features()[feature](_worker_snapshot(uri, version, text), _worker_folder(root, settings), *args)


def die_with_parent() -> None:
    """In a child process: get SIGTERM when the server dies, so nothing outlives the session (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _warm_up() -> None:
    """Import the validator in the worker before the first document needs it (with what its
    first run would import: jsonschema for configs, sqlglot for queries)."""
    import jsonschema  # noqa: F401
    import sqlglot  # noqa: F401

    import osiris_lsp.features.diagnostics  # noqa: F401
    import osiris_runtime.oml.incremental  # noqa: F401
    import osiris_runtime.oml.rules  # noqa: F401

    # A parse allocates tens of thousands of acyclic objects; with the default thresholds the
    # collections they trigger cost a quarter of a large file's validation. Collect rarely, and
    # never walk the modules and specs loaded now (they live as long as the worker).
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
