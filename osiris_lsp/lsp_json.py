"""Runtime values in their LSP JSON form (plain dicts), without lsprotocol.

The one place a runtime `Diagnostic` becomes an LSP diagnostic: the front (front.py) sends this
JSON before lsprotocol has loaded, and `convert.lsp_diagnostic` structures the same JSON into
lsprotocol objects for the server. Likewise the one place a pull report's `resultId` is named.

Runtime positions count code points; LSP clients count UTF-16 units by default. The difference
only matters on lines with characters outside the BMP, so those lines alone pay for conversion.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from osiris_runtime.doclinks import resolve_doc_url, troubleshooting_url
from osiris_runtime.errors import Diagnostic, Position, Range, Severity

SOURCE = "osiris"

# LSP DiagnosticSeverity and DiagnosticTag values
_SEVERITY = {Severity.ERROR: 1, Severity.WARNING: 2, Severity.INFO: 3, Severity.HINT: 4}
_DEPRECATED = 2


def to_utf16(lines: Sequence[str], line: int, column: int) -> int:
    """A code-point column of `line` as UTF-16 units."""
    if 0 <= line < len(lines):
        text = lines[line][:column]
        if not text.isascii():
            return len(text.encode("utf-16-le")) // 2
    return column


def from_utf16(lines: Sequence[str], line: int, character: int) -> int:
    """A UTF-16 column of `line` as code points."""
    if 0 <= line < len(lines) and not lines[line].isascii():
        units = 0
        for i, ch in enumerate(lines[line]):
            if units >= character:
                return i
            units += 2 if ord(ch) > 0xFFFF else 1
        return len(lines[line])
    return character


def position_json(lines: Sequence[str], pos: Position) -> dict[str, int]:
    return {"line": pos.line, "character": to_utf16(lines, pos.line, pos.column)}


def range_json(lines: Sequence[str], rng: Range) -> dict[str, dict[str, int]]:
    return {"start": position_json(lines, rng.start), "end": position_json(lines, rng.end)}


def diagnostic_json(lines: Sequence[str], diag: Diagnostic, docs_base_url: str | None = None) -> dict[str, Any]:
    """The LSP form of a runtime diagnostic; `data` keeps what quick fixes need.

    `codeDescription` links to the code's section of the troubleshooting page (`docs_base_url`: the
    `docsBaseUrl` setting; None links to the repository's docs).
    """
    data: dict[str, Any] = {"code": diag.code, **dict(diag.data)}
    if diag.fix:
        data["fix"] = diag.fix
    out: dict[str, Any] = {
        "range": range_json(lines, diag.range),
        "message": diag.message if not diag.fix else f"{diag.message}\nfix: {diag.fix}",
        "severity": _SEVERITY.get(diag.severity, 1),
        "code": diag.code,
    }
    if href := resolve_doc_url(troubleshooting_url(diag.code, docs_base_url)):
        out["codeDescription"] = {"href": href}
    out["source"] = SOURCE
    if "deprecated" in diag.code or "legacy" in diag.code:
        out["tags"] = [_DEPRECATED]
    out["data"] = data
    return out


def pull_result_id(version: int | None, items: Sequence[Mapping[str, Any]]) -> str:
    """The `resultId` of a full pull report: the document version and a digest of its items (JSON).

    Named by content, not by who computed it, so the front's early report (front.py) and the
    server's later one agree, and a client's `previousResultId` is "unchanged" exactly when the
    server would send it the same items again.
    """
    text = json.dumps(list(items), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{version}:{hashlib.blake2b(text.encode('utf-8'), digest_size=8).hexdigest()}"


def full_report(version: int | None, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The `textDocument/diagnostic` answer (a full report) with these items, as pygls sends it."""
    return {"kind": "full", "resultId": pull_result_id(version, items), "items": items}
