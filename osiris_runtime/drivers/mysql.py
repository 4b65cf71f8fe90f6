"""MySQL / MariaDB extractor and writer.

Reads stream through an unbuffered server-side cursor (`SSCursor`) in `batch_size` chunks, so a
table of any size moves in bounded memory. The C driver `mysqlclient` is used when installed
(`pymysql` is the fallback). Numbers and dates stay the text MySQL sent, in `TextBatch`es that type
them on demand (a Postgres writer copies the text as is; see docs/data-movement.md); a table read
whose every consumer takes COPY text gets each row from MySQL as its COPY line (copy_text.py). Sessions run
in UTC so TIMESTAMP columns arrive as instants (timezone-aware datetimes).

Writes are atomic per target: append and upsert run in one InnoDB transaction
(upsert is `INSERT ... ON DUPLICATE KEY UPDATE`). Replace loads a staging table of its own (named
after the target and the connection, so concurrent replaces never share one), then puts the rows in
place keeping the table's definition:
- a plain table (no triggers, no foreign keys either way) is swapped in with one atomic
  `RENAME TABLE` (grants are kept by name);
- a table with triggers or foreign keys of its own: `DELETE` + `INSERT ... SELECT` in one
  transaction, so the triggers, keys and `AUTO_INCREMENT` stay;
- a table other tables reference: in one transaction, rows whose key is gone are deleted and the
  rest inserted or updated in place by primary key, so child rows of kept keys stay valid (and a
  child of a removed key fails the run under `RESTRICT`, changing nothing).
A table created by `create_if_missing` is dropped again when the run fails, so the database is left
as it was; a message says "the target is unchanged" only before anything was committed to it. A
connection lost during the COMMIT (or the final swap of a replace) leaves the outcome unknown and is
reported so: `run.commit-unknown`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any

from osiris_runtime.drivers.base import StepContext, commit_outcome_unknown
from osiris_runtime.drivers.copy_text import COPY_TEXT, CopyTextBatch, copy_line_select
from osiris_runtime.drivers.sql_identifiers import mysql_table, quote_mysql
from osiris_runtime.drivers.sql_types import (
    create_table_ddl,
    describe_columns,
    mysql_logical_type,
    mysql_type_for,
)
from osiris_runtime.drivers.step_options import ReadOptions, WriteOptions, check_target
from osiris_runtime.drivers.text_batch import TextBatch
from osiris_runtime.errors import OsirisError, RunFailed, ValidationFailed
from osiris_runtime.runner.batches import Batch, Column, Schema

if TYPE_CHECKING:
    from osiris_runtime.drivers.partitions import PartitionPlan

_UTC = dt.UTC
_SESSION_SETUP = (
    "SET time_zone = '+00:00'",
    # A slow consumer must not make the server drop a streaming result after the default 60 s.
    "SET SESSION net_write_timeout = 3600",
)
# A value that does not fit is an error, never silently truncated or zeroed (whatever the server default).
_STRICT_WRITES = ("SET SESSION sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES'))",)


@dataclass(frozen=True)
class MySQLClient:
    """The DB-API module in use (`MySQLdb` from mysqlclient, or `pymysql`) and its streaming cursor."""

    name: str
    module: ModuleType
    streaming_cursor: type

    @property
    def error(self) -> type[BaseException]:
        return self.module.Error


def mysql_client() -> MySQLClient:
    """mysqlclient when importable, else pymysql; `OSIRIS_MYSQL_DRIVER=pymysql` forces the fallback."""
    if os.environ.get("OSIRIS_MYSQL_DRIVER", "").lower() != "pymysql":
        try:
            mysqldb = importlib.import_module("MySQLdb")
            return MySQLClient("mysqlclient", mysqldb, importlib.import_module("MySQLdb.cursors").SSCursor)
        except ImportError:
            pass
    pymysql = importlib.import_module("pymysql")
    return MySQLClient("pymysql", pymysql, importlib.import_module("pymysql.cursors").SSCursor)


def _datetime_or_none(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text if isinstance(text, str) else text.decode())
    except ValueError:  # zero dates ('0000-00-00 ...') have no datetime
        return None


def _date_or_none(text: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text if isinstance(text, str) else text.decode())
    except ValueError:
        return None


_TIME_TEXT = re.compile(r"^(-)?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$")


def _timedelta_or_none(text: Any) -> dt.timedelta | None:
    """MySQL TIME text (`-838:59:59.5`): a signed duration."""
    m = _TIME_TEXT.match(text if isinstance(text, str) else text.decode())
    if not m:
        return None
    sign, hours, minutes, seconds, fraction = m.groups()
    value = dt.timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds), microseconds=int((fraction or "0").ljust(6, "0")))
    return -value if sign else value


def _timestamp_or_none(text: Any) -> dt.datetime | None:
    value = _datetime_or_none(text)
    return value.replace(tzinfo=_UTC) if value is not None else None  # the session runs in UTC


def _bits_to_int(value: Any) -> Any:
    return int.from_bytes(value, "big") if isinstance(value, (bytes, bytearray)) else value


def _text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else value


def _typed_converter(logical: str) -> Callable[[Any], Any] | None:
    """From MySQL's text form to the logical type's Python value (None: the text is the value)."""
    if logical.startswith(("int", "uint")):
        return int
    if logical.startswith("decimal"):
        return Decimal
    if logical.startswith("float"):
        return float
    if logical.startswith("bit"):
        return _bits_to_int
    return {
        "date": _date_or_none,
        "datetime": _datetime_or_none,
        "timestamp": _timestamp_or_none,
        "time": _timedelta_or_none,
        "json": _text,
    }.get(logical)


def _text_decoders(client: MySQLClient) -> dict[Any, Any]:
    """The driver's conversions with numbers and dates left as the text MySQL sent: decoding them
    is most of the client's cost, and a Postgres COPY parses the text anyway (see text_batch.py)."""
    module = "MySQLdb.converters" if client.name == "mysqlclient" else "pymysql.converters"
    conversions = dict(importlib.import_module(module).conversions)
    field_type = importlib.import_module(f"{client.module.__name__}.constants.FIELD_TYPE")
    for name in ("TINY", "SHORT", "LONG", "LONGLONG", "INT24", "YEAR", "DECIMAL", "NEWDECIMAL", "FLOAT", "DOUBLE",
                 "DATE", "DATETIME", "TIMESTAMP", "TIME"):
        conversions[getattr(field_type, name)] = str
    return conversions


