"""Diagnostics end to end: the validator's findings, pushed or pulled by client profile."""

from __future__ import annotations

import asyncio
import time

import pytest
from lsprotocol import types

pytestmark = pytest.mark.asyncio(loop_scope="module")

BROKEN = """\
oml_version: "0.1.0"
name: orders
steps:
  - id: pull-orders
    type: mysql.extractr
    mode: read
    config:
      connection: "@mysql.shop"
      query: SELECT 1
  - id: push
    component: supabase.writer
    mode: write
    needs: [pull-order]
    config:
      connection: "@supabase.analytics"
      table: x
      write_mode: upsrt
"""


async def test_validator_findings_with_codes_ranges_and_fixes(editor):
    uri, _ = editor.open(BROKEN)
    diags = {d.code: d for d in await editor.diagnostics(uri)}
    assert {"oml.deprecated-key", "oml.unknown-component", "needs.unknown-step", "config.invalid-enum"} <= set(diags)
    enum = diags["config.invalid-enum"]
    assert enum.range.start == types.Position(line=16, character=18)
    assert enum.severity == types.DiagnosticSeverity.Error
    assert "fix: use one of" in enum.message
    assert enum.data["replacement"] == "upsert"
    assert enum.source == "osiris"
    # every diagnostic links to its code's section of the troubleshooting page
    for diag in diags.values():
        assert diag.code_description is not None
        assert diag.code_description.href.startswith("file://")
        assert diag.code_description.href.endswith(f"docs/diagnostics.md#{diag.code}")
    assert diags["oml.deprecated-key"].severity == types.DiagnosticSeverity.Warning


async def test_exactly_one_diagnostics_model(editor):
    uri, _ = editor.open(BROKEN)
    await editor.diagnostics(uri)
    await asyncio.sleep(0.3)
    if editor.pull:
        assert uri not in editor.client.diagnostics  # never pushed to a pull client
    else:
        assert uri in editor.client.diagnostics


async def test_an_edit_updates_diagnostics_quickly(editor):
    uri, _ = editor.open(BROKEN)
    assert any(d.code == "config.invalid-enum" for d in await editor.diagnostics(uri))
    started = time.perf_counter()
    editor.change(uri, types.Range(start=types.Position(16, 18), end=types.Position(16, 23)), "upsert")
    diags = await editor.diagnostics(uri)
    elapsed = time.perf_counter() - started
    assert not any(d.code == "config.invalid-enum" for d in diags)
    assert elapsed < 0.3, f"diagnostics took {elapsed * 1000:.0f} ms after the last keystroke"


async def test_syntax_error_is_a_located_diagnostic(editor):
    uri, _ = editor.open('oml_version: "0.1.0"\nname: x\nsteps:\n  - id: [a\n')
    diags = await editor.diagnostics(uri)
    assert any(d.code.startswith("yaml.") for d in diags)


async def test_yaml_without_oml_version_gets_no_diagnostics(editor):
    uri, _ = editor.open("steps: 3\nnonsense: [\n", name="plain.yaml")
    assert await editor.diagnostics(uri, timeout=0.5) == []


async def test_yaml_with_top_level_oml_version_is_oml(editor):
    uri, _ = editor.open('oml_version: "0.1.0"\nsteps: []\n', name="pipeline.yaml")
    assert await editor.diagnostics(uri)


async def test_connections_file_change_revalidates_open_documents(editor, lsp_workspace):
    text = BROKEN.replace("@supabase.analytics", "@supabase.warehouse")
    uri, _ = editor.open(text)
    assert any(d.code == "connection.unknown-alias" for d in await editor.diagnostics(uri))
    conn = lsp_workspace / "osiris_connections.yaml"
    original = conn.read_text()
    try:
        conn.write_text(original + "    warehouse:\n      url: https://abcdefgh.supabase.co\n      key: ${K}\n")
        editor.client.diagnostics.pop(uri, None)
        editor.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=conn.as_uri(), type=types.FileChangeType.Changed)]))
        caps = editor.client.capabilities.workspace
        if editor.pull and caps.diagnostics and caps.diagnostics.refresh_support:
            for _ in range(100):  # the server asked the client to pull again
                if editor.client.diagnostic_refresh_count:
                    break
                await asyncio.sleep(0.02)
        diags = await editor.diagnostics(uri)
        assert not any(d.code == "connection.unknown-alias" for d in diags)
    finally:
        conn.write_text(original)
        editor.client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=conn.as_uri(), type=types.FileChangeType.Changed)]))


async def test_connections_file_itself_gets_diagnostics(editor, tmp_path):
    uri, _ = editor.open("connections:\n  mysql:\n    bad:\n      host: x\n      hots: y\n      password: plain-text-pw\n",
                         name="nested/osiris_connections.yaml")
    diags = await editor.diagnostics(uri)
    assert diags and all(d.source == "osiris" for d in diags)
    assert any(d.range.start.line == 4 for d in diags)  # the misspelt field
    assert all("plain-text-pw" not in d.message for d in diags)


async def test_a_dsn_pasted_into_connection_is_not_echoed(editor):
    text = BROKEN.replace('"@mysql.shop"', '"mysql://app:Pa55-canary-e1@db.example:3306/shop"')
    uri, _ = editor.open(text)
    diags = [d for d in await editor.diagnostics(uri) if d.code == "connection.invalid-ref"]
    assert diags and all("Pa55-canary-e1" not in d.message and "db.example" not in d.message for d in diags)
