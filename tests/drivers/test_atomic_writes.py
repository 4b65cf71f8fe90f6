"""Nothing lost: a failed write leaves the target exactly as it was, in every write mode.

Failures are real: the writer's database connection is killed from another connection mid-load
(`pg_terminate_backend` / MySQL `KILL`), or a bad row arrives late in the stream. A re-run then
completes and its result equals a clean run's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pymysql
import pytest

from osiris_runtime.drivers.mysql import MySQLWriter
from osiris_runtime.drivers.supabase import SupabaseWriter
from osiris_runtime.errors import RunFailed
from osiris_runtime.runner.batches import Batch, Column, Schema

from .conftest import make_ctx

pytestmark = pytest.mark.integration

SCHEMA = Schema((Column("id", "int32", False, "int"), Column("val", "string", True, "varchar(40)"), Column("n", "int32", True, "int")))
MODES = ["append", "replace", "upsert"]
BATCH, BATCHES = 500, 8  # 4,000 incoming rows


def incoming(mode: str, on_batch: Callable[[int], None] = lambda i: None, bad_row_at: int | None = None) -> Iterator[Batch]:
    start = 101 if mode == "append" else 51  # upsert and replace meet 50 existing keys
    for i in range(BATCHES):
        on_batch(i)
        rows: list[tuple[Any, ...]] = [(start + i * BATCH + k, f"new-{i}-{k}", k) for k in range(BATCH)]
        if bad_row_at == i:
            rows[-1] = (rows[-1][0], "bad", "not a number")
        yield Batch(SCHEMA, rows)


def _pg_setup(pg: Any, table: str) -> None:
    pg.execute(f"DROP TABLE IF EXISTS {table}")
    pg.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, val varchar(40), n integer)")
    pg.execute(f"INSERT INTO {table} SELECT g, 'old-' || g, g FROM generate_series(1, 100) g")


def _pg_snapshot(pg: Any, table: str) -> list[tuple[Any, ...]]:
    return pg.execute(f"SELECT id, val, n FROM {table} ORDER BY id").fetchall()


def _pg_writer(pg_connection: dict[str, Any], schema: str, table: str, mode: str, step: str) -> Any:
    config = {"table": table, "schema": schema, "write_mode": mode, "primary_key": "id"}
    return make_ctx(step, "supabase.writer", config, pg_connection)


def _pg_kill(pg: Any, step: str) -> Callable[[int], None]:
    def on_batch(i: int) -> None:
        if i == 5:
            killed = pg.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", (f"osiris:{step}",)
            ).fetchone()[0]
            assert killed == 1

    return on_batch


def _pg_clean_result(pg: Any, pg_connection: dict[str, Any], schema: str, mode: str) -> list[tuple[Any, ...]]:
    _pg_setup(pg, "atom_clean")
    SupabaseWriter(_pg_writer(pg_connection, schema, "atom_clean", mode, f"clean-{mode}")).run({"up": incoming(mode)})
    return _pg_snapshot(pg, "atom_clean")


@pytest.mark.parametrize("mode", MODES)
def test_postgres_target_unchanged_when_connection_is_killed_mid_load(mode, pg, pg_connection, pg_schema):
    _pg_setup(pg, "atom_target")
    before = _pg_snapshot(pg, "atom_target")
    step = f"kill-{mode}"
    ctx = _pg_writer(pg_connection, pg_schema, "atom_target", mode, step)
    with pytest.raises(RunFailed) as failure:
        SupabaseWriter(ctx).run({"up": incoming(mode, on_batch=_pg_kill(pg, step))})
    assert failure.value.code in ("run.connection-lost", "run.database-error")
    assert "unchanged" in failure.value.message
    assert _pg_snapshot(pg, "atom_target") == before
    assert ctx.rows_written == 0

    rerun = _pg_writer(pg_connection, pg_schema, "atom_target", mode, f"rerun-{mode}")
    SupabaseWriter(rerun).run({"up": incoming(mode)})
    assert rerun.rows_written == BATCH * BATCHES
    assert _pg_snapshot(pg, "atom_target") == _pg_clean_result(pg, pg_connection, pg_schema, mode)


@pytest.mark.parametrize("mode", MODES)
def test_postgres_target_unchanged_after_a_bad_row_late_in_the_stream(mode, pg, pg_connection, pg_schema):
    _pg_setup(pg, "atom_target")
    before = _pg_snapshot(pg, "atom_target")
    ctx = _pg_writer(pg_connection, pg_schema, "atom_target", mode, f"bad-{mode}")
    with pytest.raises(RunFailed) as failure:
        SupabaseWriter(ctx).run({"up": incoming(mode, bad_row_at=BATCHES - 1)})
    assert failure.value.code == "run.database-error" and "22P02" in failure.value.message
    assert _pg_snapshot(pg, "atom_target") == before

    SupabaseWriter(_pg_writer(pg_connection, pg_schema, "atom_target", mode, f"bad-rerun-{mode}")).run({"up": incoming(mode)})
    assert _pg_snapshot(pg, "atom_target") == _pg_clean_result(pg, pg_connection, pg_schema, mode)


def test_postgres_table_created_by_a_failed_run_does_not_remain(pg, pg_connection, pg_schema):
    pg.execute("DROP TABLE IF EXISTS atom_new")
    ctx = make_ctx("create-bad", "supabase.writer", {"table": "atom_new", "schema": pg_schema, "create_if_missing": True}, pg_connection)
    with pytest.raises(RunFailed):
        SupabaseWriter(ctx).run({"up": incoming("append", bad_row_at=3)})
    assert pg.execute("SELECT to_regclass('atom_new')").fetchone()[0] is None


def test_postgres_upsert_is_idempotent_and_writes_nothing_for_unchanged_rows(pg, pg_connection, pg_schema):
    _pg_setup(pg, "atom_target")
    first = _pg_writer(pg_connection, pg_schema, "atom_target", "upsert", "idem-1")
    SupabaseWriter(first).run({"up": incoming("upsert")})
    after_first = _pg_snapshot(pg, "atom_target")
    xmin_before = pg.execute("SELECT sum(xmin::text::bigint) FROM atom_target").fetchone()[0]

    second = _pg_writer(pg_connection, pg_schema, "atom_target", "upsert", "idem-2")
    SupabaseWriter(second).run({"up": incoming("upsert")})
    assert _pg_snapshot(pg, "atom_target") == after_first
    assert second.rows_written == BATCH * BATCHES
    assert second.extra_metrics["rows_changed"] == 0
    assert pg.execute("SELECT sum(xmin::text::bigint) FROM atom_target").fetchone()[0] == xmin_before  # no tuple rewritten


# --- MySQL as a target ---------------------------------------------------------------------------


def _my_setup(my: Any, table: str) -> None:
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, val VARCHAR(40), n INT) ENGINE=InnoDB")
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s)", [(i, f"old-{i}", i) for i in range(1, 101)])


def _my_snapshot(my: Any, table: str) -> list[tuple[Any, ...]]:
    with my.cursor() as cur:
        cur.execute(f"SELECT id, val, n FROM {table} ORDER BY id")
        return list(cur.fetchall())


def _my_tables(my: Any) -> set[str]:
    with my.cursor() as cur:
        cur.execute("SHOW TABLES")
        return {r[0] for r in cur.fetchall()}


def _my_writer(my_connection: dict[str, Any], table: str, mode: str) -> Any:
    return make_ctx(f"my-{mode}", "mysql.writer", {"table": table, "write_mode": mode, "primary_key": ["id"], "batch_size": 500}, my_connection)


def _my_kill(my: Any) -> Callable[[int], None]:
    def on_batch(i: int) -> None:
        if i == 5:
            with my.cursor() as cur:
                cur.execute(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()"
                )
                ids = [r[0] for r in cur.fetchall()]
                assert ids  # the writer's connection (a closing one from an earlier test may linger too)
                for thread_id in ids:
                    with contextlib.suppress(pymysql.MySQLError):  # "unknown thread": it ended meanwhile
                        cur.execute(f"KILL {int(thread_id)}")

    return on_batch


def _my_clean_result(my: Any, my_connection: dict[str, Any], mode: str) -> list[tuple[Any, ...]]:
    _my_setup(my, "atom_clean")
    MySQLWriter(_my_writer(my_connection, "atom_clean", mode)).run({"up": incoming(mode)})
    return _my_snapshot(my, "atom_clean")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("failure", ["killed", "bad-row"])
def test_mysql_target_unchanged_after_a_failed_run(mode, failure, my, my_connection):
    _my_setup(my, "atom_target")
    before, tables_before = _my_snapshot(my, "atom_target"), _my_tables(my)
    stream = incoming(mode, on_batch=_my_kill(my)) if failure == "killed" else incoming(mode, bad_row_at=BATCHES - 1)
    with pytest.raises(RunFailed):
        MySQLWriter(_my_writer(my_connection, "atom_target", mode)).run({"up": stream})
    assert _my_snapshot(my, "atom_target") == before
    if failure == "bad-row":
        assert _my_tables(my) == tables_before  # no staging table left behind

    rerun = _my_writer(my_connection, "atom_target", mode)
    MySQLWriter(rerun).run({"up": incoming(mode)})
    assert rerun.rows_written == BATCH * BATCHES
    assert _my_snapshot(my, "atom_target") == _my_clean_result(my, my_connection, mode)
    assert _my_tables(my) == tables_before | {"atom_clean"}


def test_mysql_upsert_is_idempotent(my, my_connection):
    _my_setup(my, "atom_target")
    MySQLWriter(_my_writer(my_connection, "atom_target", "upsert")).run({"up": incoming("upsert")})
    once = _my_snapshot(my, "atom_target")
    MySQLWriter(_my_writer(my_connection, "atom_target", "upsert")).run({"up": incoming("upsert")})
    assert _my_snapshot(my, "atom_target") == once


class UpstreamBroke(Exception):
    pass


def _failing_upstream(mode: str) -> Iterator[Batch]:
    for i, batch in enumerate(incoming(mode)):
        if i == 4:
            raise UpstreamBroke("the extractor lost its source")
        yield batch


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_upstream_step_leaves_both_targets_as_they_were(mode, pg, my, pg_connection, my_connection, pg_schema):
    _pg_setup(pg, "atom_target")
    _my_setup(my, "atom_target")
    pg.execute("DROP TABLE IF EXISTS atom_fresh")
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS atom_fresh")
    pg_before, my_before, my_tables = _pg_snapshot(pg, "atom_target"), _my_snapshot(my, "atom_target"), _my_tables(my)
    for table in ("atom_target", "atom_fresh"):
        config = {"table": table, "write_mode": mode, "primary_key": "id", "create_if_missing": True}
        with pytest.raises(UpstreamBroke):
            SupabaseWriter(make_ctx("pg-up", "supabase.writer", {**config, "schema": pg_schema}, pg_connection)).run({"up": _failing_upstream(mode)})
        with pytest.raises(UpstreamBroke):
            MySQLWriter(make_ctx("my-up", "mysql.writer", config, my_connection)).run({"up": _failing_upstream(mode)})
    assert _pg_snapshot(pg, "atom_target") == pg_before and _my_snapshot(my, "atom_target") == my_before
    assert pg.execute("SELECT to_regclass('atom_fresh')").fetchone()[0] is None
    assert _my_tables(my) == my_tables  # neither the new table nor a staging table remains


def test_postgres_to_postgres_passes_binary_copy_through_unless_types_differ(pg, pg_connection, pg_schema):
    from osiris_runtime.drivers.supabase import SupabaseExtractor

    _pg_setup(pg, "atom_target")
    for table, ddl in (("atom_same", "id integer PRIMARY KEY, val varchar(40), n integer"),
                       ("atom_wider", "id bigint PRIMARY KEY, val text, n numeric")):
        pg.execute(f"DROP TABLE IF EXISTS {table}")
        pg.execute(f"CREATE TABLE {table} ({ddl})")
        source = make_ctx("pull", "supabase.extractor", {"table": "atom_target", "schema": pg_schema}, pg_connection)
        writer = make_ctx("push", "supabase.writer", {"table": table, "schema": pg_schema}, pg_connection)
        SupabaseWriter(writer).run({"pull": SupabaseExtractor(source).run({})})
        formats = [f["format"] for e, f in writer.extra_metrics["events"] if e == "write.copy"]
        assert formats == ["binary pass-through" if table == "atom_same" else "text"]
        assert pg.execute(f"SELECT id, val, n::int FROM {table} ORDER BY id").fetchall() == _pg_snapshot(pg, "atom_target")
        assert source.rows_read == writer.rows_written == 100


def test_postgres_query_with_a_percent_sign_and_a_filtered_table_read(pg, pg_connection, pg_schema):
    from osiris_runtime.drivers.supabase import SupabaseExtractor

    _pg_setup(pg, "atom_target")
    query = make_ctx("q", "supabase.extractor", {"query": f"SELECT id FROM {pg_schema}.atom_target WHERE val LIKE 'old-1%' ORDER BY id"}, pg_connection)
    assert [r[0] for b in SupabaseExtractor(query).run({}) for r in b.rows] == [1] + list(range(10, 20)) + [100]
    filtered = make_ctx("f", "supabase.extractor", {"table": "atom_target", "schema": pg_schema, "filter": {"val": "like.old-9*", "n": "lt.95"},
                                                   "order": "id.desc", "limit": 3}, pg_connection)
    assert [r for b in SupabaseExtractor(filtered).run({}) for r in b.rows] == [(94, "old-94", 94), (93, "old-93", 93), (92, "old-92", 92)]


@pytest.mark.parametrize("client", ["default", "pymysql"])
def test_mysql_extract_stops_quickly_when_the_consumer_stops(client, monkeypatch, my, my_connection):
    import time

    from osiris_runtime.drivers.mysql import MySQLExtractor

    if client == "pymysql":
        monkeypatch.setenv("OSIRIS_MYSQL_DRIVER", "pymysql")
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS big_stream")
        cur.execute("CREATE TABLE big_stream (id INT PRIMARY KEY, pad VARCHAR(200))")
        cur.execute("SET SESSION max_recursive_iterations = 500000")
        cur.execute("INSERT INTO big_stream WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300000) "
                    "SELECT n, REPEAT('x', 200) FROM s")
    ctx = make_ctx("pull", "mysql.extractor", {"table": "big_stream", "batch_size": 1000}, my_connection)
    stream = MySQLExtractor(ctx).run({})
    assert len(next(stream)) == 1000
    started = time.perf_counter()
    stream.close()  # the downstream step failed or is done
    assert time.perf_counter() - started < 1.0
    assert ctx.rows_read == 1000


def test_postgres_upsert_with_a_repeated_key_fails_clearly_and_changes_nothing(pg, pg_connection, pg_schema):
    _pg_setup(pg, "atom_target")
    before = _pg_snapshot(pg, "atom_target")
    rows = [(7, "first", 1), (500, "new", 2), (500, "again", 3)]
    ctx = _pg_writer(pg_connection, pg_schema, "atom_target", "upsert", "dup-key")
    with pytest.raises(RunFailed) as failure:
        SupabaseWriter(ctx).run({"up": iter([Batch(SCHEMA, rows)])})
    assert "21000" in failure.value.message and "repeat a primary key" in (failure.value.fix or "")
    assert _pg_snapshot(pg, "atom_target") == before


def test_cancelling_mid_load_rolls_back(pg, pg_connection, pg_schema):
    _pg_setup(pg, "atom_target")
    before = _pg_snapshot(pg, "atom_target")
    ctx = _pg_writer(pg_connection, pg_schema, "atom_target", "append", "cancel-me")
    with pytest.raises(RunFailed) as failure:
        SupabaseWriter(ctx).run({"up": incoming("append", on_batch=lambda i: ctx.cancel_event.set() if i == 3 else None)})
    assert failure.value.code == "run.cancelled"
    assert _pg_snapshot(pg, "atom_target") == before


@pytest.mark.parametrize("which", ["postgres", "mysql"])
def test_an_unreachable_database_is_a_clear_connection_error(which, pg_connection, my_connection):
    if which == "postgres":
        ctx = make_ctx("w", "supabase.writer", {"table": "t"}, {**pg_connection, "port": 9, "password": "s3cret-canary"})
        writer: Any = SupabaseWriter(ctx)
    else:
        ctx = make_ctx("w", "mysql.writer", {"table": "t"}, {**my_connection, "port": 9, "password": "s3cret-canary"})
        writer = MySQLWriter(ctx)
    with pytest.raises(RunFailed) as failure:
        writer.run({"up": incoming("append")})
    assert failure.value.code == "run.connection-failed"
    assert "s3cret-canary" not in failure.value.message and failure.value.fix


def test_postgres_replace_of_a_table_referenced_by_a_foreign_key(pg, pg_connection, pg_schema):
    _pg_setup(pg, "atom_target")
    pg.execute("DROP TABLE IF EXISTS atom_child")
    pg.execute("CREATE TABLE atom_child (id int PRIMARY KEY, parent int REFERENCES atom_target (id))")
    # Nothing references a row yet: the replace works (DELETE instead of TRUNCATE).
    SupabaseWriter(_pg_writer(pg_connection, pg_schema, "atom_target", "replace", "fk-1")).run({"up": incoming("replace")})
    assert _pg_snapshot(pg, "atom_target")[0][0] == 51
    # A referenced key that comes back keeps its row (and its child); one that would be orphaned
    # fails the replace, which changes nothing.
    pg.execute("INSERT INTO atom_child VALUES (1, 51)")
    SupabaseWriter(_pg_writer(pg_connection, pg_schema, "atom_target", "replace", "fk-kept")).run({"up": incoming("replace")})
    pg.execute("INSERT INTO atom_target VALUES (9999, 'extra', 0)")
    pg.execute("INSERT INTO atom_child VALUES (2, 9999)")
    before = _pg_snapshot(pg, "atom_target")
    with pytest.raises(RunFailed) as failure:
        SupabaseWriter(_pg_writer(pg_connection, pg_schema, "atom_target", "replace", "fk-2")).run({"up": incoming("replace")})
    assert "23503" in failure.value.message
    assert _pg_snapshot(pg, "atom_target") == before
    pg.execute("DROP TABLE atom_child")