def connect(ctx: StepContext, client: MySQLClient, *, for_write: bool = False) -> Any:
    """A fresh connection from `ctx.connection()` (re-read on each connect), UTF-8 (4-byte), UTC.

    A reading connection leaves numbers and dates as text (`TextBatch` types them on demand).
    """
    conn_cfg = ctx.connection()
    kwargs: dict[str, Any] = {
        "host": conn_cfg.get("host") or "127.0.0.1",
        "port": int(conn_cfg.get("port") or 3306),
        "user": conn_cfg.get("user") or conn_cfg.get("username") or "",
        "password": conn_cfg.get("password") or "",
        "database": conn_cfg.get("database") or "",
        "charset": "utf8mb4",
        "autocommit": False,
        "connect_timeout": 30,
    }
    if not for_write:
        kwargs["conv"] = _text_decoders(client)
    try:
        conn = client.module.connect(**kwargs)
        with conn.cursor() as cur:
            for statement in _SESSION_SETUP + (_STRICT_WRITES if for_write else ()):
                cur.execute(statement)
        return conn
    except client.error as exc:
        raise RunFailed(
            f"step {ctx.step_id}: cannot connect to MySQL: {_message(exc)}",
            code="run.connection-failed",
            fix="check host, port, user, password and database of the connection",
        ) from None


