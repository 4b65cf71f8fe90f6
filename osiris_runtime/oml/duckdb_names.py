"""The table names a `duckdb.processor` query can read, and a quick look at the names it reads.

The driver (`drivers.duckdb`) registers each input under its step id, as `df_<id>` for pipelines
written for the original Osiris, and as `input_df` when the step has exactly one input. DuckDB
itself resolves more: its catalog views (`duckdb_tables`, `pg_class`, ...), CTEs, table functions
(`read_csv(...)`), files (`'data.parquet'`), qualified names (an attached database,
`information_schema.tables`) and tables or views an earlier statement of the same query created.

`may_read_other_tables` is a tokenizer pass, no SQL parser: only when it cannot tell that every
table a query reads is one of these does the validator parse the query with sqlglot
(`sql_analysis.tables_read`), so validating a pipeline whose queries read their inputs never
imports sqlglot (the CLI's start-up budget). Names compare case-insensitively, as in DuckDB.
"""

from __future__ import annotations

import functools
import re

# Osiris up to v0.5.0 showed a DuckDB step's single upstream as `input_df` (the driver does too).
SINGLE_INPUT_NAME = "input_df"

# DuckDB's own views on the default search path (`system.main` and `pg_catalog`), as of DuckDB 1.x-2.x;
# tests/oml/test_duckdb_tables.py checks the installed DuckDB resolves no other.
SYSTEM_VIEWS = frozenset({
    "duckdb_columns", "duckdb_constraints", "duckdb_databases", "duckdb_indexes", "duckdb_logs", "duckdb_schemas",
    "duckdb_tables", "duckdb_types", "duckdb_views", "pragma_database_list", "sqlite_master", "sqlite_schema",
    "sqlite_temp_master", "sqlite_temp_schema", "pg_am", "pg_attrdef", "pg_attribute", "pg_class", "pg_collation",
    "pg_constraint", "pg_database", "pg_depend", "pg_description", "pg_enum", "pg_index", "pg_indexes",
    "pg_namespace", "pg_prepared_statements", "pg_proc", "pg_sequence", "pg_sequences", "pg_settings", "pg_tables",
    "pg_tablespace", "pg_type", "pg_views",
})


def legacy_view_name(step_id: str) -> str:
    """The original Osiris's input name: `df_` + the id with non-alphanumerics as `_`."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", step_id)
    return f"df_{name}"


def is_plain_sql_name(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) is not None


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def input_names(inputs: tuple[str, ...]) -> tuple[str, ...]:
    """The names a query reads its inputs by (step ids of the data inputs, in order): each id, its
    `df_` view, and `input_df` for a single input."""
    out = [n for step_id in inputs for n in (step_id, legacy_view_name(step_id))]
    return tuple(dict.fromkeys(out + ([SINGLE_INPUT_NAME] if len(inputs) == 1 else [])))


def sql_text(name: str) -> str:
    """`name` as a query writes it: bare when plain, else quoted."""
    return name if is_plain_sql_name(name) else quote_identifier(name)


def replacing(name: str, quoted: bool) -> str:
    """The text that names `name` in place of a name written `quoted` (its range then excludes
    the quotes, so it stays quoted) or bare (then the name is quoted when it has to be)."""
    return name.replace('"', '""') if quoted else sql_text(name)


def resolvable(inputs: tuple[str, ...]) -> frozenset[str]:
    """Lower-cased unqualified names a query of a step with these inputs may read besides its own
    CTEs and what it creates. `input_df` always: with no or several inputs `config.ambiguous-input`
    says so already."""
    names = {n.lower() for step_id in inputs for n in (step_id, legacy_view_name(step_id))}
    return frozenset(names | SYSTEM_VIEWS | {SINGLE_INPUT_NAME})


_TOKEN = re.compile(r"""
    (?P<skip>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>[eE]?'(?:[^']|'')*(?:'|\Z)|\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|\Z))
  | (?P<quoted>"(?:[^"]|"")*(?:"|\Z))
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<punct>[(),.;])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
# After these a table name may follow (a function call, subquery, string or qualified name may too).
_TABLE_BEFORE = {"from", "join", "into", "table"}
# These end a FROM clause at their depth (a comma after them separates no tables).
_CLAUSE_END = {"where", "group", "having", "order", "limit", "offset", "qualify", "window", "union", "except",
               "intersect", "select", "fetch", "returning", "values", "set"}
