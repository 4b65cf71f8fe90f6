"""What a step's SQL says: syntax errors, the tables it reads, the columns it names, its output.

sqlglot parses the query in the step's dialect (MySQL for `mysql.extractor`, Postgres for
`supabase.extractor`, DuckDB for `duckdb.processor`). Offsets are into the SQL text; the caller
maps them into the YAML scalar. `${params.x}` placeholders are replaced by same-length numbers
before parsing, so offsets stay true. Results are memoised per (sql, dialect): re-validating a
document after an edit re-parses only the queries that changed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

DIALECT_OF_COMPONENT = {"mysql.extractor": "mysql", "supabase.extractor": "postgres", "duckdb.processor": "duckdb"}
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class SqlName:
    """A table or column name as written, with its offsets [start, end) in the SQL."""

    name: str
    start: int
    end: int
    qualifier: str | None = None  # the table or alias before the dot (columns), the schema (tables)


@dataclass(frozen=True)
class SqlError:
    message: str
    start: int
    end: int


@dataclass(frozen=True)
class SqlAnalysis:
    error: SqlError | None = None
    tables: tuple[SqlName, ...] = ()  # real tables read (CTE names excluded)
    aliases: tuple[tuple[str, str], ...] = ()  # (alias, table name)
    columns: tuple[SqlName, ...] = ()  # column references that must exist in a table
    output_columns: tuple[str, ...] | None = None  # the select list's names; None when unknown (`*`)
    single_source: bool = False  # exactly one table and no subquery/CTE: unqualified columns are its own

    def table_of(self, qualifier: str | None) -> str | None:
        if qualifier is None:
            return self.tables[0].name if self.single_source and self.tables else None
        return dict(self.aliases).get(qualifier) or next((t.name for t in self.tables if t.name == qualifier), None)


def available() -> bool:
    try:
        import sqlglot  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=512)
def analyze_sql(sql: str, dialect: str) -> SqlAnalysis:
    """Parse one statement; never raises (an unparsable query is an `SqlAnalysis` with `error`)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    text = _PLACEHOLDER.sub(lambda m: "1" * len(m.group(0)), sql)
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as exc:
        return SqlAnalysis(error=_located(text, exc))
    except TokenError as exc:
        return SqlAnalysis(error=SqlError(f"SQL cannot be read: {exc}", 0, len(text)))
    except Exception as exc:  # noqa: BLE001 - a parser bug must not cost the document its other diagnostics
        return SqlAnalysis(error=SqlError(f"SQL parser failed: {type(exc).__name__}", 0, 0))
    if len(statements) != 1:
        return SqlAnalysis()
    tree = statements[0]
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    tables: list[SqlName] = []
    aliases: list[tuple[str, str]] = []
    for table in tree.find_all(exp.Table):
        ident = table.this
        if not isinstance(ident, exp.Identifier) or table.name in ctes:
            continue
        meta = ident.meta
        tables.append(SqlName(table.name, meta.get("start", 0), meta.get("end", -1) + 1, table.db or None))
        if table.alias:
            aliases.append((table.alias, table.name))
    derived = any(isinstance(s, exp.Subquery) for s in tree.find_all(exp.Subquery)) or bool(ctes)
    select_aliases = {a.alias for a in tree.find_all(exp.Alias)}
    columns = []
    for column in tree.find_all(exp.Column):
        ident = column.this
        if not isinstance(ident, exp.Identifier) or (not column.table and ident.name in select_aliases):
            continue
        meta = ident.meta
        columns.append(SqlName(ident.name, meta.get("start", 0), meta.get("end", -1) + 1, column.table or None))
    return SqlAnalysis(
        tables=tuple(tables), aliases=tuple(aliases), columns=tuple(columns),
        output_columns=_output_columns(tree), single_source=len(tables) == 1 and not derived,
    )


def _output_columns(tree: object) -> tuple[str, ...] | None:
    from sqlglot import exp

    if not isinstance(tree, exp.Select):
        return None
    names = []
    for projection in tree.expressions:
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)):
            return None
        name = projection.alias_or_name
        if not name:
            return None
        names.append(name)
    return tuple(names)


def _located(text: str, exc: object) -> SqlError:
    errors = getattr(exc, "errors", None) or [{}]
    first = errors[0]
    description = str(first.get("description") or exc).split("\n")[0]
    line, col, highlight = first.get("line"), first.get("col"), str(first.get("highlight") or "")
    if not line or not col:
        return SqlError(f"SQL syntax: {description}", 0, len(text))
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    end = min(starts[min(line, len(starts)) - 1] + col, len(text))
    start = max(0, end - len(highlight)) if highlight else max(0, end - 1)
    near = f" near `{highlight}`" if highlight else ""
    return SqlError(f"SQL syntax: {description}{near}", start, max(end, start + 1))


@functools.lru_cache(maxsize=512)
def tables_read(sql: str, dialect: str) -> tuple[SqlName, ...] | None:
    """The unqualified tables a script of one or more statements reads, in order: not its CTEs,
    table functions or files (`'data.csv'`), nor a name an earlier statement created (`CREATE
    [TEMP] TABLE|VIEW name`), nor in a `DROP`. None when it cannot be read or a statement changes
    how names resolve (`USE`, `SET`): nothing is known then."""
    import sqlglot
    from sqlglot import exp

    text = _PLACEHOLDER.sub(lambda m: "1" * len(m.group(0)), sql)
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except Exception:  # noqa: BLE001 - a query sqlglot cannot read is `sql.syntax`'s business, not this one's
        return None
    created: set[str] = set()
    found: list[SqlName] = []
    for statement in statements:
        if isinstance(statement, (exp.Use, exp.Set)):
            return None
        if isinstance(statement, exp.Drop):
            continue
        target = statement.find(exp.Table) if isinstance(statement, exp.Create) else None
        ctes = {c.alias_or_name.lower() for c in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            ident = table.this
            if table is target or not isinstance(ident, exp.Identifier) or table.db or table.catalog:
                continue
            start, end = ident.meta.get("start", 0), ident.meta.get("end", -1) + 1
            if text[start:start + 1] == "'" or table.name.lower() in ctes | created:
                continue
            found.append(SqlName(table.name, start, end))
        if target is not None:
            created.add(target.name.lower())
    return tuple(sorted(found, key=lambda name: name.start))