def _message(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return f"({args[0]}) {args[1]}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _connection_lost(exc: BaseException) -> bool:
    args = getattr(exc, "args", ())
    return bool(args) and args[0] in (2006, 2013, 2055, 1927)  # server gone / lost / killed


def database_error(ctx: StepContext, action: str, exc: BaseException) -> RunFailed:
    code = "run.connection-lost" if _connection_lost(exc) else "run.database-error"
    return RunFailed(f"step {ctx.step_id}: {action}: {_message(exc)}", code=code)


# --- extract -------------------------------------------------------------------------------------


def select_sql(options: ReadOptions, select_list: str | None = None) -> str:
    """The SELECT of a read; `select_list` replaces the table's columns (the COPY line of copy_text)."""
    if options.query:
        sql = options.query.strip().rstrip(";")
        return f"SELECT * FROM ({sql}) AS q LIMIT {options.limit}" if options.limit is not None else sql
    columns = select_list or _column_list(options)
    sql = f"SELECT {columns} FROM {mysql_table(options.schema, options.table or '')}"
    if options.filter:
        if not isinstance(options.filter, str):
            raise ValidationFailed("filter must be a SQL condition (a string) for MySQL", code="config.invalid-type")
        sql += f" WHERE {options.filter}"
    if options.limit is not None:
        sql += f" LIMIT {options.limit}"
        if options.offset:
            sql += f" OFFSET {options.offset}"
    elif options.offset:
        sql += f" LIMIT 18446744073709551615 OFFSET {options.offset}"
    return sql


def _column_list(options: ReadOptions) -> str:
    return ", ".join(quote_mysql(c) for c in options.columns) if options.columns else "*"


_JSON_CHECK = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)


def _column_of(name: str, column_type: str, nullable: bool, json_columns: set[str]) -> Column:
    source = "json" if name in json_columns else column_type
    return Column(name=name, type=mysql_logical_type(source), nullable=nullable, source_type=source)


def _in_table(database: str | None, table: str, schema_column: str = "TABLE_SCHEMA") -> tuple[str, tuple[Any, ...]]:
    """`WHERE` condition (and its parameters) selecting one table's rows of an information_schema view."""
    if database:
        return f"{schema_column} = %s AND TABLE_NAME = %s", (database, table)
    return f"{schema_column} = DATABASE() AND TABLE_NAME = %s", (table,)


def describe_table(cur: Any, database: str | None, table: str, columns: Sequence[str]) -> Schema:
    """Exact source types from information_schema (MariaDB's JSON is LONGTEXT + a json_valid check)."""
    where, params = _in_table(database, table)
    cur.execute(
        f"SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE {where} ORDER BY ORDINAL_POSITION",
        params,
    )
    found = [(r[0], r[1], r[2] == "YES") for r in cur.fetchall()]
    if not found:
        raise RunFailed(f"source table {table} does not exist or has no visible columns", code="run.table-missing")
    json_columns: set[str] = set()
    try:
        where, params = _in_table(database, table, "CONSTRAINT_SCHEMA")
        cur.execute(f"SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE {where}", params)
        for (clause,) in cur.fetchall():
            json_columns.update(m.group(1).replace("``", "`") for m in _JSON_CHECK.finditer(str(clause)))
    except Exception:  # noqa: BLE001 - servers without CHECK_CONSTRAINTS (MySQL 5.7) have a real JSON type
        pass
    by_name = {name: _column_of(name, ct, nullable, json_columns) for name, ct, nullable in found}
    if columns:
        unknown = [c for c in columns if c not in by_name]
        if unknown:
            raise RunFailed(f"source table {table} has no column(s) {', '.join(unknown)}", code="run.column-missing")
        return Schema(tuple(by_name[c] for c in columns))
    return Schema(tuple(by_name[name] for name, _, _ in found))


def describe_query(cur: Any, sql: str, params: Mapping[str, Any] | None = None) -> Schema:
    """Types of a query's result: through a temporary table (exact COLUMN_TYPE), else the wire types."""
    try:
        cur.execute("DROP TEMPORARY TABLE IF EXISTS osiris_describe")
        cur.execute(f"CREATE TEMPORARY TABLE osiris_describe AS SELECT * FROM ({sql}) AS q LIMIT 0", params)
        cur.execute("SHOW COLUMNS FROM osiris_describe")
        rows = cur.fetchall()
        cur.execute("DROP TEMPORARY TABLE osiris_describe")
        return Schema(tuple(_column_of(r[0], r[1], r[2] == "YES", set()) for r in rows))
    except Exception:  # noqa: BLE001 - no CREATE TEMPORARY TABLES privilege: fall back to the wire types
        cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", params)
        cur.fetchall()
        return Schema(tuple(Column(name=d[0], type="string", nullable=True) for d in cur.description or ()))


