"""Quick fixes end to end: each is driven by the data of a diagnostic the server published."""

from __future__ import annotations

import pytest
from lsprotocol import types

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOC = """\
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
      connection: "@supabase.analytcs"
      table: x
      write_mode: upsrt
  - id: copy
    component: mysql.writer
    mode: write
    config:
      connection: "@mysql.shop"
      host: x
"""


def apply(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def offset(pos: types.Position) -> int:
        return offsets[pos.line] + pos.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]
    return text


async def actions_for(editor, uri, diagnostic):
    return await editor.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))


async def fix(editor, text, code):
    uri, _ = editor.open(text)
    diag = next(d for d in await editor.diagnostics(uri) if d.code == code)
    actions = await actions_for(editor, uri, diag)
    assert actions, f"no quick fix for {code}"
    action = actions[0]
    assert action.kind == types.CodeActionKind.QuickFix and list(action.diagnostics) == [diag]
    return action, uri


@pytest.mark.parametrize("code, before, after", [
    ("oml.unknown-component", "type: mysql.extractr", "type: mysql.extractor"),
    ("config.invalid-enum", "write_mode: upsrt", "write_mode: upsert"),
    ("needs.unknown-step", "needs: [pull-order]", "needs: [pull-orders]"),
    ("oml.deprecated-key", "type: mysql.extractr", "component: mysql.extractr"),
    ("connection.unknown-alias", '"@supabase.analytcs"', '"@supabase.analytics"'),
])
async def test_replace_with_the_suggestion(editor, code, before, after):
    action, uri = await fix(editor, DOC, code)
    fixed = apply(DOC, action.edit.changes[uri])
    assert after in fixed and before not in fixed.replace(after, "")


async def test_add_missing_required_fields(editor):
    action, uri = await fix(editor, DOC, "config.missing-required")
    fixed = apply(DOC, action.edit.changes[uri])
    assert "      table: " in fixed
    uri2, _ = editor.open(fixed)
    assert not any(d.code == "config.missing-required" for d in await editor.diagnostics(uri2))


async def test_unknown_config_key_is_renamed(editor):
    text = DOC.replace("      query: SELECT 1", "      qurey: SELECT 1").replace("mysql.extractr", "mysql.extractor")
    action, uri = await fix(editor, text, "config.unknown-key")
    assert "      query: SELECT 1" in apply(text, action.edit.changes[uri])


async def test_move_inline_secret_edits_both_files(editor, lsp_workspace):
    text = DOC.replace('      connection: "@supabase.analytcs"\n', "").replace(
        "      table: x\n", "      table: x\n      key: eyJhbGciOiJIUzI1NiJ9.abcdefghijklmnopqrstuvwxyz.abcdefghijklmnop\n")
    uri, _ = editor.open(text)
    diag = next(d for d in await editor.diagnostics(uri) if d.code.startswith("secret."))
    actions = await actions_for(editor, uri, diag)
    move = next(a for a in actions if a.title.startswith("Move"))
    assert "@supabase.push" in move.title
    changes = {c.text_document.uri: c.edits for c in move.edit.document_changes if isinstance(c, types.TextDocumentEdit)}
    connections_uri = (lsp_workspace / "osiris_connections.yaml").as_uri()
    assert set(changes) == {uri, connections_uri}
    fixed = apply(text, changes[uri])
    assert 'connection: "@supabase.push"' in fixed and "eyJhbGci" not in fixed
    conn_text = (lsp_workspace / "osiris_connections.yaml").read_text()
    new_conn = apply(conn_text, changes[connections_uri])
    assert "    push:\n      key: " in new_conn
    from osiris_runtime.oml.connections import parse_connections
    parsed = parse_connections(new_conn)
    assert parsed.get("supabase", "push") is not None and "key" in parsed.get("supabase", "push").fields


