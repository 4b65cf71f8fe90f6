"""The server never crashes: malformed input and requests fail alone; settings are honoured."""

from __future__ import annotations

import pytest
from lsprotocol import types

pytestmark = pytest.mark.asyncio(loop_scope="module")

GARBAGE = [
    "",
    "\x00\x01\x02",
    "- a\n- b\n",
    "steps: [[[\n",
    "oml_version: 0.1.0\nsteps:\n  - - - x\n    :\n  -\n",
    "oml_version: '0.1.0'\nsteps:\n  - id: a\n    config: &x {a: *x}\n",
    "\t\tsteps:\n\t- id: x\n",
    "oml_version: \"0.1.0\"\nname: é🙂\nsteps:\n  - id: 🙂\n    component: mysql.writer\n    config:\n      table: 🙂🙂\n      ",
]


@pytest.mark.parametrize("text", GARBAGE)
async def test_every_feature_answers_on_garbage(editor, text):
    uri, _ = editor.open(text)
    ident = types.TextDocumentIdentifier(uri=uri)
    lines = text.split("\n")
    positions = [types.Position(line=n, character=c) for n in range(len(lines)) for c in {0, len(lines[n]), 3}]
    positions.append(types.Position(line=len(lines) + 5, character=40))  # past the end
    await editor.diagnostics(uri)
    for pos in positions:
        await editor.completion(uri, pos)
        await editor.hover(uri, pos)
        await editor.client.text_document_definition_async(types.DefinitionParams(text_document=ident, position=pos))
        await editor.client.text_document_references_async(types.ReferenceParams(
            text_document=ident, position=pos, context=types.ReferenceContext(include_declaration=True)))
        await editor.client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=ident, position=pos))
    await editor.client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=ident))
    await editor.client.text_document_code_lens_async(types.CodeLensParams(text_document=ident))
    rng = types.Range(start=types.Position(0, 0), end=types.Position(0, 0))
    await editor.client.text_document_code_action_async(types.CodeActionParams(
        text_document=ident, range=rng, context=types.CodeActionContext(diagnostics=[
            types.Diagnostic(range=rng, message="m", source="osiris", code="config.missing-required",
                             data={"missing": ["x"], "replacement": 3, "remove": None})])))


async def test_requests_for_unknown_documents_answer_nothing(editor, lsp_workspace):
    uri = (lsp_workspace / "never-opened.oml.yaml").as_uri()
    assert await editor.completion(uri, types.Position(line=0, character=0)) == []
    assert await editor.hover(uri, types.Position(line=0, character=0)) is None


async def test_utf16_positions_are_honoured(editor):
    uri, pos = editor.open('oml_version: "0.1.0"\nname: "🙂"\nsteps:\n  - id: a\n    component: mysql.writer\n    config:\n      table: x  # 🙂\n      |\n')
    assert "write_mode" in [i.label for i in await editor.completion(uri, pos)]


async def test_positions_are_utf16_whatever_the_client_prefers(editor):
    text = 'oml_version: "0.1.0"\nname: x\nsteps:\n  - id: a\n  - id: b\n    needs: ["🙂", |]\n'
    uri, pos = editor.open(text)
    items = await editor.completion(uri, pos)
    assert [i.label for i in items] == ["a"]
    assert items[0].text_edit.range.start == pos  # 🙂 counts two UTF-16 units
