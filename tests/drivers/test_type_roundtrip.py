"""Every MySQL type of docs/types.md moves MySQL -> Postgres (Supabase direct) -> MySQL unchanged."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from osiris_runtime.drivers.mysql import MySQLExtractor, MySQLWriter
from osiris_runtime.drivers.postgres import CopyBatch
from osiris_runtime.drivers.supabase import SupabaseExtractor, SupabaseWriter
from osiris_runtime.errors import RunFailed
from osiris_runtime.runner.batches import Batch

from .conftest import make_ctx

pytestmark = pytest.mark.integration

MYSQL_DDL = """
CREATE TABLE alltypes (
  id INT NOT NULL PRIMARY KEY,
  t_tiny TINYINT, t_tiny_u TINYINT UNSIGNED, t_small SMALLINT, t_small_u SMALLINT UNSIGNED,
  t_medium MEDIUMINT, t_medium_u MEDIUMINT UNSIGNED, t_int INT, t_int_u INT UNSIGNED,
  t_big BIGINT, t_big_u BIGINT UNSIGNED, t_dec DECIMAL(30,10), t_float FLOAT, t_double DOUBLE,
  t_varchar VARCHAR(20), t_char CHAR(5), t_text TEXT, t_blob BLOB, t_varbinary VARBINARY(16),
  t_date DATE, t_datetime DATETIME, t_datetime6 DATETIME(6), t_ts TIMESTAMP NULL, t_time TIME, t_time6 TIME(6),
  t_year YEAR, t_json JSON, t_enum ENUM('small','medium','large'), t_set SET('a','b','c'), t_bit BIT(10),
  t_bool TINYINT(1) NOT NULL DEFAULT 0
) DEFAULT CHARSET=utf8mb4
"""

ROWS = [
    (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
     -9223372036854775808, 18446744073709551615, Decimal("12345678901234567890.0123456789"), 1.5, 1e308,
     "😀 emoji ñ ü", "ab", "tab\there\nnewline back\\slash 𝄞 'quote' \"dq\"", bytes(range(256)), b"\x00\x01\xff",
     dt.date(1000, 1, 1), dt.datetime(1000, 1, 1, 0, 0, 0), dt.datetime(2024, 2, 29, 23, 59, 59, 123456),
     dt.datetime(2038, 1, 19, 3, 14, 7), dt.timedelta(hours=-838, minutes=-59, seconds=-59),
     dt.timedelta(hours=12, minutes=34, seconds=56, microseconds=789012), 1901,
     '{"k": [1, 2.5, "x"], "n": null, "u": "ü😀"}', "large", "a,c", 0b1010101010, 5),
    (2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0,
     9223372036854775807, 0, Decimal("-0.0000000001"), -3.25, 0.1,
     "", "xyzzy", "", b"", b"",
     dt.date(9999, 12, 31), dt.datetime(9999, 12, 31, 23, 59, 59), dt.datetime(1970, 1, 1, 0, 0, 0, 1),
     dt.datetime(1970, 1, 1, 0, 0, 1), dt.timedelta(hours=838, minutes=59, seconds=59),
     dt.timedelta(0), 2155, "[]", "small", "", 0, 1),
    (3,) + (None,) * 29 + (0,),
]

# Postgres types that create_if_missing must produce (docs/types.md).
EXPECTED_PG_TYPES = {
    "id": "integer", "t_tiny": "smallint", "t_tiny_u": "smallint", "t_small": "smallint", "t_small_u": "integer",
    "t_medium": "integer", "t_medium_u": "integer", "t_int": "integer", "t_int_u": "bigint", "t_big": "bigint",
    "t_big_u": "numeric(20,0)", "t_dec": "numeric(30,10)", "t_float": "real", "t_double": "double precision",
    "t_varchar": "character varying(20)", "t_char": "character varying(5)", "t_text": "text", "t_blob": "bytea",
    "t_varbinary": "bytea", "t_date": "date", "t_datetime": "timestamp without time zone",
    "t_datetime6": "timestamp(6) without time zone", "t_ts": "timestamp with time zone", "t_time": "interval",
    "t_time6": "interval", "t_year": "smallint", "t_json": "jsonb", "t_enum": "text", "t_set": "text",
    "t_bit": "bit(10)", "t_bool": "smallint",
}


def _load_mysql_source(my: Any) -> None:
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS alltypes")
        cur.execute(MYSQL_DDL)
        cur.executemany(f"INSERT INTO alltypes VALUES ({', '.join(['%s'] * 31)})", ROWS)


def _normalise(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Comparable form: JSON parsed, timestamps as UTC instants; everything else must match exactly."""
    out = []
    for v in row:
        if isinstance(v, str) and v[:1] in "[{":
            try:
                v = json.loads(v)
            except ValueError:
                pass
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)  # MySQL DATETIME holds UTC wall time
        out.append(v)
    return tuple(out)


def assert_same_rows(got_rows: list[tuple[Any, ...]], want_rows: list[tuple[Any, ...]]) -> None:
    assert len(got_rows) == len(want_rows)
    for got, want in zip(got_rows, want_rows):
        for i, (g, w) in enumerate(zip(_normalise(got), _normalise(want))):
            assert g == w and type(g) is type(w) or (g == w and {type(g), type(w)} <= {int, Decimal}), (got[0], i, g, w)


