"""Completion and hover from the discovery caches: table names, their columns, keys and types.

Read from the lines around the cursor like the rest of completion (no parse) and from the caches
`osiris discover` wrote (`FolderContext.catalogs()`); nothing here connects to a database. A
step's cache is the one of its `connection:` alias, else of its family's default alias.
Inside a `query:` block, names after FROM/JOIN complete to tables and other names to the columns
of the tables the query reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from lsprotocol import types

from osiris_lsp.convert import line_range
from osiris_lsp.cursor import (
    COMPONENT_KEYS,
    CONFIG_KEYS,
    CompletionContext,
    ContextKind,
    Frame,
    ancestors,
    child_mapping,
    mapping_keys,
    scalar,
    shape_of,
)
from osiris_lsp.workspace import FolderContext

if TYPE_CHECKING:
    from osiris_runtime.discovery.model import Catalog, DiscoveredTable
    from osiris_runtime.registry import ComponentSpec

TABLE_LIMIT = 50  # table items per answer; typing narrows the rest (the list says it is incomplete)
_FLOW_PAIR = re.compile(r"([\w.-]+)\s*:\s*(\"[^\"]*\"|'[^']*'|[^,}]*)")
_SQL_WORD_BEFORE = re.compile(r"([\w$]*)$")
_SQL_TABLE_KEYWORD = re.compile(r"\b(from|join|into|update|table)\s+[\w$\".`]*$", re.IGNORECASE)
_SQL_TABLE_REFS = re.compile(r"\b(?:from|join)\s+[`\"]?([\w$-]+)[`\"]?(?:\s+(?:as\s+)?([a-z_]\w*))?", re.IGNORECASE)
_SQL_KEYWORDS = frozenset("select from where join on group by order having limit and or not as inner left right "
                          "outer full cross union all distinct case when then else end is null in like".split())


@dataclass(frozen=True)
class StepFacts:
    index: int
    spec: "ComponentSpec"
    config: dict[str, str]  # config keys as written (deprecated spellings mapped), scalar values
    catalog: "Catalog | None"
    frames: tuple[Frame, ...]

    def table(self) -> "DiscoveredTable | None":
        name = self.config.get("table")
        if self.catalog is None or not name:
            return None
        return self.catalog.table(name, self.config.get("schema"))


def step_facts(lines: Sequence[str], frames: Sequence[Frame], folder: FolderContext) -> StepFacts | None:
    """Component, config values and discovery cache of the step the frames are in."""
    if len(frames) < 2 or frames[0].name != "steps" or not isinstance(frames[1].name, int):
        return None
    item = frames[1]
    keys = mapping_keys(lines, item.line, item.level)
    component = next((scalar(keys[k][1]) for k in COMPONENT_KEYS if k in keys), None)
    spec = folder.registry.get(component) if component else None
    if spec is None:
        return None
    config_key = next((k for k in CONFIG_KEYS if k in keys), None)
    raw: dict[str, str] = {}
    if config_key is not None:
        line_no, value = keys[config_key]
        if value.lstrip().startswith("{"):
            raw = {m.group(1): scalar(m.group(2)) for m in _FLOW_PAIR.finditer(value.strip()[1:])}
        else:
            block = child_mapping(lines, line_no)
            if block is not None:
                raw = {k: scalar(v) for k, (_, v) in mapping_keys(lines, block[0], block[1]).items()}
    config = {spec.config_aliases.get(k, k): v for k, v in raw.items()}
    return StepFacts(item.name, spec, config, _catalog(spec, config.get("connection"), folder), tuple(frames))  # type: ignore[arg-type]


def _catalog(spec: "ComponentSpec", ref: str | None, folder: FolderContext) -> "Catalog | None":
    from osiris_runtime.oml.connections import parse_connection_ref

    family, alias = spec.family, None
    if ref:
        parsed = parse_connection_ref(ref)
        if parsed is None:
            return None
        family, alias = parsed
    if alias is None:
        connections = folder.connections()
        default = connections.get(family, None) if connections is not None else None
        if default is None:
            return None
        alias = default.alias
    return folder.catalogs().get((family, alias))


# --- completion -----------------------------------------------------------------------------------


def config_value_items(ctx: CompletionContext, lines: Sequence[str], rng: types.Range,
                       folder: FolderContext) -> list[types.CompletionItem] | None:
    """Tables for `table:`, columns for `primary_key:` / `columns:`; None when the cache has nothing to say."""
    facts = step_facts(lines, ctx.frames, folder)
    if facts is None or facts.catalog is None:
        return None
    key = facts.spec.config_aliases.get(ctx.key or "", ctx.key)
    if ctx.kind is ContextKind.CONFIG_VALUE and key == "table":
        return list(table_items(facts.catalog, ctx.prefix, rng, quote=ctx.quote))
    if key in ("primary_key", "columns"):
        table = facts.table()
        if table is None:
            return None
        present = set(_flow_items(lines[ctx.line])) if ctx.flow else set()
        return list(column_items(table, rng, present, primary_first=key == "primary_key"))
    return None


def column_list_item_context(ctx: CompletionContext) -> bool:
    """A block sequence item under a config key (`columns:` then `- |`)."""
    path = ctx.path
    return (ctx.kind is ContextKind.NONE and len(path) == 5 and path[0] == "steps" and path[2] in CONFIG_KEYS
            and isinstance(path[4], int))


def column_list_items(ctx: CompletionContext, lines: Sequence[str], rng: types.Range,
                      folder: FolderContext) -> list[types.CompletionItem] | None:
    facts = step_facts(lines, ctx.frames, folder)
    if facts is None or facts.catalog is None:
        return None
    key = facts.spec.config_aliases.get(str(ctx.path[3]), str(ctx.path[3]))
    table = facts.table()
    if key not in ("primary_key", "columns") or table is None:
        return None
    return list(column_items(table, rng, set(), primary_first=key == "primary_key"))


def table_items(catalog: "Catalog", prefix: str, rng: types.Range, *, quote: str | None = None,
                limit: int = TABLE_LIMIT) -> Iterable[types.CompletionItem]:
    """Tables whose name starts with (then contains) `prefix`, largest first, at most `limit`."""
    for n, table in enumerate(catalog.tables_matching(prefix, limit)):
        name = catalog.display_name(table)
        text = name if quote or re.fullmatch(r"[A-Za-z_][\w.]*", name) else '"' + name.replace('"', '\\"') + '"'
        yield types.CompletionItem(
            label=name, kind=types.CompletionItemKind.Class if table.kind == "table" else types.CompletionItemKind.Interface,
            detail=table_detail(table), sort_text=f"{n:05d}", text_edit=types.TextEdit(range=rng, new_text=text),
        )


def table_detail(table: "DiscoveredTable") -> str:
    rows = f"~{table.row_estimate:,} rows" if table.row_estimate is not None else "rows unknown"
    return f"{table.kind} · {rows} · {len(table.columns)} columns"


def column_items(table: "DiscoveredTable", rng: types.Range, present: set[str], *,
                 primary_first: bool) -> Iterable[types.CompletionItem]:
    pk = list(table.primary_key)
    ordered = (pk + [c for c in table.column_names if c not in pk]) if primary_first else table.column_names
    for n, name in enumerate(ordered):
        if name in present:
            continue
        column = table.column(name)
        assert column is not None
        tags = (["primary key"] if name in pk else []) + ([] if column.nullable else ["not null"])
        yield types.CompletionItem(
            label=name, kind=types.CompletionItemKind.Field, sort_text=f"{n:04d}", preselect=(n == 0 and name in pk) or None,
            detail=f"{column.source_type} → {column.logical_type}" + (f" · {', '.join(tags)}" if tags else ""),
            text_edit=types.TextEdit(range=rng, new_text=name if re.fullmatch(r"[A-Za-z_]\w*", name) else f'"{name}"'),
        )


def _flow_items(text: str) -> list[str]:
    inside = text.split("[", 1)[1] if "[" in text else ""
    return [scalar(p) for p in inside.split("]")[0].split(",") if p.strip()]


# --- SQL inside `query:` ----------------------------------------------------------------------------


def query_block_at(lines: Sequence[str], line: int) -> tuple[int, int] | None:
    """(key line, key column) of the `query:` block scalar whose body holds `line`, if any."""
    text = lines[line]
    indent = len(text) - len(text.lstrip(" "))
    for n in range(line - 1, max(-1, line - 400), -1):
        shape = shape_of(lines[n])
        if shape is None:
            continue
        if shape.indent >= indent and shape.key != "query":
            continue
        if shape.key == "query" and shape.value[:1] in ("|", ">") and shape.key_col < indent:
            return n, shape.key_col
        return None
    return None


def sql_items(lines: Sequence[str], line: int, column: int, folder: FolderContext) -> types.CompletionList | None:
    """Tables after FROM/JOIN, else columns of the tables the query reads; None outside a query block."""
    block = query_block_at(lines, line)
    if block is None:
        return None
    key_line, key_col = block
    frames = ancestors(lines, key_line, key_col, None)
    facts = step_facts(lines, frames, folder)
    if facts is None:
        return None
    before = lines[line][:column]
    word = _SQL_WORD_BEFORE.search(before).group(1)  # type: ignore[union-attr]
    rng = line_range(lines, line, column - len(word), column)
    body = "\n".join(lines[key_line + 1:line] + [before])
    tables = _known_tables(lines, facts, folder)
    if _SQL_TABLE_KEYWORD.search(before) or re.search(r"\b(from|join)\s*$", body, re.IGNORECASE):
        if facts.catalog is not None and facts.spec.name != "duckdb.processor":
            return types.CompletionList(is_incomplete=True, items=list(table_items(facts.catalog, word, rng)))
        return types.CompletionList(is_incomplete=False, items=[
            types.CompletionItem(label=name, kind=types.CompletionItemKind.Class, detail="input of this step",
                                 text_edit=types.TextEdit(range=rng, new_text=name if re.fullmatch(r"\w+", name) else f'"{name}"'))
            for name in tables])
    whole = "\n".join(lines[key_line + 1:_block_end(lines, key_line, key_col)])
    items = []
    seen: set[str] = set()
    for m in _SQL_TABLE_REFS.finditer(whole):
        columns = tables.get(m.group(1))
        for name, detail in columns or ():
            if name not in seen and name.lower().startswith(word.lower()):
                seen.add(name)
                items.append(types.CompletionItem(label=name, kind=types.CompletionItemKind.Field,
                                                  detail=f"{m.group(1)} · {detail}",
                                                  text_edit=types.TextEdit(range=rng, new_text=name)))
    return types.CompletionList(is_incomplete=False, items=items)


def _known_tables(lines: Sequence[str], facts: StepFacts, folder: FolderContext) -> dict[str, list[tuple[str, str]]]:
    """Table name -> [(column, detail)] for a query of this step: its cache, or (duckdb) its inputs."""
    if facts.spec.name != "duckdb.processor":
        if facts.catalog is None:
            return {}
        return {facts.catalog.display_name(t): [(c.name, c.source_type) for c in t.columns] for t in facts.catalog.tables}
    from osiris_lsp.features.completion import step_ids_in_text

    step = facts.frames[1]
    ids = step_ids_in_text(lines, step.level)
    own = mapping_keys(lines, step.line, step.level)
    needs_text = own.get("needs", (0, ""))[1]
    needs = [scalar(p) for p in re.split(r"[\[\],]", needs_text) if p.strip()]
    if not needs:  # no `needs`: the previous step
        earlier = [i for line_no, i in sorted(ids.items()) if line_no < step.line]
        needs = earlier[-1:]
    out: dict[str, list[tuple[str, str]]] = {}
    for line_no, step_id in ids.items():
        if step_id not in needs:
            continue
        upstream = step_facts(lines, ancestors(lines, line_no, step.level, step.level - 2), folder)
        table = upstream.table() if upstream is not None else None
        columns = [(c.name, c.source_type) for c in table.columns] if table is not None else []
        out[step_id] = columns
    return out


def _block_end(lines: Sequence[str], key_line: int, key_col: int) -> int:
    n = key_line + 1
    while n < len(lines) and (not lines[n].strip() or len(lines[n]) - len(lines[n].lstrip(" ")) > key_col):
        n += 1
    return n


# --- hover -------------------------------------------------------------------------------------------


def table_hover(lines: Sequence[str], line: int, column: int, folder: FolderContext) -> types.Hover | None:
    """Columns, types, keys and the cache's age for the table named by a `table:` value."""
    text = lines[line]
    shape = shape_of(text)
    if shape is None or shape.key is None:
        return None
    frames = ancestors(lines, line, shape.key_col, shape.dash)
    if len(frames) != 3 or frames[2].name not in CONFIG_KEYS:
        return None
    facts = step_facts(lines, frames, folder)
    if facts is None or facts.spec.config_aliases.get(shape.key, shape.key) != "table" or facts.catalog is None:
        return None
    start = text.find(shape.value, text.index(":", shape.key_col)) if shape.value else -1
    if start < 0 or not start <= column <= start + len(shape.value):
        return None
    table = facts.table()
    if table is None:
        return None
    rng = line_range(lines, line, start, start + len(shape.value))
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                    value=table_markdown(facts.catalog, table)), range=rng)


def table_markdown(catalog: "Catalog", table: "DiscoveredTable") -> str:
    from osiris_runtime.discovery.cache import age_seconds, describe_age

    head = f"**{catalog.display_name(table)}** ({table.kind}) · {table_detail(table).split(' · ', 1)[1]}"
    rows = ["| column | type | logical | null |", "|---|---|---|---|"]
    for c in table.columns:
        mark = " 🔑" if c.name in table.primary_key else ""
        rows.append(f"| `{c.name}`{mark} | `{c.source_type}` | {c.logical_type} | {'yes' if c.nullable else 'no'} |")
    keys = [f"primary key ({', '.join(table.primary_key)})"] if table.primary_key else ["no primary key"]
    keys += [f"unique ({', '.join(k)})" for k in table.unique_keys if tuple(k) != table.primary_key]
    age = describe_age(age_seconds(catalog))
    return "\n\n".join([head, "\n".join(rows), "; ".join(keys),
                        f"discovered from `{catalog.connection}` at {catalog.discovered_at} ({age} ago)"])
