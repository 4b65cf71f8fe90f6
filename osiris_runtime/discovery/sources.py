"""Reading a live schema: MySQL and Postgres catalogs in a few bulk queries, PostgREST's OpenAPI.

Each reader takes a *resolved* connection (secrets included: only the driver sees them) and
returns the tables it found; the number of queries does not grow with the number of tables
(MySQL: 3-4, Postgres: 3, PostgREST: one request). Failures are raised as the driver raised them;
the caller classifies them (dns, refused, timeout, auth) the way `connections doctor` does.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from osiris_runtime.discovery.model import Catalog, DiscoveredColumn, DiscoveredTable
from osiris_runtime.errors import ConfigError

# (phase, done, total): e.g. ("columns", 2, 4); total is the number of phases.
Progress = Callable[[str, int, int], None]

# Schemas Supabase manages itself: discovered tables there would drown the user's own.
SUPABASE_INTERNAL_SCHEMAS = ("auth", "storage", "realtime", "_realtime", "extensions", "graphql", "graphql_public",
                             "vault", "pgsodium", "pgsodium_masks", "supabase_functions", "supabase_migrations",
                             "net", "cron", "pgbouncer", "_analytics")
_JSON_CHECK = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)


@dataclass(frozen=True)
class Discovered:
    default_schema: str
    tables: tuple[DiscoveredTable, ...]
    method: str


def discover_connection(family: str, connection: Mapping[str, Any], *, timeout: float = 10.0,
                        pattern: str | None = None, progress: Progress | None = None) -> Discovered:
    """Tables of a resolved connection of `family` (mysql, supabase, postgres)."""
    report = progress or (lambda phase, done, total: None)
    if family == "mysql":
        found = discover_mysql(connection, timeout, report)
    elif family in ("postgres", "postgresql"):
        found = discover_postgres(connection, timeout, report, excluded=())
    elif family == "supabase":
        from osiris_runtime.drivers.postgres import has_direct_connection

        if has_direct_connection(connection):
            found = discover_postgres(connection, timeout, report, excluded=SUPABASE_INTERNAL_SCHEMAS)
        else:
            found = discover_postgrest(connection, timeout, report)
    else:
        raise ConfigError(f"no discovery for the {family} family", code="discovery.unsupported",
                          fix="discovery reads mysql and supabase (or postgres) connections")
    if pattern:
        kept = tuple(t for t in found.tables if fnmatch.fnmatchcase(t.name, pattern))
        found = Discovered(found.default_schema, kept, found.method)
    return found


def build_catalog(label: str, family: str, found: Discovered, *, fingerprint: str, identity_fields: tuple[str, ...],
                  spec_versions: Mapping[str, str], pattern: str | None, started: float,
                  now: dt.datetime | None = None) -> Catalog:
    taken = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return Catalog(
        connection=label, family=family, default_schema=found.default_schema, tables=found.tables,
        fingerprint=fingerprint, identity_fields=identity_fields, spec_versions=dict(spec_versions),
        table_pattern=pattern, discovered_at=taken.isoformat().replace("+00:00", "Z"),
        duration_ms=(time.perf_counter() - started) * 1000, method=found.method,
    )


# --- MySQL / MariaDB ------------------------------------------------------------------------------


def discover_mysql(connection: Mapping[str, Any], timeout: float, report: Progress) -> Discovered:
    import pymysql  # as `connections doctor` uses it: the same failure categories

    from osiris_runtime.drivers.sql_types import mysql_logical_type

    database = connection.get("database")
    if not database:
        raise ConfigError("the MySQL connection names no `database` to discover", code="connection.missing-field",
                          fix="add `database:` to the alias")
    report("connect", 0, 4)
    conn = pymysql.connect(
        host=str(connection.get("host") or "127.0.0.1"), port=int(connection.get("port") or 3306),
        user=str(connection.get("user") or connection.get("username") or ""),
        password=str(connection.get("password") or ""), database=str(database),
        charset="utf8mb4", connect_timeout=max(1, round(timeout)),
    )
    try:
        cur = conn.cursor()
        report("tables", 1, 4)
        cur.execute("SELECT TABLE_NAME, TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                    (database,))
        kinds = {_text(r[0]): ("view" if "VIEW" in _text(r[1]).upper() else "table", r[2]) for r in cur.fetchall()}
        report("columns", 2, 4)
        cur.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION", (database,))
        rows = [(_text(r[0]), _text(r[1]), _text(r[2]), _text(r[3]) == "YES") for r in cur.fetchall()]
        json_columns = _mariadb_json_columns(cur, database)
        report("keys", 3, 4)
        cur.execute(
            "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = %s AND NON_UNIQUE = 0 ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX", (database,))
        keys: dict[str, dict[str, list[str]]] = {}
        for table, index, column in cur.fetchall():
            keys.setdefault(_text(table), {}).setdefault(_text(index), []).append(_text(column))
    finally:
        conn.close()
    columns: dict[str, list[DiscoveredColumn]] = {}
    for table, name, column_type, nullable in rows:
        source = "json" if (table, name) in json_columns else column_type
        columns.setdefault(table, []).append(DiscoveredColumn(name, source, mysql_logical_type(source), nullable))
    tables = []
    for name, (kind, estimate) in kinds.items():
        table_keys = keys.get(name, {})
        tables.append(DiscoveredTable(
            schema=str(database), name=name, kind=kind, columns=tuple(columns.get(name, ())),
            primary_key=tuple(table_keys.get("PRIMARY", ())),
            unique_keys=tuple(tuple(k) for k in table_keys.values()),
            row_estimate=int(estimate) if estimate is not None and kind == "table" else None,
        ))
    report("done", 4, 4)
    return Discovered(str(database), tuple(sorted(tables, key=lambda t: t.name)), "information_schema")


def _mariadb_json_columns(cur: Any, database: str) -> set[tuple[str, str]]:
    """MariaDB's JSON is LONGTEXT with a `json_valid` check; MySQL 5.7 has no CHECK_CONSTRAINTS."""
    try:
        cur.execute("SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                    "WHERE CONSTRAINT_SCHEMA = %s", (database,))
    except Exception:  # noqa: BLE001 - a server without the view has a real JSON type
        return set()
    return {(_text(table), m.group(1).replace("``", "`"))
            for table, clause in cur.fetchall() for m in _JSON_CHECK.finditer(_text(clause))}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


# --- Postgres (direct) ----------------------------------------------------------------------------

_PG_RELATIONS = """
SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%' AND NOT (n.nspname = ANY(%s))
"""
_PG_COLUMNS = """
SELECT a.attrelid, a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%' AND NOT (n.nspname = ANY(%s))
ORDER BY a.attrelid, a.attnum
"""
# Unique indexes usable as a conflict target: no predicate, no expression.
_PG_KEYS = """
SELECT i.indrelid, i.indisprimary,
       array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%' AND NOT (n.nspname = ANY(%s))
ORDER BY i.indrelid, i.indisprimary DESC, i.indexrelid
"""


def discover_postgres(connection: Mapping[str, Any], timeout: float, report: Progress,
                      excluded: tuple[str, ...]) -> Discovered:
    import psycopg

    from osiris_runtime.drivers.postgres import _source_spelling, conninfo_of
    from osiris_runtime.drivers.sql_types import pg_logical_type

    default_schema = str(connection.get("schema") or "public")
    report("connect", 0, 4)
    with psycopg.connect(conninfo_of(connection), connect_timeout=max(1, round(timeout)),
                         prepare_threshold=None, autocommit=True) as conn:
        skip = list(excluded)
        report("tables", 1, 4)
        relations = conn.execute(_PG_RELATIONS, (skip,)).fetchall()
        report("columns", 2, 4)
        column_rows = conn.execute(_PG_COLUMNS, (skip,)).fetchall()
        report("keys", 3, 4)
        key_rows = conn.execute(_PG_KEYS, (skip,)).fetchall()
    columns: dict[int, list[DiscoveredColumn]] = {}
    for oid, name, type_oid, display, nullable in column_rows:
        columns.setdefault(oid, []).append(
            DiscoveredColumn(name, _source_spelling(display), pg_logical_type(type_oid, display), bool(nullable)))
    primary: dict[int, tuple[str, ...]] = {}
    unique: dict[int, list[tuple[str, ...]]] = {}
    for oid, is_primary, key_columns in key_rows:
        if is_primary:
            primary[oid] = tuple(key_columns)
        unique.setdefault(oid, []).append(tuple(key_columns))
    tables = [
        DiscoveredTable(
            schema=schema, name=name, kind="view" if kind in ("v", "m") else "table",
            columns=tuple(columns.get(oid, ())), primary_key=primary.get(oid, ()),
            unique_keys=tuple(unique.get(oid, ())),
            row_estimate=int(estimate) if estimate is not None and estimate >= 0 and kind not in ("v",) else None,
        )
        for oid, schema, name, kind, estimate in relations
    ]
    report("done", 4, 4)
    return Discovered(default_schema, tuple(sorted(tables, key=lambda t: (t.schema, t.name))), "pg_catalog")


# --- PostgREST (Supabase over REST) ---------------------------------------------------------------


def discover_postgrest(connection: Mapping[str, Any], timeout: float, report: Progress) -> Discovered:
    """One `GET /rest/v1/`: PostgREST's OpenAPI description of the exposed schema."""
    from osiris_runtime.connectivity import get_rest_root
    from osiris_runtime.drivers.supabase_rest import describe_table
    from osiris_runtime.oml.connections import field_value, supabase_rest_url

    url = supabase_rest_url(connection)
    key = field_value(connection, "key")  # or service_role_key / anon_key
    if not url or not key:
        raise ConfigError("the Supabase alias needs `url` (or `project_id`) and `key` (or a direct `dsn`)",
                          code="connection.missing-field")
    schema = str(connection.get("schema") or "public")
    report("connect", 0, 2)
    response = get_rest_root(str(url), str(key), timeout, headers={
        "Accept-Profile": schema, "Accept": "application/openapi+json, application/json"})
    try:
        body = response.json() if response.is_success else None
    except ValueError:
        body = None
    if not isinstance(body, Mapping) or not isinstance(body.get("definitions"), Mapping):
        raise RuntimeError(f"the REST endpoint serves no OpenAPI description (HTTP {response.status_code}); "
                           "give the alias a direct `dsn` to discover through Postgres")
    report("tables", 1, 2)
    paths = body.get("paths") if isinstance(body.get("paths"), Mapping) else {}
    tables = []
    for name in sorted(body["definitions"]):
        described = describe_table(body, name) or []
        ops = paths.get(f"/{name}") if isinstance(paths, Mapping) else None
        writable = isinstance(ops, Mapping) and any(m in ops for m in ("post", "patch", "delete"))
        pk = tuple(c.name for c in described if c.primary_key)
        tables.append(DiscoveredTable(
            schema=schema, name=name, kind="table" if writable or ops is None else "view",
            columns=tuple(DiscoveredColumn(c.name, c.source_type or c.pg_type, c.logical_type, c.nullable) for c in described),
            primary_key=pk, unique_keys=(pk,) if pk else (), row_estimate=None,
        ))
    report("done", 2, 2)
    return Discovered(schema, tuple(tables), "postgrest-openapi")
