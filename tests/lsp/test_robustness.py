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


def test_malformed_messages_fail_alone_over_raw_stdio(tmp_path):
    """Raw JSON-RPC (no client library to tidy it up): bad params and unknown methods get errors."""
    import json
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "osiris_lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)

    def send(message: dict) -> None:
        body = json.dumps(message).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        proc.stdin.flush()

    def receive_response(msg_id: int) -> dict:
        while True:
            length = 0
            while (line := proc.stdout.readline().strip()):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            message = json.loads(proc.stdout.read(length))
            if message.get("id") == msg_id and "method" not in message:
                return message

    try:
        uri = (tmp_path / "raw.oml.yaml").as_uri()
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "rootUri": tmp_path.as_uri()}})
        assert "capabilities" in receive_response(1)["result"]
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": "oml_version: '0.1.0'\n\n"}}})
        send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion", "params": {"bogus": True}})
        assert "error" in receive_response(2)
        send({"jsonrpc": "2.0", "id": 3, "method": "osiris/unknown", "params": {}})
        assert "error" in receive_response(3)
        send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"nonsense": 1}})
        send({"jsonrpc": "2.0", "id": 4, "method": "textDocument/completion", "params": {
            "textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}}})
        labels = [item["label"] for item in receive_response(4)["result"]["items"]]
        assert "name" in labels
        send({"jsonrpc": "2.0", "id": 5, "method": "shutdown"})
        receive_response(5)
        send({"jsonrpc": "2.0", "method": "exit"})
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
