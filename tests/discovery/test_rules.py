"""The validator against a discovery cache: unknown tables/columns, keys, types, SQL located in YAML."""

from __future__ import annotations

import textwrap

import pytest

from osiris_runtime.discovery.model import Catalog, DiscoveredColumn, DiscoveredTable
from osiris_runtime.oml.connections import parse_connections
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.oml.rules_discovery import can_hold
from osiris_runtime.registry import Registry, default_search_paths

CONNECTIONS = parse_connections(textwrap.dedent("""\
    connections:
      mysql:
        shop: {default: true, host: h, database: shop, user: u, password: "${P}"}
      supabase:
        warehouse: {default: true, url: "https://x.supabase.co", key: "${K}"}
"""))


def col(name: str, source: str, logical: str, nullable: bool = True) -> DiscoveredColumn:
    return DiscoveredColumn(name, source, logical, nullable)


SHOP = Catalog("@mysql.shop", "mysql", "shop", (
    DiscoveredTable("shop", "orders", "table", (col("id", "bigint", "int64", False), col("customer_id", "int", "int32"),
                                                 col("total", "decimal(12,2)", "decimal(12,2)"), col("status", "varchar(10)", "string")),
                    primary_key=("id",), unique_keys=(("id",),), row_estimate=1200),
    DiscoveredTable("shop", "order_items", "table", (col("order_id", "bigint", "int64"), col("line_no", "smallint", "int16"),
                                                      col("qty", "int", "int32")),
                    primary_key=("order_id", "line_no"), unique_keys=(("order_id", "line_no"),)),
    DiscoveredTable("shop", "MixedCase", "table", (col("Id", "int", "int32"),), primary_key=("Id",)),
), discovered_at="2025-01-01T00:00:00Z")
WAREHOUSE = Catalog("@supabase.warehouse", "supabase", "public", (
    DiscoveredTable("public", "orders", "table", (col("id", "integer", "int32"), col("total", "numeric(8,2)", "decimal(8,2)")),
                    primary_key=("id",), unique_keys=(("id",),)),
    DiscoveredTable("analytics", "events", "table", (col("id", "bigint", "int64"),), primary_key=("id",)),
), discovered_at="2025-01-01T00:00:00Z")
CATALOGS = {("mysql", "shop"): SHOP, ("supabase", "warehouse"): WAREHOUSE}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(default_search_paths())


def check(registry: Registry, body: str, catalogs=CATALOGS) -> tuple[list, list[str]]:
    text = 'oml_version: "0.1.0"\nname: t\nsteps:\n' + textwrap.indent(textwrap.dedent(body), "  ")
    doc = parse_oml(text)
    found = [d for d in validate(doc, registry, connections=CONNECTIONS, discovery=catalogs)
             if d.code.startswith(("discovery.", "sql."))]
    return found, text.split("\n")


def at(lines: list[str], d) -> str:
    assert d.range.start.line == d.range.end.line
    return lines[d.range.start.line][d.range.start.column:d.range.end.column]


def test_unknown_table_with_did_you_mean(registry):
    found, lines = check(registry, """\
        - id: pull
          component: mysql.extractor
          mode: read
          config: {connection: "@mysql.shop", table: ordres}
    """)
    [d] = found
    assert d.code == "discovery.unknown-table" and d.severity.name == "WARNING"
    assert at(lines, d) == "ordres" and d.data["replacement"] == "orders" and "did you mean `orders`" in d.fix


def test_same_name_other_case_is_suggested_first(registry):
    [d], _ = check(registry, """\
        - id: pull
          component: mysql.extractor
          mode: read
          config: {table: mixedcase}
    """)
    assert d.data["replacement"] == "MixedCase"  # the default alias @mysql.shop


def test_no_cache_means_no_warning(registry):
    found, _ = check(registry, """\
        - id: pull
          component: mysql.extractor
          mode: read
          config: {table: ordres}
    """, catalogs={})
    assert found == []


