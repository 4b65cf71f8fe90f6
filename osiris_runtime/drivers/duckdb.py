"""`duckdb.processor` (DuckDBProcessor): SQL over the outputs of the steps a step needs.

Each input stream becomes a table named after its step id (quote ids that are not plain SQL
names: `SELECT * FROM "pull-orders"`), plus a view `df_<id>` (non-alphanumerics -> `_`) for
pipelines written for the original Osiris, and `input_df` when the step has exactly one input
(the name the original's DuckDB examples use). Inputs are spooled to newline-delimited JSON and
loaded in one statement each (DuckDB's Python `executemany` is far slower), into a database file
in a temporary folder so DuckDB can spill past `memory_limit`. The result is fetched in batches.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Mapping

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.query_params import bound_query_params
from osiris_runtime.errors import ConfigError, RunFailed, ValidationFailed
from osiris_runtime.oml.duckdb_names import SINGLE_INPUT_NAME, is_plain_sql_name, legacy_view_name, quote_identifier
from osiris_runtime.runner.batches import Batch, Column, Schema

DEFAULT_BATCH_SIZE = 10_000

_LOGICAL_TO_DUCKDB = {
    "bool": "BOOLEAN", "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
    "uint8": "UTINYINT", "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT",
    "float32": "FLOAT", "float64": "DOUBLE", "string": "VARCHAR", "bytes": "BLOB", "date": "DATE",
    "time": "TIME", "datetime": "TIMESTAMP", "timestamp": "TIMESTAMPTZ", "json": "JSON",
}
_DUCKDB_TO_LOGICAL = {
    "BOOLEAN": "bool", "TINYINT": "int8", "SMALLINT": "int16", "INTEGER": "int32", "BIGINT": "int64",
    "UTINYINT": "uint8", "USMALLINT": "uint16", "UINTEGER": "uint32", "UBIGINT": "uint64",
    "HUGEINT": "decimal(38,0)", "FLOAT": "float32", "DOUBLE": "float64", "VARCHAR": "string", "BLOB": "bytes",
    "DATE": "date", "TIME": "time", "TIMESTAMP": "datetime", "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP_NS": "datetime", "TIMESTAMP_MS": "datetime", "TIMESTAMP_S": "datetime", "JSON": "json", "UUID": "string",
}
_MEMORY_LIMIT = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)$")
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$", re.IGNORECASE)


def duckdb_type(logical: str) -> str:
    """DuckDB column type for a logical batch type (unknown types travel as text)."""
    match = _DECIMAL.match(logical)
    if match:
        precision, scale = int(match[1]), int(match[2])
        return f"DECIMAL({precision},{scale})" if precision <= 38 else "VARCHAR"
    return _LOGICAL_TO_DUCKDB.get(logical, "VARCHAR")


def logical_type(duckdb_name: str) -> str:
    """Logical batch type of a DuckDB result column."""
    upper = duckdb_name.upper()
    if upper.startswith("DECIMAL"):
        return upper.lower().replace(" ", "")
    return _DUCKDB_TO_LOGICAL.get(upper, "string")


def step_references(sql: str, step_id: str) -> list[tuple[int, int, str]]:
    """Where `sql` names the input of step `step_id`: (start, end, kind) of each name.

    kind `quoted`: the id in double quotes (also `\\"id\\"` inside a double-quoted YAML string; the
    span excludes the quotes); `bare`: the id as a plain SQL name; `legacy`: its `df_` view.
    Used by the editor to rename a step id inside the queries that read it.
    """
    found: list[tuple[int, int, str]] = []
    for m in re.finditer(r'\\?"(' + re.escape(step_id) + r')\\?"', sql):
        found.append((m.start(1), m.end(1), "quoted"))
    names = [(legacy_view_name(step_id), "legacy")]
    if is_plain_sql_name(step_id):
        names.append((step_id, "bare"))
    for name, kind in names:
        # not part of a longer name, a dashed step id or a quoted one
        for m in re.finditer(r'(?<![\w."-])' + re.escape(name) + r'(?![\w"-])', sql):
            found.append((m.start(), m.end(), kind))
    return sorted(found)


def step_reference_text(kind: str, new_id: str) -> str:
    """What a reference of `kind` (see `step_references`) becomes when the step is renamed `new_id`."""
    if kind == "legacy":
        return legacy_view_name(new_id)
    if kind == "bare" and not is_plain_sql_name(new_id):
        return quote_identifier(new_id)
    return new_id


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        return str(value)
    return value


class DuckDBProcessor:
    """Runs `query` over its inputs and yields the result in batches of `batch_size` rows."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        query = ctx.config.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(f"step `{ctx.step_id}`: `query` is required", code="config.missing-required",
                              fix="add `query: SELECT ... FROM <needed step id>`")
        self.query = query
        try:
            self.query_params = bound_query_params(ctx.config, "dollar")
        except ValidationFailed as exc:
            raise ConfigError(f"step `{ctx.step_id}`: {exc.message}", code=exc.code, fix=exc.fix) from None
        self.batch_size = int(ctx.config.get("batch_size", DEFAULT_BATCH_SIZE))
        self.memory_limit = str(ctx.config.get("memory_limit", "512MB"))
        if not _MEMORY_LIMIT.match(self.memory_limit):
            raise ConfigError(f"step `{ctx.step_id}`: memory_limit {self.memory_limit!r} is not a size",
                              code="config.pattern", fix="write it like 512MB or 2GB")
        self.threads = int(ctx.config.get("threads", 2))

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        import duckdb

        workdir = Path(tempfile.mkdtemp(prefix="osiris-duckdb-"))
        con = None
        try:
            # Every input is spooled before the database opens: in a long chain of DuckDB steps the
            # steps waiting for their inputs then hold no DuckDB instance (each costs megabytes), so
            # memory stays flat however many steps the flow has.
            spooled = []
            for index, (step_id, stream) in enumerate(inputs.items()):
                spooled.append(self._spool(workdir / f"input-{index}.jsonl", step_id, stream))
                if self.ctx.cancelled:
                    return
            con = duckdb.connect(str(workdir / "work.duckdb"))
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
            con.execute(f"SET threads = {self.threads}")
            con.execute(f"SET temp_directory = '{workdir / 'spill'}'")
            # A relative path in the query is looked for here after the process's directory, as the
            # e2b engine plans its uploads (runner/sandbox_plan.py): the pipeline's folder by default.
            con.execute(f"SET file_search_path = {_sql_string(str(Path(self.ctx.work_dir).absolute()))}")
            for input_spool in spooled:
                self._create_table(con, input_spool)
            if len(inputs) == 1 and SINGLE_INPUT_NAME not in {legacy_view_name(i) for i in inputs} | set(inputs):
                (only,) = inputs
                con.execute(f"CREATE VIEW {SINGLE_INPUT_NAME} AS SELECT * FROM {quote_identifier(only)}")
            try:
                cursor = con.execute(self.query, self.query_params)
            except duckdb.Error as exc:
                raise RunFailed(f"step `{self.ctx.step_id}`: query failed: {exc}", code="run.sql-error",
                                fix=f"tables available: {', '.join(inputs) or 'none'}") from None
            if cursor.description is None:
                return  # a statement without a result set (DDL only)
            schema = Schema(tuple(Column(d[0], logical_type(str(d[1])), True, str(d[1])) for d in cursor.description))
            while not self.ctx.cancelled:
                rows = cursor.fetchmany(self.batch_size)
                if not rows:
                    return
                yield Batch(schema, rows)
        finally:
            if con is not None:
                con.close()
            shutil.rmtree(workdir, ignore_errors=True)

    def _spool(self, spool: Path, step_id: str, stream: Iterator[Batch]) -> "_Spooled":
        """One input written to newline-delimited JSON (stops early when the run is cancelled)."""
        schema: Schema | None = None
        rows = 0
        with spool.open("w", encoding="utf-8") as handle:
            for batch in stream:
                if self.ctx.cancelled:
                    break
                schema = schema or batch.schema
                names = schema.names
                handle.writelines(
                    json.dumps(dict(zip(names, map(_json_value, row))), ensure_ascii=False, default=str) + "\n"
                    for row in batch.rows
                )
                rows += len(batch)
                self.ctx.add_read(len(batch))
        return _Spooled(step_id, spool, schema, rows)

    def _create_table(self, con: Any, spooled: "_Spooled") -> None:
        table = quote_identifier(spooled.step_id)
        if spooled.schema is None:
            con.execute(f"CREATE TABLE {table} (_empty BOOLEAN)")  # an empty input still names a table
        else:
            self._create_from_spool(con, table, spooled.schema, spooled.path)
        view = legacy_view_name(spooled.step_id)
        if view != spooled.step_id:
            con.execute(f"CREATE VIEW {quote_identifier(view)} AS SELECT * FROM {table}")
        spooled.path.unlink()
        self.ctx.emit("duckdb_table_loaded", table=spooled.step_id, rows=spooled.rows)

    def _create_from_spool(self, con: Any, table: str, schema: Schema, spool: Path) -> None:
        columns = ", ".join(f"{quote_identifier(c.name)} {duckdb_type(c.type)}" for c in schema.columns)
        con.execute(f"CREATE TABLE {table} ({columns})")
        # JSON carries text for dates, decimals and base64 for bytes: read as text, cast on insert.
        json_columns = ", ".join(
            f"{_sql_string(c.name)}: {_sql_string(_json_read_type(c.type))}" for c in schema.columns
        )
        selects = ", ".join(_cast_expression(c) for c in schema.columns)
        con.execute(
            f"INSERT INTO {table} SELECT {selects} FROM read_json({_sql_string(str(spool))}, "
            f"format = 'newline_delimited', columns = {{{json_columns}}})"
        )


@dataclass(frozen=True)
class _Spooled:
    """An input spooled to disk, waiting to become a table."""

    step_id: str
    path: Path
    schema: Schema | None
    rows: int


def _json_read_type(logical: str) -> str:
    duck = duckdb_type(logical)
    return duck if duck in {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "VARCHAR", "JSON"} else "VARCHAR"


def _cast_expression(column: Column) -> str:
    name = quote_identifier(column.name)
    duck = duckdb_type(column.type)
    if duck == "BLOB":
        return f"from_base64({name})"
    if _json_read_type(column.type) == duck:
        return name
    return f"CAST({name} AS {duck})"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
