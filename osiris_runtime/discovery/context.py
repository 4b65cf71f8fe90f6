"""The discovered schema as LLM context: real table and column names within a token budget.

A JSON section for the AI context (`osiris prompts build-context --with-discovery`, the assistant
sessions): per connection, the largest tables first (by row estimate, then name) with their
columns (name and logical type), primary key and row estimate; tables that do not fit are named
only while names fit, then counted. Deterministic: the same caches and budget give the same data.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from osiris_runtime.discovery.model import Catalog, DiscoveredTable

DEFAULT_BUDGET_TOKENS = 4_000
CHARS_PER_TOKEN = 4  # the fallback estimate when no tokenizer is passed


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def table_entry(table: DiscoveredTable, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "columns": [[c.name, c.logical_type] for c in table.columns]}
    if table.primary_key:
        entry["primary_key"] = list(table.primary_key)
    if table.row_estimate is not None:
        entry["rows"] = table.row_estimate
    if table.kind != "table":
        entry["kind"] = table.kind
    return entry


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def discovery_section(catalogs: Iterable[Catalog], budget_tokens: int = DEFAULT_BUDGET_TOKENS,
                      count_tokens: Callable[[str], int] = estimate_tokens) -> dict[str, Any]:
    """`{"budget_tokens", "connections": {"@fam.alias": {"discovered_at", "tables", "more_tables", "omitted"}}}`.

    The section's canonical JSON stays within `budget_tokens` as `count_tokens` counts them.
    """
    section: dict[str, Any] = {"budget_tokens": budget_tokens, "connections": {}}
    used = count_tokens(_text(section))
    for catalog in sorted(catalogs, key=lambda c: c.connection):
        block: dict[str, Any] = {"discovered_at": catalog.discovered_at, "tables": [], "more_tables": [], "omitted": 0}
        cost = count_tokens(_text({catalog.connection: block})) + 1
        if used + cost > budget_tokens:
            break
        ranked = sorted(catalog.tables, key=lambda t: (-(t.row_estimate or 0), catalog.display_name(t)))
        for table in ranked:
            name = catalog.display_name(table)
            full = count_tokens(_text(table_entry(table, name))) + 1
            short = count_tokens(_text(name)) + 1
            if not block["more_tables"] and used + cost + full <= budget_tokens:
                block["tables"].append(table_entry(table, name))
                cost += full
            elif used + cost + short <= budget_tokens:
                block["more_tables"].append(name)
                cost += short
            else:
                block["omitted"] += 1
        section["connections"][catalog.connection] = block
        used += cost
    while count_tokens(_text(section)) > budget_tokens and _drop_one(section):
        pass  # the per-item estimate was short: trim from the end until the whole fits
    return section


def _drop_one(section: dict[str, Any]) -> bool:
    for block in reversed(list(section["connections"].values())):
        for key in ("more_tables", "tables"):
            if block[key]:
                block[key].pop()
                block["omitted"] += 1
                return True
    return False