def test_unknown_columns_and_primary_key(registry):
    found, lines = check(registry, """\
        - id: pull
          component: mysql.extractor
          mode: read
          config:
            table: orders
            columns: [id, totl, status]
        - id: push
          component: supabase.writer
          mode: write
          config: {table: orders, write_mode: upsert, primary_key: idd}
    """)
    assert [(d.code, at(lines, d), d.data.get("replacement")) for d in found if d.code != "discovery.type-mismatch"] == [
        ("discovery.unknown-column", "totl", "total"), ("discovery.unknown-column", "idd", "id")]


def test_upsert_key_that_is_not_unique(registry):
    found, lines = check(registry, """\
        - id: pull
          component: supabase.extractor
          mode: read
          config: {table: orders}
        - id: push
          component: mysql.writer
          mode: write
          config: {table: order_items, write_mode: upsert, primary_key: [order_id]}
    """)
    [d] = [d for d in found if d.code == "discovery.not-unique-key"]
    assert "order_id, line_no" in d.fix


def test_writer_target_column_too_narrow_for_the_source(registry):
    found, _ = check(registry, """\
        - id: pull
          component: mysql.extractor
          mode: read
          config: {table: orders}
        - id: push
          component: supabase.writer
          mode: write
          config: {table: orders, write_mode: append}
    """)
    messages = [d.message for d in found if d.code == "discovery.type-mismatch"]
    assert len(messages) == 2
    assert any("`orders.id`" in m and "int64" in m for m in messages)
    assert any("`orders.total`" in m and "decimal(12,2)" in m for m in messages)


def test_create_if_missing_writer_may_name_a_new_table(registry):
    found, _ = check(registry, """\
        - id: pull
          component: mysql.extractor
          mode: read
          config: {table: orders}
        - id: push
          component: supabase.writer
          mode: write
          config: {table: orders_copy, create_if_missing: true}
    """)
    assert found == []


def test_table_in_another_schema(registry):
    found, _ = check(registry, """\
        - id: pull
          component: supabase.extractor
          mode: read
          config: {schema: analytics, table: events}
        - id: pull2
          component: supabase.extractor
          mode: read
          needs: []
          config: {table: analytics.evnts}
    """)
    [d] = found
    assert d.code == "discovery.unknown-table" and d.data["replacement"] == "analytics.events"


@pytest.mark.parametrize("style", ["literal", "folded", "double", "single", "plain"])
def test_sql_syntax_error_is_located_inside_the_block_scalar(registry, style):
    sql_lines = ["SELECT id, total", "FROM orders", "WHERE (total > 10"]
    pad = " " * 10  # deeper than `query:` (column 6 once the step is under `steps:`)
    if style == "literal":
        query = "|\n" + "\n".join(pad + s for s in sql_lines)
    elif style == "folded":
        query = ">-\n" + "\n".join(pad + s for s in sql_lines)
    elif style == "double":
        query = '"' + "\\n".join(sql_lines) + '"'
    elif style == "single":
        query = "'" + " ".join(sql_lines) + "'"
    else:
        query = "\n".join(("" if n == 0 else pad) + s for n, s in enumerate(sql_lines))
    step = "- id: pull\n  component: mysql.extractor\n  mode: read\n  config:\n    query: " + query + "\n"
    found, lines = check(registry, step)
    [d] = found
    assert d.code == "sql.syntax" and "Expecting )" in d.message
    assert at(lines, d) == "10"
    assert lines[d.range.start.line].rstrip().endswith("(total > 10" + ("'" if style == "single" else '"' if style == "double" else ""))


def test_sql_unknown_table_and_column_from_the_cache(registry):
    found, lines = check(registry, """\
        - id: pull
          component: mysql.extractor
          mode: read
          config:
            query: |
              SELECT o.id, o.totl, i.qty
              FROM orders o JOIN order_item i ON i.order_id = o.id
    """)
    assert [(d.code, at(lines, d), d.data.get("replacement")) for d in found] == [
        ("discovery.unknown-column", "totl", "total"), ("discovery.unknown-table", "order_item", "order_items")]


