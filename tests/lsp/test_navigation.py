"""Outline, go-to-definition, references and rename of step ids, code lens."""

from __future__ import annotations

import pytest
from lsprotocol import types

pytestmark = pytest.mark.asyncio(loop_scope="module")

from osiris_runtime.registry import Registry

DOC = """\
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
      query: SELECT * FROM t WHERE d >= '${params.since}'
  - id: push
    component: mysql.writer
    mode: write
    needs: [pull-orders]
    config:
      connection: "@mysql.shop"
      table: t
  - id: audit
    component: mysql.writer
    mode: write
    needs:
      - pull-orders
      - push
    config:
      connection: "@mysql.shop"
      table: audit
"""


def at(needle: str, occurrence: int = 0, offset: int = 1) -> types.Position:
    seen = 0
    for n, line in enumerate(DOC.split("\n")):
        if needle in line:
            if seen == occurrence:
                return types.Position(line=n, character=line.index(needle) + offset)
            seen += 1
    raise AssertionError(needle)


def doc_id(uri):
    return types.TextDocumentIdentifier(uri=uri)


async def test_outline_lists_steps(editor):
    uri, _ = editor.open(DOC)
    symbols = await editor.client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(uri)))
    by_name = {s.name: s for s in symbols}
    assert {"oml_version", "name", "params", "steps"} <= set(by_name)
    steps = by_name["steps"].children
    assert [s.name for s in steps] == ["pull-orders", "push", "audit"]
    assert steps[0].detail == "mysql.extractor · read"
    assert steps[1].selection_range.start == types.Position(line=11, character=8)
    assert [c.name for c in by_name["params"].children] == ["since"]


async def test_needs_entry_goes_to_step(editor):
    uri, _ = editor.open(DOC)
    result = await editor.client.text_document_definition_async(types.DefinitionParams(
        text_document=doc_id(uri), position=at("- pull-orders", offset=4)))
    assert [(r.uri, r.range.start.line) for r in result] == [(uri, 5)]


async def test_connection_ref_goes_to_alias(editor, lsp_workspace):
    uri, _ = editor.open(DOC)
    result = await editor.client.text_document_definition_async(types.DefinitionParams(
        text_document=doc_id(uri), position=at("@mysql.shop", offset=3)))
    assert result[0].uri == (lsp_workspace / "osiris_connections.yaml").as_uri()
    assert result[0].range.start.line == 2


async def test_component_goes_to_spec_file(editor):
    uri, _ = editor.open(DOC)
    result = await editor.client.text_document_definition_async(types.DefinitionParams(
        text_document=doc_id(uri), position=at("mysql.extractor", offset=3)))
    assert result[0].uri == Registry().get("mysql.extractor").path.resolve().as_uri() or result[0].uri.endswith("spec.yaml")


async def test_param_ref_goes_to_declaration(editor):
    uri, _ = editor.open(DOC)
    result = await editor.client.text_document_definition_async(types.DefinitionParams(
        text_document=doc_id(uri), position=at("${params.since}", offset=5)))
    assert result[0].range.start.line == 3


async def test_references_of_a_step_id(editor):
    uri, _ = editor.open(DOC)
    result = await editor.client.text_document_references_async(types.ReferenceParams(
        text_document=doc_id(uri), position=at("id: pull-orders", offset=6),
        context=types.ReferenceContext(include_declaration=False)))
    assert sorted(r.range.start.line for r in result) == [14, 22]
    with_decl = await editor.client.text_document_references_async(types.ReferenceParams(
        text_document=doc_id(uri), position=at("[pull-orders]", offset=2),
        context=types.ReferenceContext(include_declaration=True)))
    assert sorted(r.range.start.line for r in with_decl) == [5, 14, 22]


async def test_rename_step_id_across_needs(editor):
    uri, _ = editor.open(DOC)
    prep = await editor.client.text_document_prepare_rename_async(types.PrepareRenameParams(
        text_document=doc_id(uri), position=at("id: pull-orders", offset=6)))
    assert prep.placeholder == "pull-orders"
    edit = await editor.client.text_document_rename_async(types.RenameParams(
        text_document=doc_id(uri), position=at("id: pull-orders", offset=6), new_name="fetch-orders"))
    edits = edit.changes[uri]
    assert sorted(e.range.start.line for e in edits) == [5, 14, 22]
    assert {e.new_text for e in edits} == {"fetch-orders"}


async def test_rename_refuses_an_invalid_id(editor):
    uri, _ = editor.open(DOC)
    with pytest.raises(Exception, match="not a valid step id"):
        await editor.client.text_document_rename_async(types.RenameParams(
            text_document=doc_id(uri), position=at("id: push", offset=5), new_name="bad id!"))


