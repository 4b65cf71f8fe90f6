"""Hover end to end: components, config fields, connection aliases (never a secret), params."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

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
      batch_size: 500
  - id: push
    component: mysql.writer
    needs: [pull-orders]
    config:
      connection: "@mysql.archive"
      table: t
"""


def position_of(text: str, needle: str, offset: int = 1):
    from lsprotocol import types

    for n, line in enumerate(text.split("\n")):
        if needle in line:
            return types.Position(line=n, character=line.index(needle) + offset)
    raise AssertionError(needle)


async def test_component_docs(editor):
    uri, _ = editor.open(DOC)
    text = await editor.hover(uri, position_of(DOC, "mysql.extractor", 3))
    assert "MySQL" in text and "Modes" in text and "extract" in text and "Required config" in text


async def test_config_field_docs(editor):
    uri, _ = editor.open(DOC)
    text = await editor.hover(uri, position_of(DOC, "batch_size"))
    assert "integer" in text and "default" in text and "max" in text


async def test_connection_alias_without_secrets(editor):
    uri, _ = editor.open(DOC)
    shop = await editor.hover(uri, position_of(DOC, "@mysql.shop", 3))
    assert "db.internal" in shop and "password" in shop and "LSP_TEST_MYSQL_PASSWORD" not in shop
    archive = await editor.hover(uri, position_of(DOC, "@mysql.archive", 3))
    assert "archive.internal" in archive and "hunter2" not in archive


async def test_param_declaration(editor):
    uri, _ = editor.open(DOC)
    text = await editor.hover(uri, position_of(DOC, "${params.since}", 4))
    assert "since" in text and "2024-01-01" in text


async def test_needs_entry_names_the_step(editor):
    uri, _ = editor.open(DOC)
    text = await editor.hover(uri, position_of(DOC, "[pull-orders]", 3))
    assert "pull-orders" in text and "mysql.extractor" in text


async def test_nothing_to_say_is_none(editor):
    uri, _ = editor.open(DOC)
    assert await editor.hover(uri, position_of(DOC, "orders", 1).__class__(line=1, character=7)) is None


async def test_dsn_passwords_in_aliases_are_hidden(editor, lsp_workspace):
    conn = lsp_workspace / "osiris_connections.yaml"
    original = conn.read_text()
    try:
        conn.write_text(original.replace("      port: 3306\n", "      port: 3306\n      note: mysql://reader:s3cr3t-in-url@db/x\n"))
        uri, _ = editor.open(DOC)
        shop = await editor.hover(uri, position_of(DOC, "@mysql.shop", 3))
        assert "s3cr3t-in-url" not in shop and "db.internal" in shop
    finally:
        conn.write_text(original)


DEFAULTS_DOC = """\
oml_version: "0.1.0"
name: defaults
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config:
      query: SELECT 1
  - id: push
    component: supabase.writer
    mode: write
    config: {table: t}
"""


async def test_a_step_without_connection_names_the_default_alias_it_uses(editor):
    uri, _ = editor.open(DEFAULTS_DOC)
    text = await editor.hover(uri, position_of(DEFAULTS_DOC, "mysql.extractor", 3))
    assert "**Connection:** @mysql.shop (the `mysql` default: `default: true`)" in text
    assert "db.internal" in text and "LSP_TEST_MYSQL_PASSWORD" not in text
    missing = await editor.hover(uri, position_of(DEFAULTS_DOC, "supabase.writer", 3))
    assert "no default connection for `supabase`: mark one alias `default: true`" in missing
    uri2, _ = editor.open(DOC)  # names its connection: no default to report
    assert "**Connection:**" not in await editor.hover(uri2, position_of(DOC, "mysql.extractor", 3))