def test_duckdb_query_knows_upstream_steps_and_their_columns(registry):
    found, lines = check(registry, """\
        - id: pull-orders
          component: mysql.extractor
          mode: read
          config: {table: orders, columns: [id, total]}
        - id: stats
          component: duckdb.processor
          mode: transform
          needs: [pull-orders]
          config:
            query: >-
              SELECT status, SUM(total) AS revenue FROM "pull-orders" GROUP BY status
        - id: top
          component: duckdb.processor
          mode: transform
          needs: [stats]
          config:
            query: "SELECT revenue, revnue FROM df_stats JOIN missing_step USING (status)"
    """)
    assert [(d.code, at(lines, d)) for d in found] == [
        ("discovery.unknown-column", "status"),  # not among the columns pull-orders selects
        ("discovery.unknown-column", "status"),
        ("discovery.unknown-table", "missing_step"),
    ]


def test_params_placeholders_do_not_break_sql(registry):
    found, _ = check(registry, """\
        - id: pull
          component: mysql.extractor
          mode: read
          config:
            query: "SELECT id FROM orders WHERE total > ${params.min_total}"
    """)
    assert found == []


def test_can_hold_follows_the_type_table():
    assert can_hold("int64", "int32") and not can_hold("int32", "int64")
    assert can_hold("decimal(20,0)", "uint64") and not can_hold("int64", "uint64")
    assert can_hold("decimal(14,2)", "decimal(12,2)") and not can_hold("decimal(8,2)", "decimal(12,2)")
    assert can_hold("string", "int32") and not can_hold("string", "bytes")
    assert can_hold("timestamp", "date") and not can_hold("date", "timestamp")


def test_original_osiris_demo_query_of_input_df_reads_the_single_input(registry):
    """The original's examples query `input_df`; its own 0.5.0 driver no longer registered it, ours
    shows a single input under that name too: not an unknown table (its columns are the input's)."""
    found, lines = check(registry, """\
        - id: "extract-movies"
          component: "mysql.extractor"
          mode: "read"
          config:
            connection: "@mysql.shop"
            query: |
              SELECT o.id, o.total FROM orders o
        - id: "compute-director-stats"
          component: "duckdb.processor"
          mode: "transform"
          needs: ["extract-movies"]
          config:
            query: |
              SELECT id, SUM(total) AS revenue FROM input_df GROUP BY id
    """, catalogs={})
    assert found == []


def test_input_df_of_a_step_with_two_inputs_is_flagged(registry):
    found, lines = check(registry, """\
        - id: "extract-movies"
          component: "mysql.extractor"
          mode: "read"
          config:
            connection: "@mysql.shop"
            query: |
              SELECT o.id, o.total FROM orders o
        - id: "extract-people"
          component: "mysql.extractor"
          mode: "read"
          config:
            connection: "@mysql.shop"
            query: |
              SELECT o.id FROM orders o
        - id: "compute-director-stats"
          component: "duckdb.processor"
          mode: "transform"
          needs: ["extract-movies", "extract-people"]
          config:
            query: |
              SELECT id, SUM(total) AS revenue FROM input_df GROUP BY id
    """, catalogs={})
    [d] = [d for d in found if d.code == "discovery.unknown-table"]
    assert at(lines, d) == "input_df"
    assert "extract-movies" in d.fix and "df_extract_movies" in d.fix


def test_duckdb_query_names_duckdb_resolves_itself_are_not_flagged_and_fixes_are_sql(registry):
    found, lines = check(registry, """\
        - id: pull-orders
          component: mysql.extractor
          mode: read
          config: {table: orders, columns: [id, total]}
        - id: stats
          component: duckdb.processor
          mode: transform
          needs: [pull-orders]
          config:
            query: >-
              SELECT p.id FROM pull_orders p, 'extra.parquet' e, duckdb_tables, information_schema.tables t
    """)
    [d] = [d for d in found if d.code == "discovery.unknown-table"]
    assert at(lines, d) == "pull_orders" and d.data["replacement"] == '"pull-orders"'
