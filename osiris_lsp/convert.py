"""Conversions between osiris_runtime values and lsprotocol types.

Runtime positions count code points; LSP clients count UTF-16 units by default. The difference
only matters on lines with characters outside the BMP, so those lines alone pay for conversion.
"""

from __future__ import annotations

from typing import Any, Sequence

from lsprotocol import types

from osiris_runtime.doclinks import resolve_doc_url, troubleshooting_url
from osiris_runtime.errors import Diagnostic, Position, Range, Severity

SOURCE = "osiris"

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
    Severity.HINT: types.DiagnosticSeverity.Hint,
}


def _to_utf16(lines: Sequence[str], line: int, column: int) -> int:
    if 0 <= line < len(lines):
        text = lines[line][:column]
        if not text.isascii():
            return len(text.encode("utf-16-le")) // 2
    return column


def _from_utf16(lines: Sequence[str], line: int, character: int) -> int:
    if 0 <= line < len(lines) and not lines[line].isascii():
        units = 0
        for i, ch in enumerate(lines[line]):
            if units >= character:
                return i
            units += 2 if ord(ch) > 0xFFFF else 1
        return len(lines[line])
    return character


def lsp_position(lines: Sequence[str], pos: Position) -> types.Position:
    return types.Position(line=pos.line, character=_to_utf16(lines, pos.line, pos.column))


def lsp_range(lines: Sequence[str], rng: Range) -> types.Range:
    return types.Range(start=lsp_position(lines, rng.start), end=lsp_position(lines, rng.end))


def line_range(lines: Sequence[str], line: int, start: int, end: int) -> types.Range:
    return lsp_range(lines, Range.at(line, start, line, end))


def runtime_position(lines: Sequence[str], pos: types.Position) -> Position:
    return Position(pos.line, _from_utf16(lines, pos.line, pos.character))


def runtime_range(lines: Sequence[str], rng: types.Range) -> Range:
    return Range(runtime_position(lines, rng.start), runtime_position(lines, rng.end))


def lsp_diagnostic(lines: Sequence[str], diag: Diagnostic, docs_base_url: str | None = None) -> types.Diagnostic:
    """The LSP form of a runtime diagnostic; `data` keeps what quick fixes need.

    `codeDescription` links to the code's section of the troubleshooting page (`docs_base_url`: the
    `docsBaseUrl` setting; None links to the repository's docs).
    """
    data: dict[str, Any] = {"code": diag.code, **dict(diag.data)}
    if diag.fix:
        data["fix"] = diag.fix
    message = diag.message if not diag.fix else f"{diag.message}\nfix: {diag.fix}"
    return types.Diagnostic(
        range=lsp_range(lines, diag.range),
        message=message,
        severity=_SEVERITY.get(diag.severity, types.DiagnosticSeverity.Error),
        code=diag.code,
        code_description=types.CodeDescription(href=href) if (href := resolve_doc_url(troubleshooting_url(diag.code, docs_base_url))) else None,
        source=SOURCE,
        data=data,
        tags=[types.DiagnosticTag.Deprecated] if "deprecated" in diag.code or "legacy" in diag.code else None,
    )
