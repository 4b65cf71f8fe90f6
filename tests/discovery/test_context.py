"""Discovered tables as LLM context: largest first, deterministic, within the budget."""

from osiris_runtime.discovery.context import discovery_context, estimate_tokens
from osiris_runtime.discovery.model import Catalog, DiscoveredColumn, DiscoveredTable


def catalog(n: int) -> Catalog:
    tables = tuple(DiscoveredTable("shop", f"t{k:03d}", "table",
                                   tuple(DiscoveredColumn(f"col{j}", "int", "int32", j > 0) for j in range(6)),
                                   primary_key=("col0",), row_estimate=k * 10) for k in range(n))
    return Catalog("@mysql.shop", "mysql", "shop", tables, discovered_at="2025-01-01T00:00:00Z")


def test_everything_fits_a_large_budget_largest_first():
    text = discovery_context([catalog(3)], 10_000)
    lines = text.splitlines()
    assert lines[0].startswith("## @mysql.shop (mysql")
    assert lines[1].startswith("- t002(col0 int32 not null, col1 int32") and lines[1].endswith("pk(col0) ~20 rows")
    assert [l.split("(")[0] for l in lines[1:]] == ["- t002", "- t001", "- t000"]


def test_a_small_budget_trims_deterministically_and_says_so():
    big = catalog(200)
    text = discovery_context([big], 300)
    assert estimate_tokens(text) <= 300
    assert text == discovery_context([big], 300)
    assert "- t199(" in text and "more tables" in text
