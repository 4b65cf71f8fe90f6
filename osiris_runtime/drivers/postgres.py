"""Direct Postgres path (also Supabase over a direct or pooler connection): extract and write.

Extract: `COPY table (cols) TO STDOUT (FORMAT BINARY)` for a whole table, `COPY (SELECT ...) TO`
otherwise; the server streams one message per row and the driver groups rows into `CopyBatch`es
of `batch_size` rows. A `CopyBatch` carries the raw binary tuples plus the schema and type oids;
its `rows` are decoded only when a consumer asks for them, so a Postgres writer whose target
columns have the same types copies the bytes straight into `COPY ... FROM STDIN (FORMAT BINARY)`
without touching a value in Python (the Postgres -> Postgres fast path). Other batches go in by
text `COPY`; a `TextBatch` (from MySQL) goes in as the text it already is, a `CopyTextBatch` as its
lines, one block per batch.

Write: everything happens in one transaction, so a failed run (bad row, lost connection,
cancellation, a failing upstream step) leaves the target exactly as it was (a connection lost
during COMMIT itself leaves the outcome unknown, and is reported so: `run.commit-unknown`):
- append: `COPY` straight into the target;
- upsert: `COPY` into a temporary staging table, then one `INSERT ... SELECT` that anti-joins the
  target to drop unchanged rows, `ON CONFLICT (key) DO UPDATE ... WHERE ROW(cols) IS DISTINCT FROM
  ROW(EXCLUDED cols)`: nothing is written for rows that did not change;
- replace of a plain table (nothing a swap could hurt, see postgres_swap): `COPY` into a new table
  made LIKE the target, which takes the target's name at the end (each row written once);
- replace of any other table: `COPY` into staging while readers still see the old rows, then
  `TRUNCATE` + one `INSERT ... SELECT` at the end. The contents are swapped rather than the table
  renamed so that grants, RLS policies, triggers, views and foreign keys on the target (common on
  Supabase) stay. A table other tables reference keeps the rows of the keys that come back
  (updated in place) and loses only the others, so the children of kept keys stay valid.
`create_if_missing` creates the table in the same transaction, with types from docs/types.md.
"""
from __future__ import annotations

import itertools
import json
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.errors
from psycopg import pq
from psycopg.adapt import Transformer
from psycopg.conninfo import make_conninfo

from osiris_runtime.drivers.base import StepContext, commit_outcome_unknown
from osiris_runtime.drivers.copy_text import COPY_TEXT, CopyTextBatch
from osiris_runtime.drivers.postgres_stages import PartitionStages
from osiris_runtime.drivers.postgres_swap import Swap, begin_swap, commit_swap, drop_unswapped
from osiris_runtime.drivers.sql_identifiers import pg_table, quote_pg
from osiris_runtime.drivers.sql_types import (
    create_table_ddl,
    describe_columns,
    pg_logical_type,
    pg_type_for,
)
from osiris_runtime.drivers.step_options import ReadOptions, WriteOptions, check_target
from osiris_runtime.drivers.text_batch import TextBatch
from osiris_runtime.errors import ConfigError, OsirisError, RunFailed, ValidationFailed
from osiris_runtime.runner.batches import Batch, Column, Schema

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
COPY_HEADER = COPY_SIGNATURE + struct.pack("!ii", 0, 0)
COPY_TRAILER = b"\xff\xff"
_JSON_OIDS = {114, 3802}
_BIT_OIDS = {1560, 1562}


# --- connections ---------------------------------------------------------------------------------


def has_direct_connection(connection: Mapping[str, Any]) -> bool:
    return bool(connection.get("dsn") or connection.get("host"))


def conninfo_of(connection: Mapping[str, Any]) -> str:
    """libpq conninfo from a resolved connection: `dsn`, or host/port/database/user/password/sslmode."""
    keywords = {
        "host": connection.get("host"),
        "port": connection.get("port"),
        "dbname": connection.get("database") or connection.get("dbname"),
        "user": connection.get("user") or connection.get("username"),
        "sslmode": connection.get("sslmode"),
    }
    if connection.get("dsn"):
        # Fields beside the DSN (a step's allowed host/port/database override) win over the DSN's own,
        # as libpq keywords after a conninfo do: never silently dropped.
        return make_conninfo(str(connection["dsn"]), **{k: str(v) for k, v in keywords.items() if v not in (None, "")})
    if not connection.get("host"):
        raise ConfigError(
            "no direct Postgres connection: set `dsn` or `host` in the connection",
            code="connection.missing-field",
        )
    params = {
        "host": connection.get("host"),
        "port": connection.get("port"),
        "dbname": connection.get("database") or connection.get("dbname"),
        "user": connection.get("user") or connection.get("username"),
        "password": connection.get("password"),
        "sslmode": connection.get("sslmode"),
    }
    return make_conninfo(**{k: str(v) for k, v in params.items() if v not in (None, "")})


