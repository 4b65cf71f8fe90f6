"""Completion end to end, in both client profiles."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEAD = """\
oml_version: "0.1.0"
name: orders
params:
  since: {type: string, default: "2024-01-01"}
steps:
  - id: pull-orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: SELECT 1
"""


async def test_top_level_keys_skip_present_ones(editor):
    uri, pos = editor.open('oml_version: "0.1.0"\n|\nsteps: []\n')
    labels = [i.label for i in await editor.completion(uri, pos)]
    assert "name" in labels and "params" in labels
    assert "oml_version" not in labels and "steps" not in labels


async def test_component_names_with_title_and_modes(editor):
    uri, pos = editor.open(HEAD + "  - id: push\n    component: sup|\n")
    items = {i.label: i for i in await editor.completion(uri, pos)}
    assert {"mysql.extractor", "mysql.writer", "supabase.writer"} <= set(items)
    assert "write" in items["supabase.writer"].detail and "Supabase" in items["supabase.writer"].detail


async def test_modes_offered_by_the_component(editor):
    uri, pos = editor.open(HEAD + "  - id: push\n    component: mysql.writer\n    mode: |\n")
    assert [i.label for i in await editor.completion(uri, pos)] == ["write"]


async def test_config_keys_required_first_with_docs(editor):
    uri, pos = editor.open(HEAD + "  - id: push\n    component: mysql.writer\n    mode: write\n    config:\n      |\n")
    items = await editor.completion(uri, pos)
    ordered = [i.label for i in sorted(items, key=lambda i: i.sort_text or i.label)]
    assert ordered.index("table") < ordered.index("batch_size")
    table = next(i for i in items if i.label == "table")
    assert "required" in table.detail and "string" in table.detail
    assert "Target table" in table.documentation.value


async def test_present_config_keys_are_not_offered(editor):
    uri, pos = editor.open(HEAD + "      |\n")
    labels = [i.label for i in await editor.completion(uri, pos)]
    assert "query" not in labels and "connection" not in labels and "batch_size" in labels


async def test_required_fields_use_snippets_only_when_the_client_supports_them(editor):
    uri, pos = editor.open(HEAD + "  - id: push\n    component: mysql.writer\n    config:\n      |\n")
    items = await editor.completion(uri, pos)
    caps = editor.client.capabilities.text_document.completion.completion_item
    table = next(i for i in items if i.label == "table")
    if caps.snippet_support:
        assert table.text_edit.new_text.startswith("table: ${1")
        assert any(i.label == "(required fields)" for i in items)
    else:
        assert table.text_edit.new_text == "table: "


async def test_enum_and_boolean_values(editor):
    uri, pos = editor.open(HEAD + "  - id: push\n    component: mysql.writer\n    config:\n      write_mode: |\n")
    assert [i.label for i in await editor.completion(uri, pos)] == ["append", "replace", "upsert"]
    uri, pos = editor.open(HEAD + "  - id: push\n    component: mysql.writer\n    config:\n      create_if_missing: |\n")
    assert [i.label for i in await editor.completion(uri, pos)] == ["true", "false"]


async def test_connection_refs_filtered_by_family(editor):
    uri, pos = editor.open(HEAD.replace('"@mysql.shop"', "|"))
    items = await editor.completion(uri, pos)
    assert sorted(i.label for i in items) == ["@mysql.archive", "@mysql.shop"]
    shop = next(i for i in items if i.label == "@mysql.shop")
    assert shop.text_edit.new_text == '"@mysql.shop"'
    assert "hunter2" not in str([i.documentation for i in items])


async def test_needs_offers_other_step_ids(editor):
    uri, pos = editor.open(HEAD + "  - id: push\n    component: mysql.writer\n    needs: [|]\n")
    assert [i.label for i in await editor.completion(uri, pos)] == ["pull-orders"]


async def test_params_names(editor):
    uri, pos = editor.open(HEAD.replace("SELECT 1", "SELECT ${params.|"))
    items = await editor.completion(uri, pos)
    assert [i.label for i in items] == ["since"]


async def test_completion_inside_unparseable_document(editor):
    uri, pos = editor.open(HEAD + "  - id: [broken\n    component: mysql.writer\n    config: {\n  - id: x\n    component: mysql.writer\n    config:\n      wri|\n")
    labels = [i.label for i in await editor.completion(uri, pos)]
    assert "write_mode" in labels


async def test_right_after_an_edit(editor):
    from lsprotocol import types

    uri, _ = editor.open(HEAD)
    end = types.Position(line=len(HEAD.split("\n")) - 1, character=0)
    editor.change(uri, types.Range(start=end, end=end), "      batch")
    items = await editor.completion(uri, types.Position(line=end.line, character=11))
    assert "batch_size" in [i.label for i in items]


async def test_plain_yaml_files_get_nothing(editor):
    uri, pos = editor.open("name: x\n|\n", name="other.yaml")
    assert await editor.completion(uri, pos) == []


async def test_new_step_skeleton_when_snippets_are_supported(editor):
    uri, pos = editor.open(HEAD + "  - |\n")
    items = {i.label: i for i in await editor.completion(uri, pos)}
    assert {"id", "component", "mode", "config", "needs"} <= set(items)
    snippets = editor.client.capabilities.text_document.completion.completion_item.snippet_support
    assert ("(new step)" in items) == bool(snippets)
    if snippets:
        assert items["(new step)"].text_edit.new_text.startswith("id: ${1:step-2}\n    component: ")


def expand_as_vscode(text: str, item, cursor_line: str) -> str:
    """Apply a snippet item the way VS Code does: placeholders take their defaults, and unless the
    item says `insertTextMode: asIs`, every line after the first gets the cursor line's indentation."""
    import re

    from lsprotocol import types

    body = re.sub(r"\$\{\d+\|([^,|]*)[^}]*\|\}", r"\1", item.text_edit.new_text)
    body = re.sub(r"\$\{\d+:([^}]*)\}", r"\1", body)
    body = re.sub(r"\$\{?\d+\}?", "", body)
    if item.insert_text_mode != types.InsertTextMode.AsIs:
        indent = cursor_line[: len(cursor_line) - len(cursor_line.lstrip())]
        body = body.replace("\n", "\n" + indent)
    lines = text.split("\n")
    rng = item.text_edit.range
    line = lines[rng.start.line]
    lines[rng.start.line] = line[: rng.start.character] + body + line[rng.end.character:]
    return "\n".join(lines)


