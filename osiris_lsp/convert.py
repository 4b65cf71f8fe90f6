"""Conversions between osiris_runtime values and lsprotocol types.

Positions are converted between code points (runtime) and UTF-16 units (LSP) by lsp_json.py;
diagnostics are built there as JSON and structured here, so both forms come from one place.
"""

from __future__ import annotations

from typing import Any, Sequence

from lsprotocol import types
from lsprotocol.converters import get_converter

from osiris_lsp.lsp_json import SOURCE, diagnostic_json, from_utf16, to_utf16
from osiris_runtime.errors import Diagnostic, Position, Range

__all__ = ["SOURCE", "line_range", "lsp_diagnostic", "lsp_position", "lsp_range", "runtime_position", "runtime_range",
           "structured_diagnostic"]

_CONVERTER = get_converter()


def lsp_position(lines: Sequence[str], pos: Position) -> types.Position:
    return types.Position(line=pos.line, character=to_utf16(lines, pos.line, pos.column))


def lsp_range(lines: Sequence[str], rng: Range) -> types.Range:
    return types.Range(start=lsp_position(lines, rng.start), end=lsp_position(lines, rng.end))


def line_range(lines: Sequence[str], line: int, start: int, end: int) -> types.Range:
    return lsp_range(lines, Range.at(line, start, line, end))


def runtime_position(lines: Sequence[str], pos: types.Position) -> Position:
    return Position(pos.line, from_utf16(lines, pos.line, pos.character))


def runtime_range(lines: Sequence[str], rng: types.Range) -> Range:
    return Range(runtime_position(lines, rng.start), runtime_position(lines, rng.end))


def lsp_diagnostic(lines: Sequence[str], diag: Diagnostic, docs_base_url: str | None = None) -> types.Diagnostic:
    """`lsp_json.diagnostic_json` as an lsprotocol `Diagnostic`."""
    return structured_diagnostic(diagnostic_json(lines, diag, docs_base_url))


def structured_diagnostic(item: dict[str, Any]) -> types.Diagnostic:
    """An LSP diagnostic in JSON (`lsp_json.diagnostic_json`) as an lsprotocol `Diagnostic`."""
    return _CONVERTER.structure(item, types.Diagnostic)
