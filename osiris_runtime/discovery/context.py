"""The discovered schema as LLM context: real table and column names within a token budget.

For `osiris prompts build-context --with-discovery` (issue 13's context builder): largest tables
first (by row estimate, then name), each as one line `table(col type, ...) pk(...) ~rows`; tables
that do not fit the budget are listed by name only while those fit, then counted. Deterministic:
the same caches and budget give the same text.
"""

from __future__ import annotations

from typing import Iterable

from osiris_runtime.discovery.model import Catalog, DiscoveredTable

CHARS_PER_TOKEN = 4  # a conservative average for English and identifiers


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def table_line(catalog: Catalog, table: DiscoveredTable) -> str:
    columns = ", ".join(f"{c.name} {c.logical_type}{'' if c.nullable else ' not null'}" for c in table.columns)
    keys = f" pk({', '.join(table.primary_key)})" if table.primary_key else ""
    rows = f" ~{table.row_estimate} rows" if table.row_estimate is not None else ""
    kind = " view" if table.kind == "view" else ""
    return f"- {catalog.display_name(table)}{kind}({columns}){keys}{rows}"


def discovery_context(catalogs: Iterable[Catalog], budget_tokens: int) -> str:
    """Markdown naming the tables and columns of each connection, trimmed to `budget_tokens`."""
    ordered = sorted(catalogs, key=lambda c: c.connection)
    parts: list[str] = []
    used = 0
    for catalog in ordered:
        header = f"## {catalog.connection} ({catalog.family}, discovered {catalog.discovered_at})"
        tables = sorted(catalog.tables, key=lambda t: (-(t.row_estimate or 0), catalog.display_name(t)))
        lines = [header]
        cost = estimate_tokens(header) + 1
        if used + cost > budget_tokens:
            break
        names_only: list[str] = []
        skipped = 0
        for table in tables:
            line = table_line(catalog, table)
            if not names_only and used + cost + estimate_tokens(line) + 1 <= budget_tokens:
                lines.append(line)
                cost += estimate_tokens(line) + 1
            elif used + cost + estimate_tokens(catalog.display_name(table)) + 2 <= budget_tokens - 8:
                names_only.append(catalog.display_name(table))
                cost += estimate_tokens(catalog.display_name(table)) + 1
            else:
                skipped += 1
        if names_only:
            lines.append("- more tables (columns not shown): " + ", ".join(names_only))
        if skipped:
            lines.append(f"- and {skipped} more tables not shown (budget)")
        parts.append("\n".join(lines))
        used += cost
    return "\n\n".join(parts) + ("\n" if parts else "")
