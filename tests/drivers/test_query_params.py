"""Bound query parameters (`query_params`) on the real MariaDB, PostgreSQL and DuckDB: a value that
would rewrite spliced SQL is bound as data; placeholders and values are checked before any SQL."""

from __future__ import annotations

from typing import Any

import pytest

from osiris_runtime.compiler import compile_pipeline
from osiris_runtime.drivers.duckdb import DuckDBProcessor
from osiris_runtime.drivers.mysql import MySQLExtractor
from osiris_runtime.drivers.query_params import query_param_problems
from osiris_runtime.drivers.supabase import SupabaseExtractor
from osiris_runtime.errors import OsirisError
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import BUILTIN_COMPONENTS_DIR, Registry
from osiris_runtime.runner.batches import Batch, Column, Schema
from .conftest import drain, make_ctx

INJECTION = "x' OR '1'='1"
TABLE = "i11_qp_people"


@pytest.fixture
def my_people(my: Any) -> str:
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cur.execute(f"CREATE TABLE {TABLE} (id INT PRIMARY KEY, name VARCHAR(40), note VARCHAR(40))")
        cur.execute(f"INSERT INTO {TABLE} VALUES (1, 'ann', '50%% off'), (2, 'bob', NULL), (3, %s, NULL)", (INJECTION,))
    return TABLE


@pytest.fixture
def pg_people(pg: Any) -> str:
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    pg.execute(f"CREATE TABLE {TABLE} (id INT PRIMARY KEY, name TEXT, note TEXT)")
    pg.execute(f"INSERT INTO {TABLE} VALUES (1, 'ann', '50%% off'), (2, 'bob', NULL), (3, %s, NULL)", (INJECTION,))
    return TABLE


def _mysql(config: dict[str, Any], connection: dict[str, Any]) -> list[tuple[Any, ...]]:
    return drain(MySQLExtractor(make_ctx("read", "mysql.extractor", config, connection)).run({}))


def _pg(config: dict[str, Any], connection: dict[str, Any], schema: str) -> list[tuple[Any, ...]]:
    config = {"schema": schema, **config}
    return drain(SupabaseExtractor(make_ctx("read", "supabase.extractor", config, connection)).run({}))


def test_mysql_binds_an_injection_as_data(my_people: str, my_connection: dict[str, Any]):
    query = f"SELECT id, name FROM {my_people} WHERE name = %(name)s ORDER BY id"
    assert _mysql({"query": query, "query_params": {"name": INJECTION}}, my_connection) == [(3, INJECTION)]
    assert _mysql({"query": query, "query_params": {"name": "bob"}}, my_connection) == [(2, "bob")]
    # The same value spliced into the text (what `${params.x}` in `query` does) reads every row.
    spliced = f"SELECT id FROM {my_people} WHERE name = '{INJECTION}' ORDER BY id"
    assert _mysql({"query": spliced}, my_connection) == [(1,), (2,), (3,)]


def test_mysql_literal_percent_and_null_and_numbers(my_people: str, my_connection: dict[str, Any]):
    query = (f"SELECT id FROM {my_people} WHERE (note LIKE '%%off' OR note <=> %(note)s) "
             "AND id >= %(low)s ORDER BY id")
    assert _mysql({"query": query, "query_params": {"note": None, "low": 1}, "limit": 5}, my_connection) == [(1,), (2,), (3,)]


def test_postgres_binds_an_injection_as_data(pg_people: str, pg_connection: dict[str, Any], pg_schema: str):
    query = f"SELECT id, name FROM {pg_schema}.{pg_people} WHERE name = %(name)s ORDER BY id"
    assert _pg({"query": query, "query_params": {"name": INJECTION}}, pg_connection, pg_schema) == [(3, INJECTION)]
    with_limit = {"query": query, "query_params": {"name": "ann"}, "limit": 1}
    assert _pg(with_limit, pg_connection, pg_schema) == [(1, "ann")]
    spliced = f"SELECT id FROM {pg_schema}.{pg_people} WHERE name = '{INJECTION}' ORDER BY id"
    assert _pg({"query": spliced}, pg_connection, pg_schema) == [(1,), (2,), (3,)]


def test_postgres_percent_rules(pg_people: str, pg_connection: dict[str, Any], pg_schema: str):
    query = f"SELECT id FROM {pg_schema}.{pg_people} WHERE note LIKE '%%off' AND id < %(high)s"
    assert _pg({"query": query, "query_params": {"high": 9}}, pg_connection, pg_schema) == [(1,)]
    # Without query_params a query is sent as written: a single % stays a single %.
    plain = f"SELECT id FROM {pg_schema}.{pg_people} WHERE note LIKE '%off'"
    assert _pg({"query": plain}, pg_connection, pg_schema) == [(1,)]