def _apply_fixups(rows: Sequence[tuple[Any, ...]], fixups: list[tuple[int, Callable[[Any], Any]]]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values = list(row)
        for i, fix in fixups:
            if values[i] is not None:
                values[i] = fix(values[i])
        out.append(tuple(values))
    return out


def extract(ctx: StepContext, options: ReadOptions, partitions: int | str = 1, consistency: str = "snapshot") -> Iterator[Batch]:
    client = mysql_client()
    conn = connect(ctx, client)
    try:
        sql = select_sql(options)
        line_select: str | None = None
        with conn.cursor() as cur:
            if options.table:
                schema = describe_table(cur, options.schema, options.table, options.columns)
                if COPY_TEXT in ctx.consumers_accept:
                    line_select = copy_line_select(schema, _charsets(cur, options.schema, options.table))
            else:
                schema = describe_query(cur, sql, options.query_params)
            plan = _partition_plan(cur, options, partitions, consistency)
        ctx.emit("extract.schema", columns=describe_columns(schema.columns), driver=client.name,
                 batches="postgres copy text" if line_select else "values")
        converters = [_typed_converter(c.type) for c in schema.columns]
        shape = _Read(schema, converters, line_select)
        if plan is not None:
            ctx.emit("extract.plan", **plan.as_event())
        if plan is not None and len(plan.ranges) > 1:
            conn.rollback()
            yield from _extract_partitions(ctx, client, options, plan, shape)
            return
        sql = select_sql(options, line_select)
        yield from _stream(ctx, client, conn, sql, shape, options.batch_size, params=options.query_params)
        conn.rollback()
    except OsirisError:
        raise
    except client.error as exc:
        raise database_error(ctx, "extract", exc) from None
    finally:
        conn.close()


@dataclass(frozen=True)
class _Read:
    """What a read's rows are: the schema, the converters of its text, and whether each row comes
    as its COPY text line (`line_select`, see copy_text.py) instead of value by value."""

    schema: Schema
    converters: list[Any]
    line_select: str | None = None

    def batch(self, rows: Sequence[tuple[Any, ...]]) -> TextBatch:
        if self.line_select:
            return CopyTextBatch(self.schema, rows, self.converters)
        return TextBatch(self.schema, rows, self.converters)


def _charsets(cur: Any, database: str | None, table: str) -> dict[str, str | None]:
    where, params = _in_table(database, table)
    cur.execute(f"SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE {where}", params)
    return {r[0]: r[1] for r in cur.fetchall()}


def _stream(ctx: StepContext, client: MySQLClient, conn: Any, sql: str, shape: _Read,
            batch_size: int, stop: Any = None, params: Any = None) -> Iterator[Batch]:
    """The rows of `sql` on `conn` in batches (at least one batch, maybe empty); a half-read query
    is stopped on the server when the consumer (or `stop`) ends early. A partition's reader
    (`stop` given) leaves counting to the merge: rows read ahead into its queue are not handed on."""
    cur = conn.cursor(client.streaming_cursor)
    finished = False
    try:
        cur.execute(sql, params)
        yielded = False
        while True:
            rows = cur.fetchmany(batch_size)
            if not rows:
                break
            if ctx.cancelled:
                raise RunFailed(f"step {ctx.step_id}: cancelled", code="run.cancelled")
            if stop is not None and stop.is_set():
                return
            if stop is None:
                ctx.add_read(len(rows))
            yield shape.batch(rows)
            yielded = True
        if not yielded and stop is None:
            yield shape.batch([])
        finished = True
    finally:
        if finished:
            cur.close()
        else:
            _stop_streaming(ctx, client, conn, cur)


_INTEGER_TYPES = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint")


def _partition_plan(cur: Any, options: ReadOptions, requested: int | str, consistency: str) -> "PartitionPlan | None":
    """The plan of a partitioned read, or None for a plain one (not asked, or a query / limit / offset)."""
    from osiris_runtime.drivers.partitions import PartitionPlan, KeyRange, plan_integer_ranges

    if requested == 1:
        return None
    if not options.table or options.limit is not None or options.offset:
        return PartitionPlan(None, (KeyRange(None, None, 0),), 0, consistency, "not partitioned: query, limit or offset")
    where, params = _in_table(options.schema, options.table)
    cur.execute(f"SELECT TABLE_ROWS FROM information_schema.TABLES WHERE {where}", params)
    row = cur.fetchone()
    estimated = int(row[0] or 0) if row else 0
    key_where, key_params = _in_table(options.schema, options.table, "k.TABLE_SCHEMA")
    cur.execute("SELECT k.COLUMN_NAME, c.DATA_TYPE FROM information_schema.KEY_COLUMN_USAGE k "
                "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME "
                f"AND c.COLUMN_NAME = k.COLUMN_NAME WHERE k.CONSTRAINT_NAME = 'PRIMARY' AND "
                + key_where.replace(" TABLE_NAME", " k.TABLE_NAME"), key_params)
    keys = cur.fetchall()
    if len(keys) != 1 or str(keys[0][1]).lower() not in _INTEGER_TYPES:
        return PartitionPlan(None, (KeyRange(None, None, estimated),), estimated, consistency,
                             "not partitioned: the table has no single-column integer primary key")
    key = str(keys[0][0])
    table = mysql_table(options.schema, options.table)
    bounds_sql = f"SELECT MIN({quote_mysql(key)}), MAX({quote_mysql(key)}) FROM {table}"
    if options.filter:
        bounds_sql += f" WHERE {options.filter}"
    cur.execute(bounds_sql)
    low, high = cur.fetchone()
    return plan_integer_ranges(key, None if low is None else int(low), None if high is None else int(high),
                               estimated, requested, consistency)


def _extract_partitions(ctx: StepContext, client: MySQLClient, options: ReadOptions, plan: "PartitionPlan",
                        shape: _Read) -> Iterator[Batch]:
    """One connection per range, each a consistent snapshot; with `snapshot` consistency all of
    them opened while another session holds a read lock on the table, so they see one state."""
    from osiris_runtime.drivers.partitions import merged, range_condition

    table = mysql_table(options.schema, options.table or "")
    readers_conns: list[Any] = []
    lock = connect(ctx, client) if plan.consistency == "snapshot" else None
    try:
        if lock is not None:
            with lock.cursor() as cur:
                cur.execute(f"LOCK TABLES {table} READ")
        for _ in plan.ranges:
            conn = connect(ctx, client)
            readers_conns.append(conn)
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
    except BaseException:
        for conn in readers_conns:
            conn.close()
        raise
    finally:
        if lock is not None:
            try:
                with lock.cursor() as cur:
                    cur.execute("UNLOCK TABLES")
            finally:
                lock.close()

    def reader(index: int, conn: Any, part: Any) -> Any:
        def read(stop: Any) -> Iterator[Batch]:
            condition = range_condition(quote_mysql(plan.key or ""), part)
            where = " AND ".join(f"({c})" for c in (options.filter, condition) if c)
            columns = shape.line_select or _column_list(options)
            sql = f"SELECT {columns} FROM {table}" + (f" WHERE {where}" if where else "")
            try:
                for batch in _stream(ctx, client, conn, sql, shape, options.batch_size, stop):
                    batch.partition = index  # a writer may load each partition on its own connection
                    yield batch
                conn.rollback()
            except client.error as exc:
                raise database_error(ctx, "extract", exc) from None
        return read

    try:
        yielded = False
        for batch in merged([reader(i, c, p) for i, (c, p) in enumerate(zip(readers_conns, plan.ranges))]):
            yielded = True
            ctx.add_read(len(batch))
            yield batch
        if not yielded:
            yield shape.batch([])
    finally:
        for conn in readers_conns:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing after an error
                pass


def _stop_streaming(ctx: StepContext, client: MySQLClient, conn: Any, cur: Any) -> None:
    """Stop a half-read streaming query: without this, closing an unbuffered cursor would read and
    drop every remaining row of the table. `KILL QUERY` from a second connection ends it now."""
    try:
        killer = connect(ctx, client)
        try:
            with killer.cursor() as k:
                k.execute(f"KILL QUERY {int(conn.thread_id())}")
        finally:
            killer.close()
    except Exception:  # noqa: BLE001 - best effort: closing the connection ends the query too
        pass
    try:
        cur.close()
    except Exception:  # noqa: BLE001 - the interrupted query ends with an error packet
        pass


def _in_connection_database(ctx: StepContext, database: str | None) -> None:
    """`table: otherdb.t` may only name the connection's own database: `database` is a forbidden
    override, and a qualified name must not get around it."""
    own = ctx.connection().get("database")
    if database and own and database != own:
        raise ValidationFailed(
            f"step {ctx.step_id}: table names the database `{database}`, but the connection's database is `{own}`",
            code="connection.forbidden-override",
            fix="name the table without a database; pick the database through the connection alias",
        )


class MySQLExtractor:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        from osiris_runtime.drivers.partitions import consistency_setting, partitions_setting

        config = self.ctx.config
        options = ReadOptions.from_config(config, dialect="mysql")
        _in_connection_database(self.ctx, options.schema)
        return extract(self.ctx, options, partitions_setting(config), consistency_setting(config))


# --- write ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TargetColumn:
    name: str
    data_type: str  # information_schema DATA_TYPE: int, datetime, json/longtext, bit, ...


def _target_columns(cur: Any, database: str | None, table: str) -> list[_TargetColumn] | None:
    where, params = _in_table(database, table)
    cur.execute(f"SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE {where} ORDER BY ORDINAL_POSITION", params)
    rows = cur.fetchall()
    return [_TargetColumn(r[0], str(r[1]).lower()) for r in rows] or None


def create_table_sql(table_sql: str, schema: Schema, primary_key: Sequence[str]) -> str:
    return create_table_ddl(
        table_sql, schema.columns, primary_key, quote=quote_mysql, type_for=mysql_type_for, suffix=" DEFAULT CHARSET=utf8mb4"
    )


def _naive_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(_UTC).replace(tzinfo=None)
    return value


def _json_text(value: Any) -> Any:
    return value if isinstance(value, (str, bytes)) else json.dumps(value)


def _bit_value(value: Any) -> Any:
    return int(value, 2) if isinstance(value, str) else value


def _write_fixups(columns: Sequence[_TargetColumn], schema: Schema) -> list[tuple[int, Callable[[Any], Any]]]:
    fixups: list[tuple[int, Callable[[Any], Any]]] = []
    for i, (target, source) in enumerate(zip(columns, schema.columns)):
        if target.data_type in ("datetime", "timestamp") and source.type in ("timestamp", "datetime", "string"):
            fixups.append((i, _naive_utc))
        elif target.data_type == "json" or source.type == "json":
            fixups.append((i, _json_text))
        elif target.data_type == "bit":
            fixups.append((i, _bit_value))
        elif source.source_type == "uuid":
            fixups.append((i, str))
    return fixups


def insert_sql(table_sql: str, names: Sequence[str], mode: str, key: Sequence[str], *, select_from: str | None = None) -> str:
    """Parameterised row insert, or with `select_from` an `INSERT ... SELECT` of those columns."""
    cols = ", ".join(quote_mysql(n) for n in names)
    source = f"SELECT {cols} FROM {select_from}" if select_from else f"VALUES ({', '.join(['%s'] * len(names))})"
    sql = f"INSERT INTO {table_sql} ({cols}) {source}"
    if mode == "upsert":
        rest = [n for n in names if n not in key] or list(key)
        sql += " ON DUPLICATE KEY UPDATE " + ", ".join(f"{quote_mysql(n)} = VALUES({quote_mysql(n)})" for n in rest)
    return sql


def _stage_name(table: str, conn: Any) -> str:
    """One staging table per target and connection: two concurrent replaces of one table never
    share it (thread ids are unique among live connections)."""
    return f"osiris_stage_{hashlib.sha1(table.encode()).hexdigest()[:12]}_{int(conn.thread_id())}"


class MySQLWriter:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        options = WriteOptions.from_config(self.ctx.config, dialect="mysql")
        _in_connection_database(self.ctx, options.schema)
        write(self.ctx, options, (b for stream in inputs.values() for b in stream))


def write(ctx: StepContext, options: WriteOptions, batches: Iterator[Batch]) -> None:
    client = mysql_client()
    conn = connect(ctx, client, for_write=True)
    target_sql = mysql_table(options.schema, options.table)
    created = False
    staged: str | None = None
    total = 0
    committing = False  # from here on a lost connection leaves the target's state unknown
    try:
        first = next(iter(batches), None)
        rest = batches
        with conn.cursor() as cur:
            columns = _target_columns(cur, options.schema, options.table)
            check_target(ctx.step_id, options, None if columns is None else [c.name for c in columns],
                         first.schema.names if first is not None else [],
                         will_create=options.create_if_missing and first is not None)
            if columns is None and first is not None:
                if options.write_mode == "replace":
                    # Created as the staging table and renamed into place at the end.
                    staged = _stage_name(options.table, conn)
                    cur.execute(f"DROP TABLE IF EXISTS {mysql_table(options.schema, staged)}")
                    cur.execute(create_table_sql(mysql_table(options.schema, staged), first.schema, options.primary_key))
                else:
                    cur.execute(create_table_sql(target_sql, first.schema, options.primary_key))
                    created = True
                ctx.emit("write.created", table=options.table)
                columns = _target_columns(cur, options.schema, staged or options.table) or []
        if first is None:
            if options.write_mode == "replace":
                with conn.cursor() as cur:
                    cur.execute(f"DELETE FROM {target_sql}")
                committing = True
                conn.commit()
            return
        by_name = {c.name: c for c in columns or []}
        ordered = [by_name[n] for n in first.schema.names]
        into = target_sql
        if options.write_mode == "replace":
            if staged is None:
                staged = _stage_name(options.table, conn)
                with conn.cursor() as cur:
                    cur.execute(f"DROP TABLE IF EXISTS {mysql_table(options.schema, staged)}")
                    cur.execute(f"CREATE TABLE {mysql_table(options.schema, staged)} LIKE {target_sql}")
            into = mysql_table(options.schema, staged)
        sql = insert_sql(into, first.schema.names, options.write_mode, options.primary_key)
        fixups = _write_fixups(ordered, first.schema)
        with conn.cursor() as cur:
            for batch in _with_first(first, rest):
                if ctx.cancelled:
                    raise RunFailed(f"step {ctx.step_id}: cancelled; the target is unchanged", code="run.cancelled")
                rows = _apply_fixups(batch.rows, fixups) if fixups else batch.rows
                for start in range(0, len(rows), options.batch_size):
                    cur.executemany(sql, rows[start : start + options.batch_size])
                total += len(batch)
        committing = options.write_mode != "replace"  # a replace commits only its staging table here
        conn.commit()
        if options.write_mode == "replace" and staged:
            committing = True
            _put_in_place(conn, options, staged, first.schema.names)
            staged = None
        ctx.add_written(total)
        ctx.emit("write.committed", table=options.table, mode=options.write_mode, rows=total)
    except _ReplacedButNotCleaned as done:  # the target holds the new rows: say so, and what is left over
        ctx.add_written(total)
        ctx.emit("write.committed", table=options.table, mode=options.write_mode, rows=total)
        ctx.emit("write.leftover", table=done.leftover, reason=_message(done.cause))
    except client.error as exc:
        if committing and _connection_lost(exc):
            _undo(ctx, conn, client, options, False, staged)  # a target this run created may hold committed rows: kept
            raise commit_outcome_unknown(ctx, f"write to {options.table} ({options.write_mode})", options.write_mode,
                                         _message(exc)) from None
        _undo(ctx, conn, client, options, created, staged)
        raise database_error(ctx, f"write to {options.table} ({options.write_mode}); the target is unchanged", exc) from None
    except BaseException:  # our own errors, an upstream step's failure, cancellation
        _undo(ctx, conn, client, options, created, staged)
        raise
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            pass


def _with_first(first: Batch, rest: Iterator[Batch]) -> Iterator[Batch]:
    yield first
    yield from rest


class _ReplacedButNotCleaned(Exception):
    """The swap committed (the target holds the new rows) but the old table could not be dropped."""

    def __init__(self, leftover: str, cause: BaseException) -> None:
        super().__init__(leftover)
        self.leftover, self.cause = leftover, cause


@dataclass(frozen=True)
class _Dependants:
    triggers: int
    own_foreign_keys: int
    referenced_by: int

    @property
    def swap_is_safe(self) -> bool:
        """A RENAME swap keeps grants (they are by name) but drops triggers and the table's own
        foreign keys, and a referencing key would follow the old table: only safe with none."""
        return not (self.triggers or self.own_foreign_keys or self.referenced_by)


def _dependants(cur: Any, database: str | None, table: str) -> _Dependants:
    schema = "%s" if database else "DATABASE()"
    params = (database, table) if database else (table,)
    cur.execute(f"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {schema} "
                "AND EVENT_OBJECT_TABLE = %s", params)
    triggers = cur.fetchone()[0]
    cur.execute(f"SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {schema} "
                "AND TABLE_NAME = %s", params)
    own = cur.fetchone()[0]
    cur.execute(f"SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = {schema} "
                "AND REFERENCED_TABLE_NAME = %s AND NOT (CONSTRAINT_SCHEMA = UNIQUE_CONSTRAINT_SCHEMA AND TABLE_NAME = %s)",
                params + (table,))
    return _Dependants(triggers, own, cur.fetchone()[0])


def _primary_key(cur: Any, database: str | None, table: str) -> list[str]:
    where, params = _in_table(database, table)
    cur.execute(f"SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE {where} "
                "AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION", params)
    return [r[0] for r in cur.fetchall()]


def _put_in_place(conn: Any, options: WriteOptions, staged: str, names: Sequence[str]) -> None:
    """Make the loaded staging table's rows the target's, keeping the target's definition."""
    target = mysql_table(options.schema, options.table)
    stage = mysql_table(options.schema, staged)
    with conn.cursor() as cur:
        where, params = _in_table(options.schema, options.table)
        cur.execute(f"SELECT COUNT(*) FROM information_schema.TABLES WHERE {where}", params)
        if cur.fetchone()[0] == 0:  # created by this run: nothing to keep
            cur.execute(f"RENAME TABLE {stage} TO {target}")
            return
        dependants = _dependants(cur, options.schema, options.table)
        if dependants.swap_is_safe:
            _swap(cur, target, stage, mysql_table(options.schema, staged + "_old"))
            return
        key = _primary_key(cur, options.schema, options.table)
        if dependants.referenced_by and key and set(key) <= set(names):
            # Delete only the rows whose key is gone; update the others in place, so the children
            # of kept keys stay valid (RESTRICT / CASCADE act only on keys really removed).
            match = " AND ".join(f"s.{quote_mysql(k)} <=> t.{quote_mysql(k)}" for k in key)
            cur.execute(f"DELETE t FROM {target} AS t WHERE NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {match})")
            cur.execute(insert_sql(target, names, "upsert", key, select_from=stage))
        else:
            cur.execute(f"DELETE FROM {target}")
            cur.execute(insert_sql(target, names, "append", (), select_from=stage))
        conn.commit()
        try:
            cur.execute(f"DROP TABLE {stage}")
        except Exception as exc:  # noqa: BLE001 - the rows are in place; only the stage is left over
            raise _ReplacedButNotCleaned(staged, exc) from None


def _swap(cur: Any, target: str, stage: str, old: str) -> None:
    """One atomic RENAME puts the stage in place of the target; dropping the old table comes after
    the point of no return, so its failure leaves a named leftover, never an "unchanged" claim."""
    cur.execute(f"DROP TABLE IF EXISTS {old}")
    cur.execute(f"RENAME TABLE {target} TO {old}, {stage} TO {target}")
    try:
        cur.execute(f"DROP TABLE {old}")
    except Exception as exc:  # noqa: BLE001
        raise _ReplacedButNotCleaned(old.rsplit(".", 1)[-1].strip("`"), exc) from None


def _undo(ctx: StepContext, conn: Any, client: MySQLClient, options: WriteOptions, created: bool, staged: str | None) -> None:
    """Roll back and drop what this run created, so the database is as it was.

    When the connection went before COMMIT the server has already rolled back; tables this run
    created are then dropped over a fresh connection (a leftover stage is also dropped by the next
    run). After a COMMIT whose answer was lost the caller passes `created=False`: that table may
    hold the committed rows.
    """
    # `<stage>_old` is the target's old table when a swap's RENAME went through unanswered (`_swap`).
    drops = [mysql_table(options.schema, staged), mysql_table(options.schema, staged + "_old")] if staged else []
    if created:
        drops.append(mysql_table(options.schema, options.table))
    for attempt in range(2):
        try:
            if attempt:
                conn = connect(ctx, client, for_write=True)
            conn.rollback()
            with conn.cursor() as cur:
                for table in drops:
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
            return
        except Exception:  # noqa: BLE001 - retried once over a new connection, then given up
            continue
