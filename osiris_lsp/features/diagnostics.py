"""Diagnostics: exactly what the OML validator reports, as LSP diagnostics.

The server decides when (debounced push, or pull on request) and where (a worker thread, off the
completion path); this module only turns one document snapshot into diagnostics.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from lsprotocol import types

from osiris_lsp.convert import lsp_diagnostic
from osiris_lsp.workspace import DocumentSnapshot, FolderContext
from osiris_runtime.errors import Diagnostic


def diagnose(snapshot: DocumentSnapshot, folder: FolderContext) -> list[types.Diagnostic]:
    """Validate one document version against its folder's registry and connections file."""
    return [lsp_diagnostic(snapshot.lines, d) for d in runtime_diagnostics(snapshot, folder)]


def runtime_diagnostics(snapshot: DocumentSnapshot, folder: FolderContext) -> list[Diagnostic]:
    """The validator's findings (syntax included, each once), steps' findings linked to their docs."""
    from osiris_runtime.oml.rules import validate

    doc = snapshot.document()
    found = validate(doc, folder.registry, connections=folder.connections(), discovery=folder.catalogs())
    return _with_doc_links(doc, folder, _unique([*doc.syntax_diagnostics, *found]))


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


def _with_doc_links(doc, folder: FolderContext, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Link a step's diagnostics without a doc_url to its component's documentation."""
    if all(d.doc_url for d in diagnostics):
        return diagnostics
    steps = [(s.range, s.component) for s in doc.steps() if s.component]
    out = []
    for d in diagnostics:
        if not d.doc_url:
            for rng, component in steps:
                if rng.start <= d.range.start <= rng.end:
                    spec = folder.registry.get(component)
                    if spec is not None:
                        d = replace(d, doc_url=spec.doc_url)
                    break
        out.append(d)
    return out