async def test_code_lens_above_steps(editor):
    uri, _ = editor.open(DOC)
    lenses = await editor.client.text_document_code_lens_async(types.CodeLensParams(text_document=doc_id(uri)))
    step_lines = [n for n, line in enumerate(DOC.split("\n")) if line.startswith("  - id:")]
    assert [(l.range.start.line, l.command.command) for l in lenses] == [
        (4, "osiris.compile"), (4, "osiris.run"), (4, "osiris.discover")] + [(n, "osiris.preview") for n in step_lines]
    assert list(lenses[0].command.arguments) == [uri]
    assert lenses[2].command.title == "Discover tables of @mysql.shop" and list(lenses[2].command.arguments) == [uri, "@mysql.shop"]
    assert [list(l.command.arguments) for l in lenses[3:]] == [[uri, s, 100] for s in ("pull-orders", "push", "audit")]


def big_pipeline(steps: int) -> str:
    body = "".join(
        f"  - id: s{n}\n    component: mysql.writer\n    mode: write\n    config:\n      connection: \"@mysql.shop\"\n"
        f"      table: t{n}\n      write_mode: append\n" for n in range(steps))
    return 'oml_version: "0.1.0"\nname: big\nsteps:\n' + body


async def test_completion_does_not_wait_for_a_slow_outline(editor):
    import asyncio
    import time

    text = big_pipeline(2000)
    uri, _ = editor.open(text)
    await editor.diagnostics(uri, timeout=30)
    editor.change(uri, types.Range(start=types.Position(8, 13), end=types.Position(8, 13)), "x")  # a new version
    order: list[str] = []

    async def outline():
        await editor.client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc_id(uri)))
        order.append("symbols")

    async def complete():
        started = time.perf_counter()
        await editor.completion(uri, types.Position(line=9, character=6))
        order.append("completion")
        return time.perf_counter() - started

    symbols = asyncio.ensure_future(outline())
    await asyncio.sleep(0)  # the outline request goes out first
    elapsed = await complete()
    await symbols
    assert order == ["completion", "symbols"]
    assert elapsed < 1.0, f"completion waited {elapsed * 1000:.0f} ms"


SQL_DOC = """\
oml_version: "0.1.0"
name: orders-report
steps:
  - id: extract-orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: SELECT id, amount FROM orders
  - id: orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      table: orders
  - id: report
    component: duckdb.processor
    mode: transform
    needs: [extract-orders, orders]
    config:
      query: >-
        SELECT o.id, sum(x.amount) AS total
        FROM "extract-orders" x JOIN df_extract_orders y ON x.id = y.id
        JOIN orders o ON o.id = x.id GROUP BY o.id
  - id: inline
    component: duckdb.processor
    mode: transform
    needs: [extract-orders]
    config:
      query: "SELECT * FROM \\"extract-orders\\""
"""


def apply_edits(text: str, edits) -> str:
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        assert e.range.start.line == e.range.end.line
        line = lines[e.range.start.line]
        lines[e.range.start.line] = line[:e.range.start.character] + e.new_text + line[e.range.end.character:]
    return "\n".join(lines)


async def test_rename_step_id_updates_the_duckdb_queries_that_read_it(editor):
    uri, _ = editor.open(SQL_DOC)
    line = SQL_DOC.split("\n").index("  - id: extract-orders")
    edit = await editor.client.text_document_rename_async(types.RenameParams(
        text_document=doc_id(uri), position=types.Position(line=line, character=10), new_name="pull-orders"))
    renamed = apply_edits(SQL_DOC, edit.changes[uri])
    assert "extract-orders" not in renamed and "extract_orders" not in renamed, renamed
    assert 'FROM "pull-orders" x JOIN df_pull_orders y' in renamed
    assert 'query: "SELECT * FROM \\"pull-orders\\""' in renamed
    assert "needs: [pull-orders, orders]" in renamed
    # a bare SQL name that stops being one gets quoted
    line = SQL_DOC.split("\n").index("  - id: orders")
    edit = await editor.client.text_document_rename_async(types.RenameParams(
        text_document=doc_id(uri), position=types.Position(line=line, character=9), new_name="all-orders"))
    renamed = apply_edits(SQL_DOC, edit.changes[uri])
    assert 'JOIN "all-orders" o ON' in renamed and "SELECT id, amount FROM orders" in renamed
    assert "      table: orders" in renamed
    uri2, _ = editor.open(renamed)
    assert [d.code for d in await editor.diagnostics(uri2) if d.severity == types.DiagnosticSeverity.Error] == [], renamed


async def test_references_include_sql_mentions(editor):
    uri, _ = editor.open(SQL_DOC)
    line = SQL_DOC.split("\n").index("  - id: extract-orders")
    result = await editor.client.text_document_references_async(types.ReferenceParams(
        text_document=doc_id(uri), position=types.Position(line=line, character=10),
        context=types.ReferenceContext(include_declaration=False)))
    sql_line = SQL_DOC.split("\n").index('        FROM "extract-orders" x JOIN df_extract_orders y ON x.id = y.id')
    assert sum(1 for r in result if r.range.start.line == sql_line) == 2
