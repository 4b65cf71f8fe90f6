"""Identifiers, options and the SQL the drivers build: injection attempts are clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

from osiris_runtime.drivers.mysql import (
    MySQLExtractor,
    MySQLWriter,
    _timedelta_or_none,
    insert_sql,
)
from osiris_runtime.drivers.postgres import (
    TargetColumn,
    order_clause,
    select_sql,
    upsert_sql,
    where_clause,
)
from osiris_runtime.drivers.sql_identifiers import (
    quote_mysql,
    quote_pg,
    split_qualified,
    validate_identifier,
)
from osiris_runtime.drivers.sql_types import (
    mysql_logical_type,
    mysql_type_for,
    pg_type_for,
)
from osiris_runtime.drivers.step_options import ReadOptions, WriteOptions
from osiris_runtime.drivers.supabase import SupabaseExtractor, SupabaseWriter
from osiris_runtime.drivers.text_batch import TextBatch
from osiris_runtime.errors import ConfigError, ExitCode, ValidationFailed
from osiris_runtime.runner.batches import Batch, Column, Schema

from .conftest import make_ctx

INJECTIONS = [
    "orders; DROP TABLE users",
    'orders" ; DROP TABLE users; --',
    "orders`; DROP TABLE users; --",
    "orders -- comment",
    "orders/*x*/",
    "1orders",
    "",
    "a b",
    "a'b",
]


@pytest.mark.parametrize("name", INJECTIONS)
def test_an_identifier_that_tries_to_inject_sql_is_a_validation_error(name):
    with pytest.raises(ValidationFailed) as failure:
        validate_identifier(name, what="table")
    assert failure.value.code == "config.invalid-identifier"
    assert failure.value.exit_code == ExitCode.VALIDATION


def test_plain_names_are_quoted_for_each_dialect():
    assert quote_pg("Orders_2024") == '"Orders_2024"'
    assert quote_mysql("größe$") == "`größe$`"
    assert split_qualified("analytics.orders") == ("analytics", "orders")
    with pytest.raises(ValidationFailed):
        split_qualified("a.b.c")


@pytest.mark.parametrize(
    "config",
    [
        {"table": "orders; DROP TABLE users"},
        {"table": "orders", "columns": ["id", "name) FROM users; --"]},
        {"table": "orders", "write_mode": "upsert", "primary_key": ["id; DELETE FROM orders"]},
    ],
)
def test_writers_reject_injection_before_connecting(config, pg_connection, my_connection):
    # The connections point at the real servers: nothing may be executed.
    for writer, conn in ((SupabaseWriter, pg_connection), (MySQLWriter, my_connection)):
        if "columns" in config:
            continue  # a writer's columns come from the incoming rows: see the next test
        with pytest.raises(ValidationFailed):
            writer(make_ctx("w", "x.writer", config, conn)).run({})
    for extractor, conn in ((SupabaseExtractor, pg_connection), (MySQLExtractor, my_connection)):
        if "primary_key" in config:
            continue  # nothing to read wrongly
        with pytest.raises(ValidationFailed):
            extractor(make_ctx("r", "x.extractor", {k: v for k, v in config.items() if k in ("table", "columns")}, conn)).run({})


def test_an_incoming_column_name_that_injects_sql_is_rejected(pg, my, pg_connection, my_connection, pg_schema):
    bad = Schema((Column("id", "int32"), Column('x" int); DROP TABLE users; --', "string")))
    for writer, conn, extra in ((SupabaseWriter, pg_connection, {"schema": pg_schema}), (MySQLWriter, my_connection, {})):
        config = {"table": "inject_target", "create_if_missing": True, **extra}
        with pytest.raises(ValidationFailed):
            writer(make_ctx("w", "x.writer", config, conn)).run({"up": iter([Batch(bad, [(1, "a")])])})
    assert pg.execute("SELECT to_regclass('inject_target')").fetchone()[0] is None


def test_deprecated_write_options_are_accepted():
    options = WriteOptions.from_config({"table": "t", "mode": "merge", "upsert_keys": ["a", "b"]}, dialect="postgres")
    assert options.write_mode == "upsert" and options.primary_key == ("a", "b")
    with pytest.raises(ValidationFailed, match="primary_key"):
        WriteOptions.from_config({"table": "t", "write_mode": "upsert"}, dialect="mysql")
    with pytest.raises(ValidationFailed, match="write_mode"):
        WriteOptions.from_config({"table": "t", "write_mode": "overwrite"}, dialect="mysql")


def test_postgrest_filters_become_bound_parameters():
    where, params = where_clause({"status": "eq.shipped", "total": "gte.100", "note": "is.null", "tag": "not.in.(a,b)",
                                  "name": "ilike.*o'brien*"})
    assert where == (' WHERE "status" = %s AND "total" >= %s AND "note" IS NULL AND NOT ("tag"::text = ANY(%s))'
                     ' AND "name" ILIKE %s')
    assert params == ["shipped", "100", ["a", "b"], "%o'brien%"]
    assert order_clause("placed_at.desc.nullslast,id") == ' ORDER BY "placed_at" DESC NULLS LAST, "id"'
    with pytest.raises(ValidationFailed):
        where_clause({"x": "drop.table"})
    with pytest.raises(ValidationFailed):
        order_clause("id; DROP TABLE t")


def test_select_sql_with_columns_filter_order_and_paging():
    options = ReadOptions.from_config(
        {"table": "orders", "schema": "sales", "columns": ["id", "total"], "filter": {"id": "gt.5"}, "order": "id",
         "limit": 10, "offset": 20},
        dialect="postgres",
    )
    assert select_sql(options) == (
        'SELECT "id", "total" FROM "sales"."orders" WHERE "id" > %s ORDER BY "id" LIMIT 10 OFFSET 20', ["5"])


def test_upsert_skips_unchanged_rows_and_compares_json_as_jsonb():
    columns = [TargetColumn("id", 23, "integer", True), TargetColumn("doc", 114, "json", False), TargetColumn("n", 23, "integer", False)]
    sql = upsert_sql('"t"', '"stage"', columns, ["id"])
    assert 'LEFT JOIN "t" AS cur ON cur."id" = s."id"' in sql
    assert 'WHERE cur."id" IS NULL OR ROW(cur."doc"::jsonb, cur."n") IS DISTINCT FROM ROW(s."doc"::jsonb, s."n")' in sql
    assert sql.endswith('WHERE ROW(t."doc"::jsonb, t."n") IS DISTINCT FROM ROW(EXCLUDED."doc"::jsonb, EXCLUDED."n")')
    assert upsert_sql('"t"', '"stage"', columns[:1], ["id"]).endswith("DO NOTHING")


def test_mysql_upsert_statement():
    sql = insert_sql("`t`", ["id", "v"], "upsert", ["id"])
    assert sql == "INSERT INTO `t` (`id`, `v`) VALUES (%s, %s) ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)"


@pytest.mark.parametrize(
    "mysql_type, logical, pg_type",
    [
        ("int(10) unsigned", "uint32", "bigint"),
        ("bigint(20) unsigned", "uint64", "numeric(20,0)"),
        ("tinyint(1)", "int8", "smallint"),
        ("decimal(12,2)", "decimal(12,2)", "numeric(12,2)"),
        ("datetime(6)", "datetime", "timestamp(6)"),
        ("timestamp", "timestamp", "timestamptz"),
        ("time", "time", "interval"),
        ("year(4)", "int16", "smallint"),
        ("enum('a','b')", "string", "text"),
        ("set('a','b')", "string", "text"),
        ("bit(3)", "bit(3)", "bit(3)"),
        ("varchar(50)", "string", "varchar(50)"),
        ("longblob", "bytes", "bytea"),
        ("json", "json", "jsonb"),
    ],
)
def test_mysql_types_map_to_postgres(mysql_type, logical, pg_type):
    assert mysql_logical_type(mysql_type) == logical
    assert pg_type_for(Column("c", logical, True, mysql_type)) == pg_type


def test_mysql_ddl_never_reuses_an_unsafe_source_spelling():
    sneaky = Column("c", "string", True, "enum('a') ; DROP TABLE t; --")
    assert mysql_type_for(sneaky) == "longtext"
    assert mysql_type_for(Column("c", "string", True, "enum('a','it''s')")) == "enum('a','it''s')"


def test_rest_only_connection_cannot_run_a_query():
    ctx = make_ctx("r", "supabase.extractor", {"query": "SELECT 1"}, {"url": "http://127.0.0.1:9", "key": "k"})
    with pytest.raises(ConfigError) as failure:
        SupabaseExtractor(ctx).run({})
    assert failure.value.code == "connection.direct-required"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("838:59:59", dt.timedelta(hours=838, minutes=59, seconds=59)),
        ("-838:59:59", -dt.timedelta(hours=838, minutes=59, seconds=59)),
        ("-00:00:01.5", -dt.timedelta(seconds=1.5)),
        ("12:34:56.000001", dt.timedelta(hours=12, minutes=34, seconds=56, microseconds=1)),
    ],
)
def test_mysql_time_text_is_a_signed_duration(text, expected):
    assert _timedelta_or_none(text) == expected


def test_a_text_batch_types_its_rows_on_demand_only():
    calls = []

    def to_int(v):
        calls.append(v)
        return int(v)

    batch = TextBatch(Schema((Column("a", "int32"), Column("b", "string"))), [("1", "x"), (None, "y")], [to_int, None])
    assert len(batch) == 2 and not calls
    assert batch.rows == [(1, "x"), (None, "y")] and calls == ["1"]
    assert batch.rows is batch.rows  # converted once


def test_a_qualified_table_name_wins_over_the_default_schema():
    # The compiler fills `schema: public` from the spec default; `table: sales.orders` must still mean sales.
    read = ReadOptions.from_config({"table": "sales.orders", "schema": "public"}, dialect="postgres", default_schema="public")
    write = WriteOptions.from_config({"table": "sales.orders", "schema": "public"}, dialect="postgres", default_schema="public")
    assert (read.schema, read.table) == (write.schema, write.table) == ("sales", "orders")
    assert WriteOptions.from_config({"table": "orders"}, dialect="postgres", default_schema="public").schema == "public"


@pytest.mark.parametrize("name", ["rt_nl\n", "t\n", "ok\r", "a\u2028"])
def test_a_trailing_newline_is_not_an_identifier(name):
    from osiris_runtime.drivers.sql_identifiers import validate_identifier
    from osiris_runtime.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        validate_identifier(name, dialect="mysql")


@pytest.mark.parametrize("component", ["mysql.writer", "mysql.extractor"])
def test_a_qualified_mysql_table_cannot_leave_the_connections_database(component):
    from osiris_runtime.drivers.mysql import MySQLExtractor, MySQLWriter
    from osiris_runtime.errors import ValidationFailed

    from .conftest import make_ctx

    ctx = make_ctx("q", component, {"table": "otherdb.t", "write_mode": "append"},
                   {"host": "127.0.0.1", "port": 1, "user": "u", "password": "", "database": "shop"})
    driver = MySQLWriter if component == "mysql.writer" else MySQLExtractor
    with pytest.raises(ValidationFailed) as failure:
        driver(ctx).run({"up": iter(())})
    assert failure.value.code == "connection.forbidden-override" and "otherdb" in failure.value.message
