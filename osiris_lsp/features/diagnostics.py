"""Diagnostics: exactly what the OML validator reports, as LSP diagnostics.

The server decides when (debounced push, or pull on request) and where (a worker thread, off the
completion path); this module only turns one document snapshot into diagnostics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from osiris_lsp.workspace import DocumentSnapshot, FolderContext
from osiris_runtime.errors import Diagnostic

if TYPE_CHECKING:  # the worker process runs this module without lsprotocol (see worker.py)
    from lsprotocol import types


def diagnose(snapshot: DocumentSnapshot, folder: FolderContext) -> list["types.Diagnostic"]:
    """Validate one document version against its folder's registry and connections file."""
    from osiris_lsp.convert import lsp_diagnostic

    return [lsp_diagnostic(snapshot.lines, d, folder.settings.docs_base_url) for d in runtime_diagnostics(snapshot, folder)]


def runtime_diagnostics(snapshot: DocumentSnapshot, folder: FolderContext) -> list[Diagnostic]:
    """The validator's findings (syntax included, each once)."""
    from osiris_runtime.oml.rules import validate

    doc = snapshot.document()
    cache = snapshot.chunk_cache  # unchanged steps' findings are re-used from the last version's
    found = validate(doc, folder.registry, connections=folder.connections(), discovery=folder.catalogs(),
                     reuse=cache.rule_results if cache is not None else None)
    return _unique([*doc.syntax_diagnostics, *found])


def connections_file_diagnostics(snapshot: DocumentSnapshot, folder: FolderContext) -> list[Diagnostic]:
    """The connections file being edited: its structure, and each alias against its family's specs."""
    from osiris_runtime.oml.connections import parse_connections, validate_connections

    parsed = parse_connections(snapshot.text, snapshot.path)
    return _unique([*parsed.diagnostics, *validate_connections(parsed, folder.registry)])


def _unique(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, object, str]] = set()
    out = []
    for d in diagnostics:
        key = (d.code, d.range, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