def _duck(config: dict[str, Any]) -> list[tuple[Any, ...]]:
    schema = Schema((Column("id", "integer", True), Column("name", "string", True)))
    rows = [(1, "ann"), (2, "bob"), (3, INJECTION)]
    ctx = make_ctx("t", "duckdb.processor", config, {})
    out = drain(DuckDBProcessor(ctx).run({"src": iter([Batch(schema, rows)])}))
    return [tuple(int(v) if isinstance(v, str) and v.isdigit() else v for v in row) for row in out]


def test_duckdb_binds_an_injection_as_data():
    query = "SELECT id FROM src WHERE name = $name OR id = $id ORDER BY id"
    assert _duck({"query": query, "query_params": {"name": INJECTION, "id": -1}}) == [(3,)]
    assert _duck({"query": f"SELECT id FROM src WHERE name = '{INJECTION}' ORDER BY id"}) == [(1,), (2,), (3,)]
    # `$name` inside a literal is text to DuckDB, not a placeholder.
    assert _duck({"query": "SELECT '$name' AS t, id FROM src WHERE id = $id", "query_params": {"id": 2}}) == [("$name", 2)]


@pytest.mark.parametrize(("config", "style", "code", "path"), [
    ({"query": "SELECT %(a)s"}, "pyformat", "config.query-param-unknown", ("query",)),
    ({"query": "SELECT %(a)s", "query_params": {"a": 1, "b": 2}}, "pyformat", "config.query-param-unused", ("query_params", "b")),
    ({"query": "SELECT '5%' , %(a)s", "query_params": {"a": 1}}, "pyformat", "config.query-param-syntax", ("query",)),
    ({"query": "SELECT %s", "query_params": {"a": 1}}, "pyformat", "config.query-param-syntax", ("query",)),
    ({"table": "t", "query_params": {"a": 1}}, "pyformat", "config.query-params-without-query", ("query_params",)),
    ({"query": "SELECT $a"}, "dollar", "config.query-param-unknown", ("query",)),
    ({"query": "SELECT $1", "query_params": {"a": 1}}, "dollar", "config.query-param-syntax", ("query",)),
    ({"query": "SELECT '$a' -- $a\n", "query_params": {"a": 1}}, "dollar", "config.query-param-unused", ("query_params", "a")),
])
def test_placeholder_problems(config: dict[str, Any], style: Any, code: str, path: tuple[str, ...]):
    assert code in {(p.code) for p in query_param_problems(config, style) if p.path == path}


def test_no_problems_for_plain_queries_and_literal_percent_without_params():
    assert query_param_problems({"query": "SELECT * FROM t WHERE a LIKE '5%'"}, "pyformat") == []
    assert query_param_problems({"query": "SELECT '$5' AS price"}, "dollar") == []
    assert query_param_problems({"query": "${params.q}", "query_params": {"a": 1}}, "pyformat") == []


def test_the_driver_refuses_a_mismatch_before_connecting(my_connection: dict[str, Any]):
    unreachable = {**my_connection, "port": 1}
    with pytest.raises(OsirisError) as raised:
        _mysql({"query": "SELECT %(a)s", "query_params": {"b": 1}}, unreachable)
    assert raised.value.code == "config.query-param-unknown"
    with pytest.raises(OsirisError) as raised:
        _duck({"query": "SELECT 1", "query_params": {"b": 1}})
    assert raised.value.code == "config.query-param-unused"


PIPELINE = """\
oml_version: "0.1.0"
name: qp
params:
  name: {type: string, default: ann}
steps:
  - id: read
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: SELECT id FROM people WHERE name = %(name)s
      query_params:
        name: ${params.name}
        nme: ${params.name}
"""


def test_a_param_reaches_query_params_as_a_value_and_the_query_text_unchanged():
    registry = Registry([BUILTIN_COMPONENTS_DIR])
    good = PIPELINE.replace("        nme: ${params.name}\n", "")
    result = compile_pipeline(good, registry, params={"name": INJECTION}, mode="off")
    assert result.pipeline is not None, result.diagnostics
    cfg = result.pipeline.cfgs["read"]
    assert cfg["query"] == "SELECT id FROM people WHERE name = %(name)s"
    assert cfg["query_params"] == {"name": INJECTION}
    again = compile_pipeline(good, registry, params={"name": INJECTION}, mode="off")
    assert again.pipeline is not None and again.pipeline.files() == result.pipeline.files()
    # The unused value is a located validation error.
    (error,) = [d for d in validate(parse_oml(PIPELINE, source="p.yaml"), registry) if d.code.startswith("config.query")]
    assert error.code == "config.query-param-unused"
    assert (error.range.start.line, error.range.start.column) == (13, 13)