async def test_required_fields_snippet_keeps_indentation_connection_first_and_no_secret(editor):
    doc = HEAD + "  - id: push\n    component: supabase.writer\n    mode: write\n    config:\n      |\n"
    uri, pos = editor.open(doc)
    items = {i.label: i for i in await editor.completion(uri, pos)}
    if not editor.client.capabilities.text_document.completion.completion_item.snippet_support:
        assert "(required fields)" not in items
        return
    snippet = items["(required fields)"]
    assert snippet.detail.split(", ")[0] == "connection"
    assert "key" not in snippet.detail.split(", ") and "url" not in snippet.detail.split(", ")
    text = doc.replace("|", "")
    filled = expand_as_vscode(text, snippet, text.split("\n")[pos.line])
    assert '      connection: "@supabase.analytics"\n      table: ' in filled, filled
    uri2, _ = editor.open(filled)
    assert [d.code for d in await editor.diagnostics(uri2)] == []


async def test_secret_and_connection_supplied_keys_are_never_required(editor):
    uri, pos = editor.open(HEAD + "  - id: push\n    component: mysql.writer\n    mode: write\n    config:\n      |\n")
    items = await editor.completion(uri, pos)
    ordered = [i.label for i in sorted(items, key=lambda i: i.sort_text or i.label)]
    assert ordered[0] in ("(required fields)", "connection") and "connection" in ordered[:2]
    by_label = {i.label: i for i in items}
    for key in ("password", "user", "host", "database"):
        assert not by_label[key].detail.startswith("required"), (key, by_label[key].detail)
        assert "${" not in by_label[key].text_edit.new_text
    assert by_label["password"].detail.startswith("secret")
    assert ordered.index("password") > ordered.index("batch_size")


async def test_new_step_skeleton_is_inserted_as_is(editor):
    uri, pos = editor.open(HEAD + "  - |\n")
    items = {i.label: i for i in await editor.completion(uri, pos)}
    if "(new step)" in items:
        from lsprotocol import types

        assert items["(new step)"].insert_text_mode == types.InsertTextMode.AsIs


async def test_enum_values_carry_one_line_of_docs(editor):
    uri, pos = editor.open(HEAD + "  - id: push\n    component: mysql.writer\n    config:\n      write_mode: |\n")
    docs = {i.label: i.documentation for i in await editor.completion(uri, pos)}
    assert set(docs) == {"append", "replace", "upsert"}
    assert all(isinstance(d, str) and d and "\n" not in d for d in docs.values()), docs
    assert "primary_key" in docs["upsert"]
