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
