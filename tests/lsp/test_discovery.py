"""Discovery in the editor: completion, hover, diagnostics and quick fixes from a cache, the
"Discover tables" command with $/progress against the real MariaDB, and SQL inside `query:`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pymysql
import pytest
from lsprotocol import types

from osiris_runtime.discovery.cache import connection_fingerprint, write_catalog
from osiris_runtime.discovery.model import Catalog, DiscoveredColumn, DiscoveredTable
from osiris_runtime.oml.connections import load_connections
from osiris_runtime.registry import Registry, default_search_paths

pytestmark = pytest.mark.asyncio(loop_scope="module")
LIVE_DB = f"i14_lsp_{os.getpid()}"
CONNECTIONS = f"""\
connections:
  mysql:
    shop:
      default: true
      host: db.internal
      database: shop
      user: reader
      password: ${{LSP_TEST_MYSQL_PASSWORD}}
    live:
      host: 127.0.0.1
      port: 3306
      database: {LIVE_DB}
      user: root
      password: ""
"""


def col(name: str, source: str, logical: str, nullable: bool = True) -> DiscoveredColumn:
    return DiscoveredColumn(name, source, logical, nullable)


@pytest.fixture(scope="module")
def lsp_workspace(tmp_path_factory) -> Path:
    """A workspace whose @mysql.shop has a cache (written as `osiris discover` would) and whose
    @mysql.live is a real MariaDB database (for the command)."""
    root = tmp_path_factory.mktemp("lsp-discovery")
    (root / "osiris_connections.yaml").write_text(CONNECTIONS)
    alias = load_connections(root / "osiris_connections.yaml").get("mysql", "shop")
    fingerprint, fields, versions = connection_fingerprint(alias, Registry(default_search_paths(root)))
    tables = (
        DiscoveredTable("shop", "orders", "table", (col("id", "bigint", "int64", False), col("customer_id", "int", "int32"),
                                                     col("total", "decimal(12,2)", "decimal(12,2)")),
                        primary_key=("id",), unique_keys=(("id",),), row_estimate=1200),
        DiscoveredTable("shop", "order_items", "table", (col("qty", "int", "int32"), col("order_id", "bigint", "int64"),
                                                          col("line_no", "smallint", "int16")),
                        primary_key=("order_id", "line_no"), unique_keys=(("order_id", "line_no"),), row_estimate=5000),
        DiscoveredTable("shop", "customers", "view", (col("id", "int", "int32"),)),
    )
    write_catalog(root, Catalog("@mysql.shop", "mysql", "shop", tables, fingerprint=fingerprint, identity_fields=fields,
                                spec_versions=versions, discovered_at="2025-01-01T00:00:00Z", method="information_schema"))
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{LIVE_DB}`")
        cur.execute(f"CREATE DATABASE `{LIVE_DB}`")
        cur.execute(f"CREATE TABLE `{LIVE_DB}`.invoices (id INT PRIMARY KEY, amount DECIMAL(10,2))")
    yield root
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{LIVE_DB}`")
    conn.close()


STEP = """\
oml_version: "0.1.0"
name: d
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
"""


async def test_table_completion_with_row_estimate_and_column_count(editor):
    uri, pos = editor.open(STEP + "      table: ord|\n")
    items = await editor.completion(uri, pos)
    assert [i.label for i in items] == ["order_items", "orders"]  # largest first
    assert items[1].detail == "table · ~1,200 rows · 3 columns"


async def test_primary_key_completion_puts_the_key_first(editor):
    uri, pos = editor.open(STEP.replace("mysql.extractor", "mysql.writer").replace("read", "write")
                           + "      table: order_items\n      write_mode: upsert\n      primary_key: [|]\n")
    items = await editor.completion(uri, pos)
    assert [i.label for i in sorted(items, key=lambda i: i.sort_text)] == ["order_id", "line_no", "qty"]
    assert "primary key" in items[0].detail


async def test_column_list_completion_in_a_block_sequence(editor):
    uri, pos = editor.open(STEP + "      table: orders\n      columns:\n        - id\n        - |\n")
    labels = [i.label for i in await editor.completion(uri, pos)]
    assert labels == ["id", "customer_id", "total"]


async def test_hover_on_a_table_shows_columns_keys_and_cache_time(editor):
    uri, pos = editor.open(STEP + "      table: ord|er_items\n")
    text = await editor.hover(uri, pos)
    assert "**order_items** (table)" in text and "| `order_id` 🔑 | `bigint` | int64 |" in text
    assert "primary key (order_id, line_no)" in text and "2025-01-01T00:00:00Z" in text and "@mysql.shop" in text


async def test_unknown_table_warning_and_its_quick_fix(editor):
    uri, _ = editor.open(STEP + "      table: ordrs\n")
    [diag] = [d for d in await editor.diagnostics(uri) if d.code == "discovery.unknown-table"]
    assert diag.severity == types.DiagnosticSeverity.Warning and (diag.range.start.line, diag.range.start.character) == (8, 13)
    actions = await editor.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diag.range,
        context=types.CodeActionContext(diagnostics=[diag])))
    [action] = actions
    assert action.title == "Replace `ordrs` with `orders`"
    assert action.edit.changes[uri][0].new_text == "orders"


async def test_sql_syntax_error_located_in_the_block_scalar(editor):
    uri, _ = editor.open(STEP + "      query: >-\n        SELECT id, total\n        FROM orders WHERE (total > 1\n")
    [diag] = [d for d in await editor.diagnostics(uri) if d.code == "sql.syntax"]
    assert (diag.range.start.line, diag.range.start.character, diag.range.end.character) == (10, 35, 36)


async def test_sql_unknown_column_in_a_query(editor):
    # `#|` takes the editor helper's cursor marker, so the literal block keeps its `|`
    uri, _ = editor.open("#|\n" + STEP + "      query: |\n        SELECT id, totl FROM orders\n")
    [diag] = [d for d in await editor.diagnostics(uri) if d.code == "discovery.unknown-column"]
    assert (diag.range.start.line, diag.range.start.character) == (10, 19) and diag.data["replacement"] == "total"


async def test_sql_completion_tables_after_from_and_columns_elsewhere(editor):
    uri, pos = editor.open(STEP + "      query: >\n        SELECT id FROM ord|\n")
    assert [i.label for i in await editor.completion(uri, pos)] == ["order_items", "orders"]
    uri, pos = editor.open(STEP + "      query: >\n        SELECT to|\n        FROM orders\n")
    assert [i.label for i in await editor.completion(uri, pos)] == ["total"]


async def test_discover_code_lens_and_command_with_progress(editor, lsp_workspace):
    (lsp_workspace / ".osiris" / "discovery" / "mysql.live.json").unlink(missing_ok=True)  # the other profile's run
    doc = STEP.replace('"@mysql.shop"', '"@mysql.live"') + "      table: invoices\n"
    uri, _ = editor.open(doc)
    lenses = await editor.client.text_document_code_lens_async(types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    [lens] = [l for l in lenses if l.command.command == "osiris.discover"]
    assert lens.command.title == "Discover tables of @mysql.live"
    token = f"i14-discover-{uri[-12:]}"
    editor.client.progress_reports.setdefault(token, [])
    result = await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="osiris.discover", arguments=lens.command.arguments, work_done_token=token))
    assert result["ok"] is True and result["state"] == "discovered" and result["tables"] == 1
    cache = json.loads((lsp_workspace / ".osiris" / "discovery" / "mysql.live.json").read_text())
    assert cache["tables"][0]["name"] == "invoices"
    reports = editor.client.progress_reports[token]
    assert type(reports[0]).__name__ == "WorkDoneProgressBegin" and type(reports[-1]).__name__ == "WorkDoneProgressEnd"
    assert "@mysql.live: keys" in [getattr(r, "message", None) for r in reports]
    hover = await editor.hover(uri, types.Position(line=8, character=15))
    assert hover is not None and "**invoices**" in hover
    lenses = await editor.client.text_document_code_lens_async(types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert any(l.command.title.startswith("Refresh tables of @mysql.live (discovered") for l in lenses)


async def test_discover_command_failure_says_why_without_secret(editor):
    uri, _ = editor.open(STEP)
    result = await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="osiris.discover", arguments=[uri, "@mysql.shop"]))
    assert result["ok"] is False and result["category"] in ("dns", "config")
    assert "${LSP_TEST_MYSQL_PASSWORD}, which is not set" in result["message"]  # the variable, never a value


async def test_preview_command_returns_typed_rows_and_markdown_and_never_writes(editor, lsp_workspace):
    (lsp_workspace / "people.csv").write_text("id,name\n1,Ann\n2,Bob\n3,Cy\n")
    uri, _ = editor.open("""\
oml_version: "0.1.0"
name: p
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: people.csv}
  - id: save
    component: filesystem.csv_writer
    mode: write
    needs: [read]
    config: {path: out/people_copy.csv}
""")
    lenses = await editor.client.text_document_code_lens_async(types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    previews = [l.command for l in lenses if l.command.command == "osiris.preview"]
    assert [list(c.arguments)[1] for c in previews] == ["read", "save"]
    result = await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="osiris.preview", arguments=[uri, "save", 2]))
    assert result["ok"] is True and result["row_count"] == 2 and result["rows"] == [[1, "Ann"], [2, "Bob"]]
    assert result["markdown"].startswith("| id `") and "would receive from `read`" in result["markdown"]
    assert not (lsp_workspace / "out" / "people_copy.csv").exists()