def connect(ctx: StepContext, partition: int | None = None) -> psycopg.Connection:
    """A fresh connection; secrets are read from `ctx.connection()` each time (rotation-safe).

    `application_name` names the step (and the partition a stage loader loads) so an operator (or
    a test) can find the writer's backend; `prepare_threshold=None` keeps the connection usable
    through Supabase's transaction pooler.
    """
    name = f"osiris:{ctx.step_id}" + (f"/p{partition}" if partition is not None else "")
    try:
        return psycopg.connect(
            conninfo_of(ctx.connection()),
            application_name=name[:63],
            prepare_threshold=None,
            connect_timeout=30,
        )
    except psycopg.Error as exc:
        raise RunFailed(
            f"step {ctx.step_id}: cannot connect to Postgres: {_first_line(exc)}",
            code="run.connection-failed",
            fix="check host, port, user, password and sslmode of the connection",
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_FIX_FOR_SQLSTATE = {
    "21000": "the incoming rows repeat a primary key; deduplicate them upstream (e.g. in a duckdb step)",
    "42P10": "`primary_key` must be the target's primary key or a unique constraint",
    "23505": "a key already exists: use write_mode upsert, or replace",
}


def database_error(ctx: StepContext, action: str, exc: psycopg.Error) -> RunFailed:
    """A psycopg error as a `RunFailed`: SQLSTATE and the server's first line, no traceback."""
    state = getattr(exc, "sqlstate", None)
    lost = isinstance(exc, psycopg.OperationalError) and state is None
    what = "lost the database connection" if lost else _first_line(exc)
    code = "run.connection-lost" if lost else "run.database-error"
    return RunFailed(
        f"step {ctx.step_id}: {action}: {what}" + (f" (SQLSTATE {state})" if state else ""),
        code=code,
        fix=_FIX_FOR_SQLSTATE.get(state or ""),
    )


# --- the raw COPY batch --------------------------------------------------------------------------


class CopyBatch(Batch):
    """Rows as binary COPY tuples (one `bytes` per row, no header/trailer) plus the schema and the
    type oids of the columns.

    `len()` is the row count; `rows` decodes the tuples to Python values on first access, so any
    consumer can use it as a plain `Batch`, while the Postgres writer passes `data` through.
    """

    def __init__(self, schema: Schema, tuples: list[bytes], type_oids: tuple[int, ...]) -> None:
        self.schema = schema
        self.tuples = tuples
        self.type_oids = type_oids
        self._rows: list[tuple[Any, ...]] | None = None

    @property
    def data(self) -> bytes:
        return b"".join(self.tuples)

    @property  # type: ignore[override]
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = decode_copy_tuples(self.tuples, self.type_oids)
        return self._rows

    def __len__(self) -> int:
        return len(self.tuples)

    def __repr__(self) -> str:
        return f"CopyBatch({len(self.schema)} columns, {len(self.tuples)} rows)"


def _split_binary_tuple(data: bytes, tx: Transformer) -> tuple[Any, ...]:
    """One binary COPY tuple: int16 field count, then per field int32 length (-1 = NULL) and bytes."""
    view = memoryview(data)
    (nfields,) = struct.unpack_from("!h", view, 0)
    pos, record = 2, []
    for _ in range(nfields):
        (size,) = struct.unpack_from("!i", view, pos)
        pos += 4
        if size < 0:
            record.append(None)
        else:
            record.append(view[pos : pos + size])
            pos += size
    return tx.load_sequence(record)


def _row_parser() -> Callable[[bytes, Transformer], tuple[Any, ...]]:
    # psycopg's own C parser is about twice as fast; it lives in a private module, so fall back.
    try:
        from psycopg._copy_base import parse_row_binary

        return parse_row_binary  # type: ignore[no-any-return]
    except ImportError:
        return _split_binary_tuple


def decode_copy_tuples(tuples: Sequence[bytes], type_oids: Sequence[int]) -> list[tuple[Any, ...]]:
    tx = Transformer()
    tx.set_loader_types(list(type_oids), pq.Format.BINARY)
    parse = _row_parser()
    rows = [parse(t, tx) for t in tuples]
    for i, fix in _value_fixups_for_extract(type_oids):
        rows = [r if r[i] is None else r[:i] + (fix(r[i]),) + r[i + 1 :] for r in rows]
    return rows


def _bit_int(value: Any) -> Any:
    """Logical bit(n) values are ints (as from MySQL). Text form is '0101'; the binary form is an
    int32 bit count followed by the bits, left-aligned in whole bytes."""
    if isinstance(value, str):
        return int(value, 2)
    data = bytes(value)
    (nbits,) = struct.unpack_from("!i", data)
    bits = data[4:]
    return int.from_bytes(bits, "big") >> (8 * len(bits) - nbits) if bits else 0


def _value_fixups_for_extract(type_oids: Sequence[int]) -> list[tuple[int, Callable[[Any], Any]]]:
    return [(i, _bit_int) for i, oid in enumerate(type_oids) if oid in _BIT_OIDS]


# --- extract -------------------------------------------------------------------------------------


_FILTER_OPS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE", "ilike": "ILIKE"}


def _filter_term(column: str, expression: str) -> tuple[str, list[Any]]:
    """One PostgREST filter (`eq.5`, `not.in.(a,b)`, `is.null`, `like.a*`) as SQL with parameters."""
    negate = expression.startswith("not.")
    if negate:
        expression = expression[4:]
    op, _, value = expression.partition(".")
    col = quote_pg(column)
    if op in _FILTER_OPS:
        if op in ("like", "ilike"):
            value = value.replace("*", "%")
        term, params = f"{col} {_FILTER_OPS[op]} %s", [value]
    elif op == "is" and value.lower() in ("null", "true", "false", "unknown"):
        term, params = f"{col} IS {value.upper()}", []
    elif op == "in" and value.startswith("(") and value.endswith(")"):
        items = [v.strip().strip('"') for v in value[1:-1].split(",") if v.strip()]
        term, params = f"{col}::text = ANY(%s)", [items]
    else:
        raise ValidationFailed(
            f"filter on {column}: unsupported operator in {expression!r}",
            code="config.invalid-filter",
            fix="use eq, neq, gt, gte, lt, lte, like, ilike, is or in (optionally prefixed by not.)",
        )
    return (f"NOT ({term})" if negate else term), params


def where_clause(filter_: str | Mapping[str, str] | None) -> tuple[str, list[Any]]:
    if not filter_:
        return "", []
    if isinstance(filter_, str):
        return f" WHERE {filter_}", []
    terms, params = [], []
    for column, expression in filter_.items():
        term, values = _filter_term(column, str(expression))
        terms.append(term)
        params.extend(values)
    return " WHERE " + " AND ".join(terms), params


def order_clause(order: str | None) -> str:
    """PostgREST `order`: `col`, `col.desc`, `col.asc.nullsfirst`, comma-separated."""
    if not order:
        return ""
    parts = []
    for item in order.split(","):
        name, *mods = item.strip().split(".")
        words = [quote_pg(name)]
        for mod in mods:
            if mod not in ("asc", "desc", "nullsfirst", "nullslast"):
                raise ValidationFailed(f"order {order!r}: unknown modifier {mod!r}", code="config.invalid-order")
            words.append({"nullsfirst": "NULLS FIRST", "nullslast": "NULLS LAST"}.get(mod, mod.upper()))
        parts.append(" ".join(words))
    return " ORDER BY " + ", ".join(parts)


def select_sql(options: ReadOptions) -> tuple[str, Sequence[Any] | Mapping[str, Any]]:
    """The SELECT to copy out, with its parameters (filters are always bound, never spliced)."""
    paging = (f" LIMIT {options.limit}" if options.limit is not None else "") + (
        f" OFFSET {options.offset}" if options.offset else ""
    )
    if options.query:
        sql = options.query.strip().rstrip(";")
        return (f"SELECT * FROM ({sql}) AS q{paging}" if paging else sql), dict(options.query_params or {})
    columns = ", ".join(quote_pg(c) for c in options.columns) if options.columns else "*"
    where, params = where_clause(options.filter)
    sql = f"SELECT {columns} FROM {pg_table(options.schema, options.table or '')}{where}{order_clause(options.order)}{paging}"
    return sql, params


def copy_out_sql(conn: psycopg.Connection, options: ReadOptions, sql: str, schema: Schema) -> str:
    """`COPY table (cols) TO` for a whole plain table (a heap scan, no executor: measurably faster),
    `COPY (SELECT ...) TO` otherwise (views, partitioned tables, filters, order, paging, queries)."""
    whole_table = options.table and not (options.filter or options.order or options.limit is not None or options.offset)
    if whole_table:
        table_sql = pg_table(options.schema, options.table or "")
        row = conn.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (table_sql,)).fetchone()
        if row and row[0] == "r":
            return f"COPY {table_sql} ({', '.join(quote_pg(n) for n in schema.names)}) TO STDOUT (FORMAT BINARY)"
    return f"COPY ({sql}) TO STDOUT (FORMAT BINARY)"


