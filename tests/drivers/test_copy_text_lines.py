"""MySQL -> Postgres with MySQL spelling the COPY lines (copy_text.py): taken for the benchmark's
table, the same target contents as the value-by-value path for every type it covers, and the
value path for everything else."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from osiris_runtime.drivers.copy_text import COPY_TEXT, CopyTextBatch
from osiris_runtime.drivers.mysql import MySQLExtractor
from osiris_runtime.drivers.supabase import SupabaseWriter
from osiris_runtime.drivers.text_batch import TextBatch

from .conftest import make_ctx
from .test_type_roundtrip import ROWS as ALLTYPES_ROWS
from .test_type_roundtrip import _load_mysql_source

pytestmark = pytest.mark.integration

BENCH_DDL = """
CREATE TABLE lines_src (
  id INT NOT NULL PRIMARY KEY, first_name VARCHAR(50) NOT NULL, email VARCHAR(120) NOT NULL,
  amount DECIMAL(12,2) NOT NULL, created_at DATETIME NOT NULL, is_active TINYINT(1) NOT NULL,
  note TEXT, ref_id INT NULL, big BIGINT UNSIGNED, latin VARCHAR(20) CHARACTER SET latin1
) DEFAULT CHARSET=utf8mb4
"""
TRICKY = [
    (1, "back\\slash", "tab\there", Decimal("9999999999.99"), dt.datetime(2024, 2, 29, 23, 59, 59), 1,
     "new\nline and cr\r and \\N and \\. and \\\\", 2147483647, 18446744073709551615, "café"),
    (2, "", "ü😀 𝄞 'q' \"dq\"", Decimal("-0.01"), dt.datetime(1000, 1, 1), 0, "", -2147483648, 0, ""),
    (3, "\\N", "\\", Decimal("0.00"), dt.datetime(9999, 12, 31, 23, 59, 59), 127, None, None, None, None),
    (4, "\t", "\n", Decimal("1.50"), dt.datetime(1970, 1, 1), -128, "\\", 0, 1, "\\t"),
]


def _move(my_connection: dict[str, Any], pg_connection: dict[str, Any], pg_schema: str, source: str, target: str,
          *, lines: bool, **write: Any) -> tuple[list[Any], list[tuple[str, dict[str, Any]]]]:
    pull = make_ctx("pull", "mysql.extractor", {"table": source, "batch_size": 2}, my_connection)
    if lines:  # what the runner offers when every consumer is a Postgres writer
        pull.consumers_accept = frozenset({COPY_TEXT})
    batches = list(MySQLExtractor(pull).run({}))
    push = make_ctx("push", "supabase.writer", {"table": target, "schema": pg_schema, "create_if_missing": True,
                                                 "primary_key": "id", "write_mode": "append", **write}, pg_connection)
    SupabaseWriter(push).run({"pull": iter(batches)})
    return batches, pull.extra_metrics["events"] + push.extra_metrics["events"]


def _contents(pg: Any, table: str) -> bytes:
    """The target exactly as Postgres holds it: its own COPY text, in key order."""
    out = bytearray()
    with pg.cursor().copy(f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT") as copy:
        for block in copy:
            out += block
    return bytes(out)


def _event(events: list[tuple[str, dict[str, Any]]], name: str) -> dict[str, Any]:
    return next(fields for event, fields in events if event == name)


def test_the_benchmark_table_goes_as_copy_lines_and_lands_as_the_value_path_lands_it(my, pg, my_connection, pg_connection, pg_schema):
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS lines_src")
        cur.execute(BENCH_DDL)
        cur.executemany(f"INSERT INTO lines_src VALUES ({', '.join(['%s'] * 10)})", TRICKY)
    pg.execute("DROP TABLE IF EXISTS lines_by_values, lines_by_lines")

    value_batches, _ = _move(my_connection, pg_connection, pg_schema, "lines_src", "lines_by_values", lines=False)
    line_batches, events = _move(my_connection, pg_connection, pg_schema, "lines_src", "lines_by_lines", lines=True)

    assert all(type(b) is TextBatch for b in value_batches)
    assert line_batches and all(isinstance(b, CopyTextBatch) for b in line_batches)
    assert _event(events, "extract.schema")["batches"] == "postgres copy text"
    assert _event(events, "write.copy")["format"] == "text lines from the source"
    assert _contents(pg, "lines_by_lines") == _contents(pg, "lines_by_values")
    assert pg.execute("SELECT note, latin FROM lines_by_lines WHERE id = 1").fetchone() == (TRICKY[0][6], "café")
    # A consumer that wants values decodes them from the lines: the value path's values.
    assert sorted(r for b in line_batches for r in b.rows) == sorted(r for b in value_batches for r in b.rows)


def test_every_type_with_a_copy_spelling_lands_as_the_value_path_lands_it(my, pg, my_connection, pg_connection, pg_schema):
    _load_mysql_source(my)  # every MySQL type of docs/types.md ...
    with my.cursor() as cur:  # ... but bit, which has no COPY spelling (tested below)
        cur.execute("ALTER TABLE alltypes DROP COLUMN t_bit")
    pg.execute("DROP TABLE IF EXISTS alltypes_by_values, alltypes_by_lines")

    value_batches, _ = _move(my_connection, pg_connection, pg_schema, "alltypes", "alltypes_by_values", lines=False)
    line_batches, events = _move(my_connection, pg_connection, pg_schema, "alltypes", "alltypes_by_lines", lines=True)

    assert all(isinstance(b, CopyTextBatch) for b in line_batches)
    assert _contents(pg, "alltypes_by_lines") == _contents(pg, "alltypes_by_values")
    assert pg.execute("SELECT count(*) FROM alltypes_by_lines").fetchone() == (len(ALLTYPES_ROWS),)
    assert sorted(r for b in line_batches for r in b.rows) == sorted(r for b in value_batches for r in b.rows)


def test_a_table_with_a_column_without_a_copy_spelling_is_read_value_by_value(my, pg, my_connection, pg_connection, pg_schema):
    _load_mysql_source(my)  # has a BIT(10) column
    pg.execute("DROP TABLE IF EXISTS alltypes_bit")
    batches, events = _move(my_connection, pg_connection, pg_schema, "alltypes", "alltypes_bit", lines=True)
    assert batches and all(type(b) is TextBatch for b in batches)
    assert _event(events, "extract.schema")["batches"] == "values"
    assert pg.execute("SELECT t_bit::text FROM alltypes_bit WHERE id = 1").fetchone() == ("1010101010",)


def test_a_target_column_that_needs_a_conversion_gets_values_decoded_from_the_lines(my, pg, my_connection, pg_connection, pg_schema):
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS lines_json")
        cur.execute("CREATE TABLE lines_json (id INT PRIMARY KEY, doc TEXT, flags VARBINARY(2))")
        cur.execute("INSERT INTO lines_json VALUES (1, '{\"a\": \"tab\\\\there\"}', x'0005'), (2, NULL, NULL)")
    pg.execute("DROP TABLE IF EXISTS lines_json")
    pg.execute("CREATE TABLE lines_json (id int PRIMARY KEY, doc jsonb, flags bit(16))")  # bit needs a conversion

    batches, events = _move(my_connection, pg_connection, pg_schema, "lines_json", "lines_json", lines=True)
    assert all(isinstance(b, CopyTextBatch) for b in batches)
    assert _event(events, "write.copy")["format"] == "text"
    assert pg.execute("SELECT doc, flags::text FROM lines_json ORDER BY id").fetchall() == [
        ({"a": "tab\there"}, "0000000000000101"), (None, None)]


def test_an_empty_table_goes_as_one_empty_batch_of_lines(my, pg, my_connection, pg_connection, pg_schema):
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS lines_empty")
        cur.execute("CREATE TABLE lines_empty (id INT PRIMARY KEY, name VARCHAR(5))")
    pg.execute("DROP TABLE IF EXISTS lines_empty")
    batches, events = _move(my_connection, pg_connection, pg_schema, "lines_empty", "lines_empty", lines=True)
    assert [len(b) for b in batches] == [0] and isinstance(batches[0], CopyTextBatch)
    assert pg.execute("SELECT count(*) FROM lines_empty").fetchone() == (0,)