def _rows(batches: Any) -> tuple[list[Batch], list[tuple[Any, ...]]]:
    collected = list(batches)
    return collected, [tuple(r) for b in collected for r in b.rows]


@pytest.mark.parametrize("client", ["default", "pymysql"])
def test_every_mysql_type_round_trips_through_postgres_and_back(client, monkeypatch, my, pg, my_connection, pg_connection, pg_schema):
    if client == "pymysql":  # the fallback when mysqlclient (C) is not installed
        monkeypatch.setenv("OSIRIS_MYSQL_DRIVER", "pymysql")
    _load_mysql_source(my)
    pg.execute("DROP TABLE IF EXISTS alltypes_pg")

    extract = make_ctx("pull", "mysql.extractor", {"table": "alltypes", "batch_size": 2}, my_connection)
    batches, source_rows = _rows(MySQLExtractor(extract).run({}))
    assert extract.rows_read == 3
    by_name = {c.name: c for c in batches[0].schema.columns}
    assert by_name["t_big_u"].type == "uint64" and by_name["t_json"].type == "json"
    assert by_name["t_bool"].source_type == "tinyint(1)" and by_name["t_bit"].type == "bit(10)"
    assert source_rows[0][22].tzinfo is not None  # TIMESTAMP arrives as an instant

    write = make_ctx(
        "push", "supabase.writer",
        {"table": "alltypes_pg", "schema": pg_schema, "create_if_missing": True, "primary_key": "id", "write_mode": "append"},
        pg_connection,
    )
    SupabaseWriter(write).run({"pull": iter(batches)})
    assert write.rows_written == 3

    created = dict(pg.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'alltypes_pg'::regclass AND attnum > 0"
    ).fetchall())
    assert created == EXPECTED_PG_TYPES

    back = make_ctx("read", "supabase.extractor", {"table": "alltypes_pg", "schema": pg_schema, "order": "id"}, pg_connection)
    pg_batches, pg_rows = _rows(SupabaseExtractor(back).run({}))
    assert all(isinstance(b, CopyBatch) for b in pg_batches)
    assert_same_rows(pg_rows, source_rows)

    # ... and back into MySQL, created from the Postgres schema: the same values again.
    to_mysql = make_ctx(
        "push-my", "mysql.writer",
        {"table": "alltypes_back", "create_if_missing": True, "primary_key": ["id"], "write_mode": "append"},
        my_connection,
    )
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS alltypes_back")
    MySQLWriter(to_mysql).run({"read": iter(pg_batches)})
    again = make_ctx("pull2", "mysql.extractor", {"query": "SELECT * FROM alltypes_back ORDER BY id"}, my_connection)
    _, back_rows = _rows(MySQLExtractor(again).run({}))
    assert_same_rows(back_rows, source_rows)


def test_mysql_to_mysql_keeps_source_spellings(my, my_connection):
    _load_mysql_source(my)
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS alltypes_copy")
    extract = make_ctx("pull", "mysql.extractor", {"table": "alltypes"}, my_connection)
    write = make_ctx("push", "mysql.writer", {"table": "alltypes_copy", "create_if_missing": True, "primary_key": "id"}, my_connection)
    MySQLWriter(write).run({"pull": MySQLExtractor(extract).run({})})
    with my.cursor() as cur:
        cur.execute("SELECT * FROM alltypes ORDER BY id")
        original = cur.fetchall()
        cur.execute("SELECT * FROM alltypes_copy ORDER BY id")
        copied = cur.fetchall()
        cur.execute("SHOW COLUMNS FROM alltypes_copy")
        types = {r[0]: r[1] for r in cur.fetchall()}
    assert copied == original
    assert types["t_enum"] == "enum('small','medium','large')" and types["t_bool"] == "tinyint(1)"


def test_a_mysql_zero_date_is_null_when_typed_and_a_clear_failure_into_postgres(my, pg, my_connection, pg_connection, pg_schema):
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS zero_dates")
        cur.execute("CREATE TABLE zero_dates (id INT PRIMARY KEY, d DATE, t DATETIME)")
        cur.execute("SET SESSION sql_mode = ''")
        cur.execute("INSERT INTO zero_dates VALUES (1, '2024-01-01', '2024-01-01 10:00:00'), (2, '0000-00-00', '0000-00-00 00:00:00')")
    extract = make_ctx("pull", "mysql.extractor", {"table": "zero_dates"}, my_connection)
    _, rows = _rows(MySQLExtractor(extract).run({}))
    assert rows == [(1, dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 10)), (2, None, None)]

    pg.execute("DROP TABLE IF EXISTS zero_dates")
    pg.execute("CREATE TABLE zero_dates (id int PRIMARY KEY, d date, t timestamp)")
    fresh = make_ctx("pull2", "mysql.extractor", {"table": "zero_dates"}, my_connection)
    write = make_ctx("push", "supabase.writer", {"table": "zero_dates", "schema": pg_schema}, pg_connection)
    with pytest.raises(RunFailed) as failure:
        SupabaseWriter(write).run({"pull": MySQLExtractor(fresh).run({})})
    assert "0000-00-00" in failure.value.message
    assert pg.execute("SELECT count(*) FROM zero_dates").fetchone()[0] == 0
