"""Partitioned MySQL extraction: every row exactly once, the same values, one snapshot, bounded
memory, and the writer's guarantee (target unchanged on failure) kept."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from osiris_runtime.drivers.mysql import MySQLExtractor
from osiris_runtime.drivers.partitions import KeyRange, merged, plan_integer_ranges, range_condition
from osiris_runtime.drivers.supabase import SupabaseExtractor, SupabaseWriter
from osiris_runtime.errors import RunFailed

from .conftest import make_ctx
from .test_type_roundtrip import _load_mysql_source, _rows, assert_same_rows

ROWS = 20_000


# -- the plan (pure) ---------------------------------------------------------------------------
@pytest.mark.parametrize("low,high,count", [(1, 100, 4), (-50, 7, 3), (5, 5, 4), (0, 10**12, 8)])
def test_ranges_cover_every_key_exactly_once(low, high, count):
    plan = plan_integer_ranges("id", low, high, 1000, count, "snapshot")
    assert plan.ranges[0].low is None and plan.ranges[-1].high is None  # keys outside the bounds read was still caught
    for key in {low - 1, low, (low + high) // 2, high, high + 1}:
        assert sum((r.low is None or key >= r.low) and (r.high is None or key < r.high) for r in plan.ranges) == 1
    assert len(plan.ranges) == min(count, high - low + 1)


def test_auto_picks_the_count_from_the_row_estimate_and_the_cores():
    assert len(plan_integer_ranges("id", 1, 10**6, 1_000, "auto", "snapshot", cores=8).ranges) == 1
    assert len(plan_integer_ranges("id", 1, 10**6, 1_000_000, "auto", "snapshot", cores=2).ranges) == 1  # the writer's core
    assert len(plan_integer_ranges("id", 1, 10**6, 1_000_000, "auto", "snapshot", cores=4).ranges) == 3
    assert len(plan_integer_ranges("id", 1, 10**8, 100_000_000, "auto", "snapshot", cores=64).ranges) == 8
    assert range_condition("`id`", KeyRange(None, 10, 0)) == "`id` < 10"


def test_merged_raises_the_first_reader_error_and_stops_the_others():
    stopped = threading.Event()

    def endless(stop):
        while not stop.is_set():
            yield 1
        stopped.set()

    def broken(stop):
        yield 2
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(merged([endless, broken]))
    assert stopped.is_set()


# -- against MariaDB ---------------------------------------------------------------------------
def _load_numbers(my: Any, table: str = "part_src") -> None:
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, val VARCHAR(40), n INT NULL) ENGINE=InnoDB")
        cur.execute("SET SESSION max_recursive_iterations = 1000000")
        cur.execute(f"INSERT INTO {table} WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS}) "
                    "SELECT i * 3, CONCAT('v', i), IF(i % 7 = 0, NULL, i) FROM s")
        cur.execute(f"ANALYZE TABLE {table}")


def _extract(my_connection: dict[str, Any], config: dict[str, Any]) -> tuple[Any, list[tuple[Any, ...]]]:
    ctx = make_ctx("pull", "mysql.extractor", config, my_connection)
    _, rows = _rows(MySQLExtractor(ctx).run({}))
    return ctx, rows


def _plan(ctx: Any) -> dict[str, Any]:
    return next(fields for event, fields in ctx.extra_metrics["events"] if event == "extract.plan")


@pytest.mark.parametrize("consistency", ["snapshot", "partition"])
def test_partitioned_read_returns_every_row_once_with_the_same_values(consistency, my, my_connection):
    _load_numbers(my)
    _, plain = _extract(my_connection, {"table": "part_src"})
    ctx, parted = _extract(my_connection, {"table": "part_src", "partitions": 4, "consistency": consistency,
                                           "filter": "id > 30", "batch_size": 1000})
    assert sorted(parted) == [r for r in sorted(plain) if int(r[0]) > 30]
    plan = _plan(ctx)
    assert plan["partitions"] == 4 and plan["key"] == "id" and plan["consistency"] == consistency
    assert ctx.rows_read == len(parted)


def test_partitioned_read_keeps_every_mysql_type(my, pg, my_connection, pg_connection, pg_schema):
    _load_mysql_source(my)
    _, plain = _extract(my_connection, {"table": "alltypes"})
    extract = make_ctx("pull", "mysql.extractor", {"table": "alltypes", "partitions": 3, "batch_size": 100}, my_connection)
    batches, parted = _rows(MySQLExtractor(extract).run({}))
    assert _plan(extract)["partitions"] >= 2
    assert_same_rows(sorted(parted, key=lambda r: r[0]), plain)
    pg.execute("DROP TABLE IF EXISTS alltypes_part")
    write = make_ctx("push", "supabase.writer", {"table": "alltypes_part", "schema": pg_schema, "create_if_missing": True,
                                                  "primary_key": "id", "write_mode": "append"}, pg_connection)
    SupabaseWriter(write).run({"pull": iter(batches)})
    back = make_ctx("read", "supabase.extractor", {"table": "alltypes_part", "schema": pg_schema, "order": "id"}, pg_connection)
    _, pg_rows = _rows(SupabaseExtractor(back).run({}))
    assert_same_rows(pg_rows, plain)


@pytest.mark.parametrize("consistency", ["snapshot", "partition"])
def test_rows_changed_after_the_read_began_are_not_seen(consistency, my, my_connection):
    _load_numbers(my)
    ctx = make_ctx("pull", "mysql.extractor", {"table": "part_src", "partitions": 4, "consistency": consistency,
                                               "batch_size": 500}, my_connection)
    stream = MySQLExtractor(ctx).run({})
    first = next(stream)  # every partition's snapshot is open now
    with my.cursor() as cur:
        cur.execute("DELETE FROM part_src WHERE id % 2 = 0")  # in every range
        cur.execute("UPDATE part_src SET val = 'changed'")
    rows = [tuple(r) for r in first.rows] + [tuple(r) for b in stream for r in b.rows]
    assert len(rows) == ROWS and not any(r[1] == "changed" for r in rows)


def test_snapshot_lock_is_released_before_rows_flow(my, my_connection):
    _load_numbers(my)
    ctx = make_ctx("pull", "mysql.extractor", {"table": "part_src", "partitions": 2, "batch_size": 500}, my_connection)
    stream = MySQLExtractor(ctx).run({})
    next(stream)
    with my.cursor() as cur:
        cur.execute("SET SESSION lock_wait_timeout = 2")
        cur.execute("INSERT INTO part_src VALUES (-1, 'during', 1)")  # would time out if the table were still locked
    stream.close()


def test_a_table_without_an_integer_key_is_read_whole_and_the_plan_says_why(my, my_connection):
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS part_text")
        cur.execute("CREATE TABLE part_text (code VARCHAR(10) PRIMARY KEY, n INT)")
        cur.execute("INSERT INTO part_text VALUES ('a', 1), ('b', 2)")
    ctx, rows = _extract(my_connection, {"table": "part_text", "partitions": "auto"})
    assert sorted(rows) == [("a", "1"), ("b", "2")] or len(rows) == 2
    assert _plan(ctx)["partitions"] == 1 and "integer primary key" in _plan(ctx)["reason"]


def test_a_killed_partition_fails_the_step_and_the_target_stays_unchanged(my, pg, my_connection, pg_connection, pg_schema):
    _load_numbers(my)
    pg.execute("DROP TABLE IF EXISTS part_target")
    pg.execute("CREATE TABLE part_target (id bigint PRIMARY KEY, val varchar(40), n integer)")
    pg.execute("INSERT INTO part_target VALUES (1, 'old', 1)")
    ctx = make_ctx("pull", "mysql.extractor", {"table": "part_src", "partitions": 3, "batch_size": 500}, my_connection)

    def killing(stream):
        for i, batch in enumerate(stream):
            if i == 3:  # one reader's connection dies mid-read (the readers connected last, after the step's own)
                with my.cursor() as cur:
                    cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()")
                    readers = sorted(r[0] for r in cur.fetchall())[-3:]
                    assert len(readers) == 3
                    cur.execute(f"KILL {readers[1]}")
            yield batch

    for mode in ("append", "replace", "upsert"):
        write = make_ctx("push", "supabase.writer", {"table": "part_target", "schema": pg_schema, "write_mode": mode,
                                                      "primary_key": "id"}, pg_connection)
        stream = MySQLExtractor(ctx).run({})
        try:
            with pytest.raises(RunFailed):
                SupabaseWriter(write).run({"pull": killing(stream)})
        finally:
            stream.close()
        assert pg.execute("SELECT id, val, n FROM part_target").fetchall() == [(1, "old", 1)]


# -- the writer loads partitions concurrently --------------------------------------------------
def _stages_left(pg: Any, pg_schema: str) -> list[str]:
    return [r[0] for r in pg.execute("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                     "WHERE n.nspname = %s AND (relname LIKE 'osiris_stage%%' OR relname LIKE 'osiris_new%%')",
                                     (pg_schema,)).fetchall()]


@pytest.mark.parametrize("mode", ["append", "upsert", "replace"])
def test_partitions_are_loaded_on_their_own_connections_and_land_once(mode, my, pg, my_connection, pg_connection, pg_schema):
    _load_numbers(my)
    pg.execute("DROP TABLE IF EXISTS part_loaded")
    pg.execute("CREATE TABLE part_loaded (id bigint PRIMARY KEY, val varchar(40), n integer)")
    if mode != "append":  # upsert and replace meet existing rows: one changed, one unchanged, one gone
        pg.execute("INSERT INTO part_loaded VALUES (3, 'stale', 1), (6, 'v2', 2), (-5, 'gone', 0)")
    read = make_ctx("pull", "mysql.extractor", {"table": "part_src", "partitions": 3, "batch_size": 1000}, my_connection)
    write = make_ctx("push", "supabase.writer", {"table": "part_loaded", "schema": pg_schema, "write_mode": mode,
                                                  "primary_key": "id"}, pg_connection)
    SupabaseWriter(write).run({"pull": MySQLExtractor(read).run({})})
    with my.cursor() as cur:
        cur.execute("SELECT id, val, n FROM part_src ORDER BY id")
        expected = [tuple(r) for r in cur.fetchall()]
    if mode == "upsert":
        expected = [(-5, "gone", 0), *expected]
    assert pg.execute("SELECT id, val, n FROM part_loaded ORDER BY id").fetchall() == expected
    events = write.extra_metrics["events"]
    stages = sorted(f["partition"] for e, f in events if e == "write.stage")
    straight = sorted(f["partition"] for e, f in events if e == "write.partition")
    if mode == "replace":  # a swap: partitions 1.. COPY straight into the committed new table, no stage
        assert [f["strategy"] for e, f in events if e == "write.replace"] == ["swap"]
        assert (stages, straight) == ([], [1, 2])  # each row written once
    else:
        assert (stages, straight) == ([1, 2], [])
    assert write.rows_written == ROWS
    assert _stages_left(pg, pg_schema) == []


@pytest.mark.parametrize("mode", ["append", "upsert", "replace"])
def test_a_failing_partition_load_leaves_the_target_unchanged_and_no_stage(mode, my, pg, my_connection, pg_connection, pg_schema):
    _load_numbers(my)
    pg.execute("DROP TABLE IF EXISTS part_narrow")
    # 'v10000' and longer do not fit: only the upper key ranges (partitions 1 and 2) hold such rows.
    pg.execute("CREATE TABLE part_narrow (id bigint PRIMARY KEY, val varchar(5), n integer)")
    pg.execute("INSERT INTO part_narrow VALUES (1, 'old', 1)")
    read = make_ctx("pull", "mysql.extractor", {"table": "part_src", "partitions": 3, "batch_size": 1000}, my_connection)
    write = make_ctx("push", "supabase.writer", {"table": "part_narrow", "schema": pg_schema, "write_mode": mode,
                                                  "primary_key": "id"}, pg_connection)
    with pytest.raises(RunFailed) as failure:
        SupabaseWriter(write).run({"pull": MySQLExtractor(read).run({})})
    assert "22001" in failure.value.message and "unchanged" in failure.value.message
    assert pg.execute("SELECT id, val, n FROM part_narrow").fetchall() == [(1, "old", 1)]
    assert _stages_left(pg, pg_schema) == [] and write.rows_written == 0
