"""Go to definition and find references.

Definitions: a `needs` entry -> the step's `id`; a connection reference -> its alias in the
connections file; a component name -> its spec file; `${params.x}` -> the param's declaration.
References: every `needs` entry naming a step id (and the id itself when asked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path

from osiris_lsp.convert import lsp_range
from osiris_lsp.workspace import DocumentSnapshot, FolderContext
from osiris_runtime.errors import Position, Range
from osiris_runtime.oml.connections import parse_connection_ref

_PARAM_REF = re.compile(r"\$\{\s*params\.([\w-]+)\s*\}")
COMPONENT_KEYS = ("component", "type", "uses")


@dataclass(frozen=True)
class StepIdTarget:
    """A step id under the cursor: where it is written, and whether that is the step's own `id`."""

    step_id: str
    range: Range
    is_declaration: bool


def step_id_at(snap: DocumentSnapshot, pos: Position) -> StepIdTarget | None:
    doc = snap.document()
    path, on_key = doc.path_at(pos)
    if on_key or len(path) < 3 or path[0] != "steps":
        return None
    value = doc.get(path)
    if not isinstance(value, str):
        return None
    if len(path) == 3 and path[2] == "id":
        return StepIdTarget(value, doc.range_of(path), True)
    if len(path) == 4 and path[2] == "needs":
        return StepIdTarget(value, doc.range_of(path), False)
    return None


def step_id_occurrences(snap: DocumentSnapshot, step_id: str) -> list[tuple[Range, bool]]:
    """(range, is_declaration) of every place the step id is written: its `id` and `needs` entries."""
    doc = snap.document()
    out: list[tuple[Range, bool]] = []
    for step in doc.steps():
        if step.id == step_id:
            out.append((step.id_range, True))
        for j, need in enumerate(step.needs or ()):
            if need == step_id:
                out.append((doc.range_of(step.path + ("needs", j)), False))
    return out


def sql_occurrences(snap: DocumentSnapshot, step_id: str) -> list[tuple[Range, str]]:
    """(range, kind) of each place a DuckDB step's `query` reads step `step_id`'s output
    (kinds: `osiris_runtime.drivers.duckdb.step_references`)."""
    from osiris_runtime.drivers.duckdb import legacy_view_name, step_references

    doc = snap.document()
    lines = snap.lines
    out: list[tuple[Range, str]] = []
    for step in doc.steps():
        if not (step.component or "").startswith("duckdb.") or not isinstance(step.config, dict):
            continue
        path = step.path + ("config", "query")
        query = step.config.get("query")
        if not isinstance(query, str) or (step_id not in query and legacy_view_name(step_id) not in query):
            continue
        rng = doc.range_of(path)
        for n in range(rng.start.line, min(rng.end.line, len(lines) - 1) + 1):
            start = rng.start.column if n == rng.start.line else 0
            end = rng.end.column if n == rng.end.line else len(lines[n])
            for a, b, kind in step_references(lines[n][start:end], step_id):
                out.append((Range.at(n, start + a, n, start + b), kind))
    return out


def definition(snap: DocumentSnapshot, folder: FolderContext, pos: Position) -> list[types.Location] | None:
    lines = snap.lines
    doc = snap.document()
    line = lines[pos.line] if pos.line < len(lines) else ""
    for m in _PARAM_REF.finditer(line):
        if m.start() <= pos.column <= m.end() and doc.has(("params", m.group(1))):
            return [types.Location(uri=snap.uri, range=lsp_range(lines, doc.range_of(("params", m.group(1)), key=True)))]

    target = step_id_at(snap, pos)
    if target is not None and not target.is_declaration:
        step = next((s for s in doc.steps() if s.id == target.step_id), None)
        return [types.Location(uri=snap.uri, range=lsp_range(lines, step.id_range))] if step else None

    path, on_key = doc.path_at(pos)
    value: Any = doc.get(path)
    if on_key or not isinstance(value, str) or len(path) < 3 or path[0] != "steps":
        return None
    if len(path) == 3 and path[2] in COMPONENT_KEYS:
        spec = folder.registry.get(value)
        if spec is None:
            return None
        zero = types.Range(start=types.Position(0, 0), end=types.Position(0, 0))
        return [types.Location(uri=from_fs_path(str(spec.path)) or spec.path.as_uri(), range=zero)]
    if len(path) == 4 and path[3] == "connection":
        parsed = parse_connection_ref(value)
        connections = folder.connections()
        if parsed is None or connections is None or connections.path is None:
            return None
        alias = connections.get(*parsed)
        if alias is None:
            return None
        conn_lines = connections.path.read_text(encoding="utf-8").split("\n")
        return [types.Location(uri=from_fs_path(str(connections.path)) or connections.path.as_uri(),
                               range=lsp_range(conn_lines, alias.range))]
    return None


def references(snap: DocumentSnapshot, pos: Position, include_declaration: bool) -> list[types.Location] | None:
    target = step_id_at(snap, pos)
    if target is None:
        return None
    found = [rng for rng, is_decl in step_id_occurrences(snap, target.step_id) if include_declaration or not is_decl]
    found += [rng for rng, _ in sql_occurrences(snap, target.step_id)]
    return [types.Location(uri=snap.uri, range=lsp_range(snap.lines, rng)) for rng in found]
