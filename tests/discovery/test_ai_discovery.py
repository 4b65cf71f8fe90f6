"""The AI context and loop with discovery: real table and column names in, invented ones sent back."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from osiris_runtime.ai.loop import Attempt, generate_pipeline, GenerationLoop
from osiris_runtime.discovery.cache import connection_fingerprint, write_catalog
from osiris_runtime.discovery.model import Catalog, DiscoveredColumn, DiscoveredTable
from osiris_runtime.oml.connections import load_connections, parse_connections
from osiris_runtime.registry import Registry, default_search_paths

CONNECTIONS = textwrap.dedent("""\
    connections:
      mysql:
        shop: {default: true, host: db.internal, database: shop, user: r, password: "${P}"}
      supabase:
        main: {default: true, url: "https://x.supabase.co", key: "${K}"}
""")
PIPELINE = """oml_version: "0.1.0"
name: orders-copy
steps:
  - id: read-orders
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.shop", table: TABLE, columns: [id, total]}
  - id: write-orders
    component: supabase.writer
    mode: write
    needs: [read-orders]
    config: {connection: "@supabase.main", table: orders_copy, write_mode: append, create_if_missing: true}
"""


def shop(fingerprint: str = "", versions: dict | None = None, fields: tuple = ()) -> Catalog:
    columns = (DiscoveredColumn("id", "bigint", "int64", False), DiscoveredColumn("total", "decimal(12,2)", "decimal(12,2)", True))
    tables = tuple(DiscoveredTable("shop", name, "table", columns, primary_key=("id",), row_estimate=rows)
                   for name, rows in (("orders", 900), ("order_items", 4000), ("customers", 50)))
    return Catalog("@mysql.shop", "mysql", "shop", tables, fingerprint=fingerprint, identity_fields=fields,
                   spec_versions=versions or {}, discovered_at="2025-01-01T00:00:00Z")


def test_the_loop_sends_an_invented_table_back_with_the_real_name():
    registry = Registry(default_search_paths())
    answers = [PIPELINE.replace("TABLE", "ordrs"), PIPELINE.replace("TABLE", "orders")]
    feedback: list[str | None] = []

    def generate(request: str, previous: Attempt | None, text: str | None) -> str:
        feedback.append(text)
        return answers.pop(0)

    loop = GenerationLoop(registry, parse_connections(CONNECTIONS), discovery={("mysql", "shop"): shop()})
    result = loop.run("copy orders", generate)
    assert [a.ok for a in result.attempts] == [False, True]
    assert "discovery.unknown-table" in feedback[1] and "did you mean `orders`?" in feedback[1]


def test_without_caches_the_loop_is_unchanged():
    registry = Registry(default_search_paths())
    result = generate_pipeline("copy", lambda *a: PIPELINE.replace("TABLE", "ordrs"), registry,
                               connections=parse_connections(CONNECTIONS))
    assert result.ok and len(result.attempts) == 1


def test_build_context_with_discovery_within_a_budget(tmp_path: Path, run_osiris):
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    alias = load_connections(tmp_path / "osiris_connections.yaml").get("mysql", "shop")
    fingerprint, fields, versions = connection_fingerprint(alias, Registry(default_search_paths(tmp_path)))
    write_catalog(tmp_path, shop(fingerprint, versions, fields))
    plain = json.loads(run_osiris("prompts", "build-context", "--json", "--out", "a.json", cwd=tmp_path).stdout)
    result = run_osiris("prompts", "build-context", "--with-discovery", "--budget", "100", "--json", "--out", "b.json",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    block = data["context"]["discovery"]["connections"]["@mysql.shop"]
    assert block["tables"][0] == {"name": "order_items", "columns": [["id", "int64"], ["total", "decimal(12,2)"]],
                                  "primary_key": ["id"], "rows": 4000}
    assert len(block["tables"]) + len(block["more_tables"]) + block["omitted"] == 3
    assert "discovery" not in plain["context"] and plain["fingerprint"] != data["fingerprint"]
    again = run_osiris("prompts", "build-context", "--with-discovery", "--budget", "100", "--json", "--out", "b.json",
                       cwd=tmp_path)
    assert json.loads(again.stdout)["fresh"] is True  # deterministic: same caches, same budget, same file
