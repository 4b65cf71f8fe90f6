"""Stand-in OML server for the editor harness while osiris_lsp.server is not there yet.

Mimics the two behaviours the editor tests look at: an `oml.unknown-component` diagnostic on an
unknown `component:` value, and component names as completion items. Removed once the real server
lands (the fixtures pick the real one whenever `osiris_lsp.server` imports).
"""

from __future__ import annotations

import re

from lsprotocol import types
from pygls.lsp.server import LanguageServer

COMPONENTS = ("mysql.extractor", "mysql.writer", "supabase.extractor", "supabase.writer")
COMPONENT_LINE = re.compile(r"^(\s*-?\s*component:\s*)(\S+)\s*$")

server = LanguageServer("osiris-probe", "0.0.1")


def publish(ls: LanguageServer, uri: str) -> None:
    doc = ls.workspace.get_text_document(uri)
    diagnostics = []
    for number, line in enumerate(doc.lines):
        match = COMPONENT_LINE.match(line.rstrip("\n"))
        if match and match.group(2) not in COMPONENTS:
            start = len(match.group(1))
            diagnostics.append(types.Diagnostic(
                range=types.Range(types.Position(number, start), types.Position(number, start + len(match.group(2)))),
                message=f"unknown component `{match.group(2)}`", code="oml.unknown-component",
                severity=types.DiagnosticSeverity.Error, source="osiris"))
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, version=doc.version, diagnostics=diagnostics))


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[":", " "]))
def completion(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList:
    return types.CompletionList(is_incomplete=False, items=[
        types.CompletionItem(label=name, kind=types.CompletionItemKind.Value) for name in COMPONENTS])


if __name__ == "__main__":
    server.start_io()