_STATEMENT_STARTS = {"select", "with", "from", "values"}


@functools.lru_cache(maxsize=2048)
def may_read_other_tables(sql: str, known: frozenset[str]) -> bool:
    """False when every unqualified table `sql` reads is in `known` (lower-cased) or one of its
    CTEs; True when one may not be, or the query is more than one SELECT-like statement (the
    parser then decides). Never False for a query that reads an unknown table."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(sql) if m.lastgroup not in ("skip", None)]
    while tokens and tokens[-1] == ("punct", ";"):
        tokens.pop()
    if not tokens or tokens[0][0] != "word" or tokens[0][1].lower() not in _STATEMENT_STARTS:
        return True
    if ("punct", ";") in tokens:
        return True
    names: set[str] | frozenset[str] = known
    ctes_added = False
    in_from = [False]  # per parenthesis depth: inside a FROM clause
    for at, (kind, text) in enumerate(tokens):
        word = text.lower() if kind == "word" else None
        if text == "(":
            in_from.append(False)
            continue
        if text == ")":
            if len(in_from) > 1:
                in_from.pop()
            continue
        if word in _CLAUSE_END:
            in_from[-1] = False
        follows = word in _TABLE_BEFORE or (text == "," and in_from[-1])
        if word in ("from", "join"):
            in_from[-1] = True
        if follows and not _names_known_table(tokens, at + 1, names):
            if ctes_added:
                return True
            names, ctes_added = known | _cte_names(tokens), True  # looked for only when needed
            if not _names_known_table(tokens, at + 1, names):
                return True
    return False


def _names_known_table(tokens: list[tuple[str | None, str]], at: int, names: set[str] | frozenset[str]) -> bool:
    """Whether the tokens from `at` name no table outside `names`: a subquery, a function call, a
    string (a file), a qualified name (left to DuckDB) or a known name."""
    if at >= len(tokens):
        return True
    kind, text = tokens[at]
    after = tokens[at + 1][1] if at + 1 < len(tokens) else None
    if text == "(" or kind == "string" or after in ("(", "."):
        return True
    if kind == "quoted":
        return text[1:-1].replace('""', '"').lower() in names
    return kind == "word" and text.lower() in names


def _cte_names(tokens: list[tuple[str | None, str]]) -> set[str]:
    """Names defined as `name AS (` or `name(columns) AS (` (a superset of the CTEs); none
    without a WITH."""
    if not any(kind == "word" and text.lower() == "with" for kind, text in tokens):
        return set()
    closing: dict[int, int] = {}  # index of each `(` -> index of its `)`
    opened: list[int] = []
    for at, (_, text) in enumerate(tokens):
        if text == "(":
            opened.append(at)
        elif text == ")" and opened:
            closing[opened.pop()] = at
    out: set[str] = set()
    for at, (kind, text) in enumerate(tokens):
        if kind not in ("word", "quoted"):
            continue
        after = at + 1
        if after < len(tokens) and tokens[after][1] == "(":
            after = closing.get(after, len(tokens)) + 1
        if after >= len(tokens) or tokens[after][1].lower() != "as":
            continue
        rest = [t.lower() for _, t in tokens[after:after + 4]]
        if rest[:2] == ["as", "("] or rest[:3] == ["as", "materialized", "("] or rest == ["as", "not", "materialized", "("]:
            out.add(text[1:-1].replace('""', '"').lower() if kind == "quoted" else text.lower())
    return out