_SHORT_TIME = re.compile(r"^(timestamp|time)(tz)?(\(\d\))?$")


def _source_spelling(display: str) -> str:
    """psycopg abbreviates `timestamp(6)`, `timetz`; spell times as the catalog does, so they are not
    mistaken for MySQL spellings (where `time` is a duration and `timestamp` an instant)."""
    m = _SHORT_TIME.match(display)
    if not m:
        return display
    return f"{m.group(1)}{m.group(3) or ''} with{'' if m.group(2) else 'out'} time zone"


def describe(conn: psycopg.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any], options: ReadOptions) -> tuple[Schema, tuple[int, ...]]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM ({sql}) AS d LIMIT 0", params or None)
        description = cur.description or []
        not_null: set[str] = set()
        if options.table:
            cur.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnotnull AND attnum > 0",
                (pg_table(options.schema, options.table),),
            )
            not_null = {r[0] for r in cur.fetchall()}
    columns = tuple(
        Column(
            name=d.name,
            type=pg_logical_type(d.type_code, d.type_display),
            nullable=d.name not in not_null,
            source_type=_source_spelling(d.type_display),
        )
        for d in description
    )
    return Schema(columns), tuple(d.type_code for d in description)


def extract(ctx: StepContext, options: ReadOptions) -> Iterator[Batch]:
    """Stream the selection as `CopyBatch`es of `batch_size` rows (always at least one, for the schema)."""
    conn = connect(ctx)
    try:
        conn.read_only = True
        sql, params = select_sql(options)
        schema, oids = describe(conn, sql, params, options)
        ctx.emit("extract.schema", columns=describe_columns(schema.columns))
        parts: list[bytes] = []
        sent = 0
        with conn.cursor() as cur:
            with cur.copy(copy_out_sql(conn, options, sql, schema), params or None) as copy:
                for block in copy:
                    # The server sends one message per row, then the trailer; the signature
                    # header comes first (alone, or in front of the first row).
                    chunk = bytes(block)
                    if not sent and not parts and chunk.startswith(COPY_SIGNATURE):
                        (ext_len,) = struct.unpack_from("!i", chunk, len(COPY_SIGNATURE) + 4)
                        chunk = chunk[len(COPY_HEADER) + ext_len :]
                        if not chunk:
                            continue
                    if chunk == COPY_TRAILER:
                        continue
                    parts.append(chunk)
                    if len(parts) >= options.batch_size:
                        if ctx.cancelled:
                            raise RunFailed(f"step {ctx.step_id}: cancelled", code="run.cancelled")
                        ctx.add_read(len(parts))
                        sent += len(parts)
                        yield CopyBatch(schema, parts, oids)
                        parts = []
            # A consumer that decodes rows relies on one tuple per message: check against the server.
            if cur.rowcount >= 0 and cur.rowcount != sent + len(parts):
                raise RunFailed(
                    f"step {ctx.step_id}: COPY sent {cur.rowcount} rows but {sent + len(parts)} were split out",
                    code="run.row-count-mismatch",
                )
        if parts or not sent:
            ctx.add_read(len(parts))
            yield CopyBatch(schema, parts, oids)
        conn.rollback()
    except psycopg.Error as exc:
        raise database_error(ctx, "extract", exc) from None
    finally:
        conn.close()


