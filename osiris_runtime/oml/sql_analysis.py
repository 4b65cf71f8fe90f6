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
from typing import Iterable

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


# DuckDB table functions whose first argument names the file(s) they read; and `read_*` in general
# (read_csv, read_parquet, read_json_auto, read_ndjson, read_text, read_blob, read_xlsx, ...).
_FILE_FUNCTIONS = frozenset({"parquet_scan", "parquet_metadata", "parquet_schema", "parquet_file_metadata",
                             "parquet_kv_metadata", "sniff_csv", "glob"})
# A `FROM "data.csv"` (an identifier) is read as a file too when no table has that name (a replacement scan).
_FILE_SUFFIX = re.compile(r"\.(csv|tsv|txt|parquet|json|jsonl|ndjson)(\.gz|\.zst)?$", re.IGNORECASE)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_FILE_CALL = re.compile(r"\b(read_\w+|parquet_\w+|sniff_csv|glob)\s*\(\s*'((?:[^']|'')*)'", re.IGNORECASE)
_FROM_STRING = re.compile(r"\b(?:from|join)\s+'((?:[^']|'')*)'", re.IGNORECASE)


@dataclass(frozen=True)
class FilesRead:
    """The files a DuckDB query reads: `paths` as written (globs kept, URLs left out), and the
    calls whose file argument is not a literal (`read_csv('a' || x)`), which nobody can know
    before the query runs."""

    paths: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()


def _is_file_function(name: str) -> bool:
    name = name.lower()
    return name.startswith("read_") or name in _FILE_FUNCTIONS


@functools.lru_cache(maxsize=512)
def files_read(sql: str, query_params: tuple[tuple[str, object], ...] = ()) -> FilesRead:
    """What `read_csv('x.csv')`, `read_parquet(['a', 'b'])`, `FROM 'x.parquet'`, `FROM "x.csv"`
    read in a DuckDB query; `$name` arguments are looked up in `query_params`. A query sqlglot
    cannot parse is searched for `read_*('...')` and `FROM '...'` literals instead."""
    import sqlglot
    from sqlglot import exp

    params = dict(query_params)
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except Exception:  # noqa: BLE001 - DuckDB syntax sqlglot does not know: the literal spellings still show
        found = [m.group(2) for m in _FILE_CALL.finditer(sql)] + [m.group(1) for m in _FROM_STRING.finditer(sql)]
        return FilesRead(_local_paths(p.replace("''", "'") for p in found))
    paths: list[str] = []
    unknown: list[str] = []

    def literal_paths(arg: object) -> list[str] | None:
        if isinstance(arg, exp.Literal) and arg.is_string:
            return [arg.name]
        if isinstance(arg, exp.Placeholder) and isinstance(params.get(str(arg.name)), str):
            return [str(params[str(arg.name)])]
        if isinstance(arg, exp.Array):
            parts = [literal_paths(item) for item in arg.expressions]
            return None if any(p is None for p in parts) else [x for p in parts if p for x in p]
        return None

    for statement in statements:
        for call in statement.find_all(exp.Func):
            name = call.name if isinstance(call, exp.Anonymous) else call.sql_name()
            if not _is_file_function(name):
                continue
            args = [a for a in (call.args.get("this"), *call.expressions) if a is not None and not isinstance(a, str)]
            named = [a.expression for a in args if isinstance(a, exp.Kwarg) and a.this.name.lower() == "files"]
            positional = [a for a in args if not isinstance(a, (exp.EQ, exp.PropertyEQ, exp.Kwarg))]
            first = (named or positional or [None])[0]
            found = literal_paths(first) if first is not None else None
            if found is None:
                unknown.append(call.sql(dialect="duckdb"))
            else:
                paths.extend(found)
        for table in statement.find_all(exp.Table):
            ident = table.this
            if not isinstance(ident, exp.Identifier) or not ident.quoted or table.db:
                continue
            start = ident.meta.get("start")
            written_as_string = start is not None and sql[start:start + 1] == "'"
            if written_as_string or _FILE_SUFFIX.search(ident.name):
                paths.append(ident.name)
    return FilesRead(_local_paths(paths), tuple(dict.fromkeys(unknown)))


def _local_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """Paths in order, once each, without URLs (`https://`, `s3://`: read from where they are)."""
    return tuple(dict.fromkeys(p for p in paths if p and not _URL.match(p)))
