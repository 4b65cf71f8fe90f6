"""Step config of the SQL drivers (MySQL, Supabase/Postgres) as small typed values.

The compiler fills defaults and maps deprecated keys, but a driver may also be run from a cfg
written by hand or by an older compiler, so the deprecated spellings (`mode`, `upsert_keys`) are
accepted here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osiris_runtime.drivers.query_params import bound_query_params
from osiris_runtime.drivers.sql_identifiers import split_qualified, validate_columns
from osiris_runtime.errors import RunFailed, ValidationFailed

WRITE_MODES = ("append", "replace", "upsert")
DEFAULT_BATCH_SIZE = 10_000


def _batch_size(config: Mapping[str, Any]) -> int:
    value = config.get("batch_size") or DEFAULT_BATCH_SIZE
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationFailed(f"batch_size must be a positive integer, got {value!r}", code="config.invalid-type")
    return value


def _name_list(value: Any, *, what: str, dialect: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(validate_columns(items, dialect=dialect)) if items else ()


def selected_columns(config: Mapping[str, Any]) -> list[str]:
    """`columns`, else a PostgREST `select` list (`*` = every column; `a, b` = those columns)."""
    if config.get("columns"):
        return list(config["columns"])
    select = config.get("select")
    if not isinstance(select, str) or select.strip() in ("", "*"):
        return []
    names = [part.strip() for part in select.split(",")]
    if any(not n or any(ch in n for ch in "():!*") for n in names):
        raise ValidationFailed(f"`select: {select}` is not a plain column list", code="config.invalid-value",
                               fix="list column names separated by commas (embedded resources and renames are not supported)")
    return names


@dataclass(frozen=True)
class ReadOptions:
    """What to read: a `query`, or a `table` with optional `columns`, `filter` and `limit`."""

    schema: str | None
    table: str | None
    query: str | None
    query_params: Mapping[str, Any] | None  # bound by the client (`%(name)s`), never spliced
    columns: tuple[str, ...]
    filter: str | Mapping[str, str] | None  # SQL after WHERE, or PostgREST-style {column: "op.value"}
    order: str | None  # PostgREST style: "created_at.desc,id"
    limit: int | None
    offset: int | None
    batch_size: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, dialect: str, default_schema: str | None = None) -> ReadOptions:
        query = config.get("query")
        table = config.get("table")
        if bool(query) == bool(table):
            raise ValidationFailed("set exactly one of `query` or `table`", code="config.constraint")
        schema, name = (None, None)
        if table:
            schema, name = split_qualified(table, dialect=dialect)
            schema = schema or config.get("schema") or default_schema  # "sales.orders" wins over a filled-in default
            if schema:
                split_qualified(schema, what="schema", dialect=dialect)
        limit, offset = config.get("limit"), config.get("offset") or None
        for key, value in (("limit", limit), ("offset", offset)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValidationFailed(f"{key} must be a non-negative integer, got {value!r}", code="config.invalid-type")
        where = config.get("filter") or config.get("where")
        return cls(
            schema=schema,
            table=name,
            query=query,
            query_params=bound_query_params(config, "pyformat"),
            columns=_name_list(selected_columns(config), what="column", dialect=dialect),
            filter=where,
            order=config.get("order"),
            limit=limit,
            offset=offset,
            batch_size=_batch_size(config),
        )


@dataclass(frozen=True)
class WriteOptions:
    schema: str | None
    table: str
    write_mode: str
    primary_key: tuple[str, ...]
    create_if_missing: bool
    batch_size: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, dialect: str, default_schema: str | None = None) -> WriteOptions:
        schema, table = split_qualified(config.get("table"), dialect=dialect)
        schema = schema or config.get("schema") or default_schema  # "sales.orders" wins over a filled-in default
        if schema:
            split_qualified(schema, what="schema", dialect=dialect)
        mode = config.get("write_mode") or config.get("mode") or "append"
        if mode == "merge":  # the seed's word for upsert
            mode = "upsert"
        if mode not in WRITE_MODES:
            raise ValidationFailed(
                f"write_mode {mode!r} is not one of {', '.join(WRITE_MODES)}",
                code="config.invalid-enum",
                fix="use one of: append, replace, upsert",
            )
        key = config.get("primary_key") or config.get("upsert_keys")
        primary_key = _name_list(key, what="primary_key", dialect=dialect)
        if mode == "upsert" and not primary_key:
            raise ValidationFailed(
                "write_mode upsert needs `primary_key`", code="config.missing-required", fix="add `primary_key: id`"
            )
        return cls(
            schema=schema,
            table=table,
            write_mode=mode,
            primary_key=primary_key,
            create_if_missing=bool(config.get("create_if_missing", False)),
            batch_size=_batch_size(config),
        )


def check_target(
    step_id: str, options: WriteOptions, target_columns: Sequence[str] | None, incoming: Sequence[str], *, will_create: bool
) -> None:
    """The target exists (or will be created) and has every incoming column; the key is among them."""
    if target_columns is None and not will_create:
        raise RunFailed(
            f"step {step_id}: target table {options.table} does not exist",
            code="run.table-missing",
            fix="create it, or set `create_if_missing: true`",
        )
    if target_columns is not None:
        missing = [n for n in incoming if n not in set(target_columns)]
        if missing:
            raise RunFailed(
                f"step {step_id}: target {options.table} has no column(s) {', '.join(missing)}",
                code="run.column-missing",
                fix="add the columns to the target table or select fewer columns upstream",
            )
    absent_key = [k for k in options.primary_key if k not in incoming]
    if absent_key:
        raise RunFailed(
            f"step {step_id}: primary_key column(s) {', '.join(absent_key)} not in the incoming rows",
            code="run.column-missing",
        )