class PostgresExtractor:
    """Extractor for a direct Postgres connection (`dsn` or host/port/...)."""

    default_schema: str | None = None

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        options = ReadOptions.from_config(self.ctx.config, dialect="postgres", default_schema=self.default_schema)
        return extract(self.ctx, options)


# --- write ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetColumn:
    name: str
    type_oid: int
    type_sql: str  # format_type(), e.g. "numeric(12,2)"
    not_null: bool


def target_columns(conn: psycopg.Connection, table_sql: str) -> list[TargetColumn] | None:
    """Columns of an existing table, in order; None when it does not exist."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)::oid", (table_sql,))
        row = cur.fetchone()
        if not row or row[0] is None:
            return None
        cur.execute(
            "SELECT attname, atttypid::int, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
            "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (row[0],),
        )
        return [TargetColumn(*r) for r in cur.fetchall()]


def create_table_sql(table_sql: str, schema: Schema, primary_key: Sequence[str]) -> str:
    return create_table_ddl(table_sql, schema.columns, primary_key, quote=quote_pg, type_for=pg_type_for)


def upsert_sql(table_sql: str, stage: str, columns: Sequence[TargetColumn], key: Sequence[str]) -> str:
    """One statement: insert new keys, update changed rows, leave unchanged rows untouched.

    The anti-join drops unchanged rows before `ON CONFLICT` sees them: `DO UPDATE ... WHERE` alone
    would still lock (and so write) every conflicting row; `ON CONFLICT` stays for correctness
    against concurrent writers.
    """
    names = ", ".join(quote_pg(c.name) for c in columns)
    keys = ", ".join(quote_pg(k) for k in key)
    rest = [c for c in columns if c.name not in key]

    def comparable(prefix: str, c: TargetColumn) -> str:
        # json has no equality operator; compare it as jsonb.
        return f"{prefix}.{quote_pg(c.name)}" + ("::jsonb" if c.type_oid == 114 else "")

    join = " AND ".join(f"cur.{quote_pg(k)} = s.{quote_pg(k)}" for k in key)
    changed = f"cur.{quote_pg(key[0])} IS NULL"
    if rest:
        old = ", ".join(comparable("cur", c) for c in rest)
        new = ", ".join(comparable("s", c) for c in rest)
        changed += f" OR ROW({old}) IS DISTINCT FROM ROW({new})"
    selected = ", ".join(f"s.{quote_pg(c.name)}" for c in columns)
    sql = (
        f"INSERT INTO {table_sql} AS t ({names}) SELECT {selected} FROM {stage} AS s "
        f"LEFT JOIN {table_sql} AS cur ON {join} WHERE {changed} ON CONFLICT ({keys})"
    )
    if not rest:
        return sql + " DO NOTHING"
    sets = ", ".join(f"{quote_pg(c.name)} = EXCLUDED.{quote_pg(c.name)}" for c in rest)
    old = ", ".join(comparable("t", c) for c in rest)
    new = ", ".join(comparable("EXCLUDED", c) for c in rest)
    return f"{sql} DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"


def _bits(value: Any, width: int | None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        value = int.from_bytes(value, "big")
    text = format(int(value), "b")
    return text.zfill(width) if width else text


def _value_fixups_for_write(columns: Sequence[TargetColumn]) -> list[tuple[int, Callable[[Any], Any]]]:
    """Per-column conversions the text COPY needs; only json and bit columns have any."""
    fixups: list[tuple[int, Callable[[Any], Any]]] = []
    for i, c in enumerate(columns):
        if c.type_oid in _JSON_OIDS:
            fixups.append((i, lambda v: v if isinstance(v, str) else json.dumps(v)))
        elif c.type_oid in _BIT_OIDS:
            width = int(c.type_sql[4:-1]) if c.type_sql.startswith("bit(") else None
            fixups.append((i, lambda v, w=width: _bits(v, w)))
    return fixups


class _CopySink:
    """Writes batches into one open COPY, choosing the raw binary path when the types match."""

    def __init__(self, cursor: psycopg.Cursor, table_sql: str, columns: Sequence[TargetColumn], raw: bool) -> None:
        names = ", ".join(quote_pg(c.name) for c in columns)
        self.raw = raw
        fmt = " (FORMAT BINARY)" if raw else ""
        self._cm = cursor.copy(f"COPY {table_sql} ({names}) FROM STDIN{fmt}")
        self.copy = self._cm.__enter__()
        self.fixups = _value_fixups_for_write(columns)
        self.oids = tuple(c.type_oid for c in columns)
        if raw:
            self.copy.set_types(list(self.oids))
            self.copy.write(COPY_HEADER)

    def write(self, batch: Batch) -> None:
        if self.raw and isinstance(batch, CopyBatch):
            self.copy.write(batch.data)
            return
        if isinstance(batch, CopyTextBatch) and not self.fixups:
            self.copy.write(batch.copy_text)  # one block; the lines are what write_row would send
            return
        write_row, fixups = self.copy.write_row, self.fixups
        # A TextBatch's text goes in as is: COPY parses it exactly as it would our typed values' text.
        rows = batch.text_rows if isinstance(batch, TextBatch) else batch.rows
        if not fixups:
            for row in rows:
                write_row(row)
            return
        for row in rows:
            values = list(row)
            for i, fix in fixups:
                if values[i] is not None:
                    values[i] = fix(values[i])
            write_row(values)

    def close(self, error: BaseException | None) -> None:
        if self.raw and error is None:
            self.copy.write(COPY_TRAILER)
        if error is None:
            self._cm.__exit__(None, None, None)
            return
        try:  # abort the COPY; the caller's error is the one worth reporting
            self._cm.__exit__(type(error), error, error.__traceback__)
        except Exception:  # noqa: BLE001
            pass


def _peek(batches: Iterator[Batch]) -> tuple[Batch | None, Iterator[Batch]]:
    """The first batch (its schema decides the table and the COPY format) and the whole stream."""
    first = next(batches, None)
    return first, (itertools.chain([first], batches) if first is not None else iter(()))


def _chain_inputs(inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
    for stream in inputs.values():
        yield from stream


class PostgresWriter:
    """Writer for a direct Postgres connection: one transaction per target (see module docstring)."""

    default_schema: str | None = None
    accepts = frozenset({COPY_TEXT})  # MySQL's COPY text lines are written as they are

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        options = WriteOptions.from_config(self.ctx.config, dialect="postgres", default_schema=self.default_schema)
        write(self.ctx, options, _chain_inputs(inputs))


def write(ctx: StepContext, options: WriteOptions, batches: Iterator[Batch]) -> None:
    first, batches = _peek(batches)
    table_sql = pg_table(options.schema, options.table)
    conn = connect(ctx)
    # Run once the writer's connection is closed, last first: the partition loaders finish and their
    # stages go, then a swap's committed new table that was not swapped in (no-ops after success).
    cleanups: list[Callable[[], None]] = []
    committing = False
    try:
        # Every statement sees what other connections committed before it (the default level; said
        # here because a partitioned swap loads a new table committed after this transaction began).
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        with conn.transaction():
            conn.execute("SET LOCAL statement_timeout = 0")
            # The final set-based statement joins staging with the target: hash it in memory, no JIT.
            conn.execute("SET LOCAL work_mem = '64MB'")
            conn.execute("SET LOCAL jit = off")
            # Text without an offset (MySQL TIMESTAMP is read in UTC) means UTC, whatever the server's zone.
            conn.execute("SET LOCAL TimeZone = 'UTC'")
            written = _write_in_transaction(ctx, conn, options, table_sql, first, batches, cleanups)
            committing = True  # leaving the block sends COMMIT
        ctx.add_written(written)
        ctx.emit("write.committed", table=options.table, mode=options.write_mode, rows=written)
    except OsirisError:
        raise
    except psycopg.Error as exc:
        if committing and conn.broken:
            raise commit_outcome_unknown(ctx, f"write to {options.table} ({options.write_mode})", options.write_mode,
                                         _first_line(exc)) from None
        raise database_error(ctx, f"write to {options.table} ({options.write_mode}); the target is unchanged", exc) from None
    finally:
        conn.close()
        for cleanup in reversed(cleanups):
            cleanup()


def _write_in_transaction(
    ctx: StepContext,
    conn: psycopg.Connection,
    options: WriteOptions,
    table_sql: str,
    first: Batch | None,
    batches: Iterator[Batch],
    cleanups: list[Callable[[], None]],
) -> int:
    existing = target_columns(conn, table_sql)
    incoming = first.schema.names if first is not None else []
    check_target(ctx.step_id, options, None if existing is None else [c.name for c in existing], incoming,
                 will_create=options.create_if_missing and first is not None)
    created = existing is None and first is not None
    if created:
        conn.execute(create_table_sql(table_sql, first.schema, options.primary_key))
        ctx.emit("write.created", table=options.table)
        existing = target_columns(conn, table_sql) or []
    if first is None or existing is None:  # nothing arrived: append/upsert write nothing; replace empties
        if options.write_mode == "replace" and existing is not None:
            conn.execute(f"DELETE FROM {table_sql}")
        return 0
    by_name = {c.name: c for c in existing}
    columns = [by_name[n] for n in first.schema.names]
    raw = isinstance(first, CopyBatch) and first.type_oids == tuple(c.type_oid for c in columns)
    lines = isinstance(first, CopyTextBatch) and not _value_fixups_for_write(columns)
    ctx.emit("write.copy", table=options.table,
             format="binary pass-through" if raw else "text lines from the source" if lines else "text")
    names = ", ".join(quote_pg(c.name) for c in columns)
    partitioned = first.partition is not None  # partitions 1.. are loaded on connections of their own

    swap: Swap | None = None
    if options.write_mode == "replace":
        # A table made by this run is empty and new in this transaction: load it like append.
        if created:
            swap, reason = None, "created by this run"
        elif partitioned:  # the loaders can see only a committed new table
            swap, reason = _begin_shared_swap(ctx, table_sql, cleanups)
        else:
            swap, reason = begin_swap(conn, table_sql)
        ctx.emit("write.replace", table=options.table, strategy="swap" if swap else "rewrite",
                 **({} if swap else {"reason": reason}))
    direct = options.write_mode == "append" or (options.write_mode == "replace" and (created or swap is not None))
    # The key the final statement of a staged write matches on: upsert's, or a referenced table's
    # primary key on replace (kept in place rather than emptied, see below).
    key: list[str] = []
    if not direct:
        key = list(options.primary_key) if options.write_mode == "upsert" else _key_of_a_referenced_table(conn, table_sql)
        key = key if key and set(key) <= set(first.schema.names) else []
    key_sql = stage_index_columns(conn, table_sql, key) if key else None

    stages: PartitionStages | None = None
    if partitioned:
        stages = PartitionStages(ctx, connect, options.schema and quote_pg(options.schema), table_sql,
                                 [(c.name, c.type_sql) for c in columns],
                                 lambda c, stage, parts: _copy_all(ctx, c, stage, columns, raw, parts),
                                 key_sql=key_sql, into=swap.new_sql if swap is not None and swap.shared else None)
        cleanups.append(stages.drop)
        batches = (b for b in batches if not stages.take(b))

    if direct:
        into = swap.new_sql if swap is not None else table_sql
        written = _copy_all(ctx, conn, into, columns, raw, batches)
        for stage_sql, rows in _finished(stages):
            if swap is not None and swap.shared:  # loaded straight into the new table
                written += rows
                continue
            inserted = conn.execute(f"INSERT INTO {into} ({names}) SELECT {names} FROM {stage_sql}").rowcount
            _check_count(ctx, f"{options.write_mode} of a partition", inserted, rows)
            written += rows
        if swap is not None:
            commit_swap(ctx, conn, swap, rows=written)
        return written

    stage = quote_pg("osiris_stage")
    conn.execute(f"DROP TABLE IF EXISTS pg_temp.{stage}")
    conn.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {table_sql} WITH NO DATA")
    if key_sql:
        conn.execute(f"CREATE INDEX ON {stage} ({key_sql})")
    staged = _copy_all(ctx, conn, stage, columns, raw, batches)
    partition_stages = _finished(stages)
    if partition_stages:  # the final statement reads staging and every partition's stage as one
        staged += sum(rows for _, rows in partition_stages)
        stage = "(" + " UNION ALL ".join(f"SELECT {names} FROM {s}" for s in [stage, *(n for n, _ in partition_stages)]) + ")"
    if options.write_mode == "replace":
        if key:
            # Other tables point at this one: emptying it would orphan (RESTRICT) or delete (CASCADE)
            # their rows even for keys that come back. Remove only the keys that are gone, then
            # insert or update the rest in place.
            match = " AND ".join(f"s.{quote_pg(k)} IS NOT DISTINCT FROM t.{quote_pg(k)}" for k in key)
            conn.execute(f"DELETE FROM {table_sql} AS t WHERE NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {match})")
            conn.execute(upsert_sql(table_sql, stage, columns, key))
            return staged
        _empty(conn, table_sql)
        inserted = conn.execute(f"INSERT INTO {table_sql} ({names}) SELECT {names} FROM {stage} AS s").rowcount
        _check_count(ctx, "replace", inserted, staged)
        return staged
    with conn.cursor() as cur:
        cur.execute(upsert_sql(table_sql, stage, columns, options.primary_key))
        changed = cur.rowcount
    ctx.extra_metrics["rows_changed"] = changed
    ctx.extra_metrics["rows_unchanged"] = staged - changed
    return staged


def _begin_shared_swap(ctx: StepContext, table_sql: str, cleanups: list[Callable[[], None]]) -> tuple[Swap | None, str | None]:
    """`begin_swap` on a connection of its own, committed, so the partition loaders can COPY into the
    new table; its drop (unless swapped in) is registered before anything is loaded into it."""
    setup = connect(ctx, 0)
    try:
        with setup.transaction():
            swap, reason = begin_swap(setup, table_sql, shared=True)
        if swap is not None:
            cleanups.append(lambda: _drop_unswapped(ctx, swap))
    finally:
        setup.close()
    return swap, reason


def _drop_unswapped(ctx: StepContext, swap: Swap) -> None:
    try:
        conn = connect(ctx, 0)
        try:
            conn.autocommit = True
            drop_unswapped(conn, swap)
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - the target is as it was; only the private table is left
        ctx.emit("write.leftover", table=swap.new_sql, reason=_first_line(exc))


def _finished(stages: PartitionStages | None) -> list[tuple[str, int]]:
    """(stage table, rows) of every partition loaded on its own connection, once all are loaded."""
    return stages.finish() if stages is not None else []


def _key_of_a_referenced_table(conn: psycopg.Connection, table_sql: str) -> list[str]:
    """The primary key's columns when another table's foreign key references this one, else []."""
    row = conn.execute(
        "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary AND EXISTS ("
        "SELECT 1 FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = i.indrelid AND c.conrelid <> i.indrelid)",
        (table_sql,),
    ).fetchone()
    return list(row[0]) if row and row[0] else []


def stage_index_columns(conn: psycopg.Connection, table_sql: str, key: Sequence[str]) -> str:
    """The key's columns, quoted, in the order of the target's unique index on them.

    A stage indexed like the target lets the final statement merge-join two ordered index scans
    instead of hashing a million wide rows (half the time of that statement at 1M rows); the index
    is built before the COPY, while the backend would otherwise wait for the client.
    """
    rows = conn.execute(
        "SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s::regclass AND i.indisunique AND i.indexprs IS NULL AND i.indpred IS NULL "
        "GROUP BY i.indexrelid ORDER BY bool_or(i.indisprimary) DESC",
        (table_sql,),
    ).fetchall()
    ordered = next((list(r[0]) for r in rows if sorted(r[0]) == sorted(key)), list(key))
    return ", ".join(quote_pg(c) for c in ordered)


def _empty(conn: psycopg.Connection, table_sql: str) -> None:
    """TRUNCATE (fast); a table referenced by foreign keys cannot be truncated, so DELETE there
    (which still fails, and rolls everything back, if a referencing row would be orphaned)."""
    try:
        with conn.transaction():  # a savepoint: the failed TRUNCATE must not abort the whole write
            conn.execute(f"TRUNCATE {table_sql}")
    except psycopg.errors.FeatureNotSupported:
        conn.execute(f"DELETE FROM {table_sql}")


def _copy_all(
    ctx: StepContext,
    conn: psycopg.Connection,
    table_sql: str,
    columns: Sequence[TargetColumn],
    raw: bool,
    batches: Iterable[Batch],
) -> int:
    total = 0
    with conn.cursor() as cur:
        sink = _CopySink(cur, table_sql, columns, raw)
        error: BaseException | None = None
        try:
            for batch in batches:
                if ctx.cancelled:
                    raise RunFailed(f"step {ctx.step_id}: cancelled; the target is unchanged", code="run.cancelled")
                sink.write(batch)
                total += len(batch)
        except BaseException as exc:
            error = exc
            raise
        finally:
            sink.close(error)
        _check_count(ctx, "COPY", cur.rowcount, total)
    return total


def _check_count(ctx: StepContext, what: str, server_rows: int, sent_rows: int) -> None:
    """The server's own row count must equal what was sent; otherwise roll back rather than guess."""
    if server_rows >= 0 and server_rows != sent_rows:
        raise RunFailed(
            f"step {ctx.step_id}: {what} stored {server_rows} rows but {sent_rows} were sent; the target is unchanged",
            code="run.row-count-mismatch",
        )