async def test_forbidden_override_is_removed(editor):
    text = DOC.replace("      table: x\n", "      table: x\n      key: ${SOME_KEY}\n").replace("analytcs", "analytics")
    uri, _ = editor.open(text)
    diag = next(d for d in await editor.diagnostics(uri) if d.code == "connection.forbidden-override")
    actions = await actions_for(editor, uri, diag)
    remove = next(a for a in actions if a.title.startswith("Remove"))
    assert "key:" not in apply(text, remove.edit.changes[uri]).split("table: x\n")[1].split("  - id: copy")[0]


async def test_no_actions_for_foreign_diagnostics(editor):
    uri, _ = editor.open(DOC)
    foreign = types.Diagnostic(range=types.Range(start=types.Position(0, 0), end=types.Position(0, 1)),
                               message="x", source="other", data={"replacement": "boom"})
    assert not await actions_for(editor, uri, foreign)


async def test_add_missing_step_key(editor):
    text = DOC.replace("    mode: write\n    needs: [pull-order]\n", "    needs: [pull-order]\n")
    uri, _ = editor.open(text)
    diag = next((d for d in await editor.diagnostics(uri) if d.code == "oml.missing-key"), None)
    assert diag is not None and diag.data["missing"] == ["mode"]
    actions = await actions_for(editor, uri, diag)
    fixed = apply(text, actions[0].edit.changes[uri])
    assert "    component: supabase.writer\n" in fixed and "\n    mode: " in fixed.split("- id: push")[1].split("- id: copy")[0]


UPSERT = """\
oml_version: "0.1.0"
name: upsert-orders
steps:
  - id: pull-orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: SELECT id FROM orders
  - id: push
    component: mysql.writer
    mode: write
    config:
      connection: "@mysql.shop"
      table: orders_copy
      write_mode: upsert
"""


async def test_upsert_without_primary_key_sits_on_write_mode_and_its_fix_leaves_no_error(editor):
    uri, _ = editor.open(UPSERT)
    diags = [d for d in await editor.diagnostics(uri) if d.code == "config.constraint"]
    assert len(diags) == 1, diags
    write_mode_line = UPSERT.split("\n").index("      write_mode: upsert")
    assert diags[0].range.start.line == write_mode_line
    assert diags[0].range.start.character == len("      ")
    actions = await actions_for(editor, uri, diags[0])
    add = next(a for a in actions if "primary_key" in a.title)
    fixed = apply(UPSERT, add.edit.changes[uri])
    assert "      primary_key: id\n" in fixed, fixed
    uri2, _ = editor.open(fixed)
    assert [d.code for d in await editor.diagnostics(uri2)] == []


async def test_quick_fix_titles_read_as_english(editor):
    text = DOC.replace("      query: SELECT 1", "      qurey: SELECT 1").replace("mysql.extractr", "mysql.extractor")
    rename, _ = await fix(editor, text, "config.unknown-key")
    assert rename.title == "Rename `qurey` to `query`"
    replace, _ = await fix(editor, DOC, "config.invalid-enum")
    assert replace.title == "Replace `upsrt` with `upsert`"


DUCKDB_DOC = """\
oml_version: "0.1.0"
name: movies
steps:
  - id: extract-movies
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.shop", table: movies}
  - id: stats
    component: duckdb.processor
    mode: transform
    config:
      query: |
        SELECT director, COUNT(*) AS n
        FROM {name} GROUP BY director
"""


@pytest.mark.parametrize("written, fixed", [("extract_movies", '"extract-movies"'), ('"extract-movie"', '"extract-movies"'),
                                            ("df_extract_movie", "df_extract_movies")])
async def test_a_duckdb_query_naming_no_input_gets_one_warning_and_a_fix_that_runs(editor, written, fixed):
    text = DUCKDB_DOC.replace("{name}", written)
    uri, _ = editor.open(text)
    [diag] = [d for d in await editor.diagnostics(uri) if d.code.endswith("unknown-table")]  # the validator's or discovery's
    assert diag.severity == types.DiagnosticSeverity.Warning and diag.range.start.line == 13
    [action] = await actions_for(editor, uri, diag)
    assert f"FROM {fixed} GROUP BY" in apply(text, action.edit.changes[uri])
