"""Discovered tables as LLM context: largest first, deterministic, within the budget."""

import json

from osiris_runtime.discovery.context import discovery_section, estimate_tokens
from osiris_runtime.discovery.model import Catalog, DiscoveredColumn, DiscoveredTable


def catalog(n: int) -> Catalog:
    tables = tuple(DiscoveredTable("shop", f"t{k:03d}", "table",
                                   tuple(DiscoveredColumn(f"col{j}", "int", "int32", j > 0) for j in range(6)),
                                   primary_key=("col0",), row_estimate=k * 10) for k in range(n))
    return Catalog("@mysql.shop", "mysql", "shop", tables, discovered_at="2025-01-01T00:00:00Z")


def test_everything_fits_a_large_budget_largest_first():
    section = discovery_section([catalog(3)], 10_000)
    block = section["connections"]["@mysql.shop"]
    assert [t["name"] for t in block["tables"]] == ["t002", "t001", "t000"]
    assert block["tables"][0] == {"name": "t002", "columns": [[f"col{j}", "int32"] for j in range(6)],
                                  "primary_key": ["col0"], "rows": 20}
    assert block["more_tables"] == [] and block["omitted"] == 0


def test_a_small_budget_trims_deterministically_and_counts_the_rest():
    big = catalog(200)
    section = discovery_section([big], 300)
    text = json.dumps(section, sort_keys=True, separators=(",", ":"))
    assert estimate_tokens(text) <= 300
    assert section == discovery_section([big], 300)
    block = section["connections"]["@mysql.shop"]
    assert block["tables"][0]["name"] == "t199" and block["more_tables"]
    assert len(block["tables"]) + len(block["more_tables"]) + block["omitted"] == 200
