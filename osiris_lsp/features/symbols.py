"""Document symbols: the outline of an OML document (top-level keys, params, steps)."""

from __future__ import annotations

from lsprotocol import types

from osiris_lsp.convert import lsp_range
from osiris_lsp.workspace import DocumentSnapshot


def document_symbols(snap: DocumentSnapshot) -> list[types.DocumentSymbol]:
    doc = snap.document()
    lines = snap.lines
    if not isinstance(doc.data, dict):
        return []
    out: list[types.DocumentSymbol] = []
    for key, value in doc.data.items():
        if not isinstance(key, str):
            continue
        full = lsp_range(lines, _span(doc, (key,)))
        selection = lsp_range(lines, doc.range_of((key,), key=True))
        children: list[types.DocumentSymbol] = []
        if key == "steps":
            for step in doc.steps():
                detail = " · ".join(p for p in (step.component, step.mode) if p)
                children.append(types.DocumentSymbol(
                    name=step.id or f"step {step.index + 1}", detail=detail or None, kind=types.SymbolKind.Function,
                    range=lsp_range(lines, step.range),
                    selection_range=lsp_range(lines, step.id_range if step.id else step.range)))
        elif key == "params" and isinstance(value, dict):
            for name in value:
                children.append(types.DocumentSymbol(
                    name=str(name), kind=types.SymbolKind.Variable, range=lsp_range(lines, _span(doc, (key, name))),
                    selection_range=lsp_range(lines, doc.range_of((key, name), key=True))))
        kind = types.SymbolKind.Array if key == "steps" else types.SymbolKind.Namespace if isinstance(value, dict) else types.SymbolKind.Property
        out.append(types.DocumentSymbol(name=key, kind=kind, range=full, selection_range=selection,
                                        detail=str(value) if isinstance(value, (str, int, float)) else None,
                                        children=children or None))
    return out


def _span(doc, path):
    """From the key to the end of its value (a symbol's full range must contain its selection)."""
    key = doc.range_of(path, key=True)
    value = doc.range_of(path)
    return type(key)(min(key.start, value.start), max(key.end, value.end))
