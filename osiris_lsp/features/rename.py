"""Rename a step id: its `id:`, every `needs` entry and each DuckDB query naming it, in one edit."""

from __future__ import annotations

import re

from lsprotocol import types

from osiris_lsp.convert import lsp_range
from osiris_runtime.drivers.duckdb import step_reference_text
from osiris_lsp.features.definition import sql_occurrences, step_id_at, step_id_occurrences
from osiris_lsp.workspace import DocumentSnapshot
from osiris_runtime.errors import Position, Range

_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$", re.I)


def _unquoted(lines: list[str], rng: Range) -> Range:
    """The range without surrounding quotes, so a rename keeps the user's quoting."""
    if rng.start.line == rng.end.line and rng.start.line < len(lines):
        text = lines[rng.start.line][rng.start.column:rng.end.column]
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return Range.at(rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column - 1)
    return rng


def prepare_rename(snap: DocumentSnapshot, pos: Position) -> types.PrepareRenamePlaceholder | None:
    target = step_id_at(snap, pos)
    if target is None:
        return None
    return types.PrepareRenamePlaceholder(range=lsp_range(snap.lines, _unquoted(snap.lines, target.range)),
                                          placeholder=target.step_id)


def rename(snap: DocumentSnapshot, pos: Position, new_name: str) -> types.WorkspaceEdit | None:
    target = step_id_at(snap, pos)
    if target is None:
        return None
    if not _STEP_ID.match(new_name):
        raise ValueError(f"`{new_name}` is not a valid step id (use letters, digits, `-` and `_`)")
    edits = [types.TextEdit(range=lsp_range(snap.lines, _unquoted(snap.lines, rng)), new_text=new_name)
             for rng, _ in step_id_occurrences(snap, target.step_id)]
    # SQL names the input as the id (quoted or bare) or as its legacy `df_` view
    edits += [types.TextEdit(range=lsp_range(snap.lines, rng), new_text=step_reference_text(kind, new_name))
              for rng, kind in sql_occurrences(snap, target.step_id)]
    return types.WorkspaceEdit(changes={snap.uri: edits})
