"""A Postgres write whose connection is lost during COMMIT is reported as unknown, never "unchanged".

The loss is real: a loopback proxy in front of the real PostgreSQL or MariaDB
(tests/fakes/commit_drop_proxy.py) passes the COMMIT on and drops the server's answer (the server
has committed, the client cannot know), or drops the COMMIT itself (the server rolls back). Either
way the writer cannot tell, and says so with `run.commit-unknown`. A loss before the point of no
return (mid-load; a MySQL replace's staging commit) still says, truly, "unchanged".
"""

from __future__ import annotations

from typing import Any

import pytest

from osiris_runtime.drivers.mysql import MySQLWriter
from osiris_runtime.drivers.supabase import SupabaseWriter
from osiris_runtime.errors import RunFailed
from tests.fakes.commit_drop_proxy import CommitDropProxy

from .conftest import MY, PG, make_ctx
from .test_atomic_writes import (
    BATCHES, MODES, _my_clean_result, _my_setup, _my_snapshot, _my_tables, _pg_clean_result, _pg_setup, _pg_snapshot, incoming,
)

pytestmark = pytest.mark.integration


def _through(proxy: CommitDropProxy, schema: str, mode: str, step: str) -> Any:
    connection = {"url": "http://127.0.0.1:9", "key": "unused", **PG, "port": proxy.port, "sslmode": "disable"}
    config = {"table": "commit_lost", "schema": schema, "write_mode": mode, "primary_key": "id"}
    return make_ctx(step, "supabase.writer", config, connection)


@pytest.mark.parametrize("mode", MODES)
def test_a_commit_whose_answer_is_lost_is_reported_as_maybe_committed(mode, pg, pg_connection, pg_schema):
    _pg_setup(pg, "commit_lost")
    before = _pg_snapshot(pg, "commit_lost")
    with CommitDropProxy((PG["host"], PG["port"]), drop="after-commit") as proxy:
        ctx = _through(proxy, pg_schema, mode, f"lost-{mode}")
        with pytest.raises(RunFailed) as failure:
            SupabaseWriter(ctx).run({"up": incoming(mode)})
        assert proxy.committed.wait(5)
    assert failure.value.code == "run.commit-unknown"
    assert "unchanged" not in failure.value.message
    assert "may or may not have been committed" in failure.value.message
    assert "look at the target" in (failure.value.fix or "")
    assert ("twice" in failure.value.fix) == (mode == "append")
    # ... and that was the truth: the server did commit the whole write
    after = _pg_snapshot(pg, "commit_lost")
    assert after != before and after == _pg_clean_result(pg, pg_connection, pg_schema, mode)
    assert ctx.rows_written == 0  # not counted: the run does not know


def test_a_commit_dropped_on_the_way_is_not_claimed_unchanged_either(pg, pg_schema):
    _pg_setup(pg, "commit_lost")
    before = _pg_snapshot(pg, "commit_lost")
    with CommitDropProxy((PG["host"], PG["port"]), drop="before-commit") as proxy:
        with pytest.raises(RunFailed) as failure:
            SupabaseWriter(_through(proxy, pg_schema, "upsert", "dropped")).run({"up": incoming("upsert")})
        assert proxy.commits_seen == 1
    assert failure.value.code == "run.commit-unknown"
    assert _pg_snapshot(pg, "commit_lost") == before  # the server rolled back: "may not" was right too


def test_a_loss_before_commit_still_says_unchanged(pg, pg_schema):
    """Only the COMMIT is in doubt: a connection lost mid-load still rolls back, and says so."""
    _pg_setup(pg, "commit_lost")
    before = _pg_snapshot(pg, "commit_lost")
    with CommitDropProxy((PG["host"], PG["port"])) as proxy:
        ctx = _through(proxy, pg_schema, "append", "midload")

        def kill_at(i: int) -> None:
            if i == BATCHES // 2:
                pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'osiris:midload'")

        with pytest.raises(RunFailed) as failure:
            SupabaseWriter(ctx).run({"up": incoming("append", on_batch=kill_at)})
        assert proxy.commits_seen == 0
    assert failure.value.code in ("run.connection-lost", "run.database-error")
    assert "unchanged" in failure.value.message
    assert _pg_snapshot(pg, "commit_lost") == before


# --- MySQL / MariaDB -----------------------------------------------------------------------------


def _my_through(proxy: CommitDropProxy, my_connection: dict[str, Any], mode: str) -> Any:
    connection = {**my_connection, "port": proxy.port}
    config = {"table": "commit_lost", "write_mode": mode, "primary_key": ["id"], "batch_size": 500}
    return make_ctx(f"my-lost-{mode}", "mysql.writer", config, connection)


@pytest.fixture(params=["mysqlclient", "pymysql"])
def mysql_driver(request, monkeypatch) -> str:
    if request.param == "pymysql":
        monkeypatch.setenv("OSIRIS_MYSQL_DRIVER", "pymysql")
    return request.param


@pytest.mark.parametrize("mode,statement", [("append", b"COMMIT"), ("upsert", b"COMMIT"), ("replace", b"RENAME TABLE")])
def test_mysql_a_commit_whose_answer_is_lost_is_reported_as_maybe_committed(mode, statement, mysql_driver, my,
                                                                            my_connection):
    _my_setup(my, "commit_lost")
    before = _my_snapshot(my, "commit_lost")
    with CommitDropProxy((MY["host"], MY["port"]), protocol="mysql", statement=statement) as proxy:
        ctx = _my_through(proxy, my_connection, mode)
        with pytest.raises(RunFailed) as failure:
            MySQLWriter(ctx).run({"up": incoming(mode)})
        assert proxy.committed.wait(5)
    assert failure.value.code == "run.commit-unknown", failure.value.message
    assert "unchanged" not in failure.value.message and "may or may not" in failure.value.message
    after = _my_snapshot(my, "commit_lost")
    assert not [t for t in _my_tables(my) if t.startswith("osiris_stage_")]  # nor the swapped-out old table
    assert after != before and after == _my_clean_result(my, my_connection, mode)  # it did commit
    assert ctx.rows_written == 0


def test_mysql_a_lost_staging_commit_of_a_replace_truly_leaves_the_target_unchanged(mysql_driver, my, my_connection):
    _my_setup(my, "commit_lost")
    before = _my_snapshot(my, "commit_lost")
    with CommitDropProxy((MY["host"], MY["port"]), protocol="mysql") as proxy:
        with pytest.raises(RunFailed) as failure:
            MySQLWriter(_my_through(proxy, my_connection, "replace")).run({"up": incoming("replace")})
        assert proxy.commits_seen == 1
    assert failure.value.code == "run.connection-lost" and "unchanged" in failure.value.message
    assert _my_snapshot(my, "commit_lost") == before


def test_mysql_a_table_created_by_a_run_whose_commit_is_in_doubt_is_kept(my, my_connection):
    """Its rows may be committed: dropping it, as a failed run's own table is dropped, could lose them."""
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS commit_lost")
    with CommitDropProxy((MY["host"], MY["port"]), protocol="mysql") as proxy:
        ctx = _my_through(proxy, my_connection, "append")
        ctx.config["create_if_missing"] = True
        with pytest.raises(RunFailed) as failure:
            MySQLWriter(ctx).run({"up": incoming("append")})
        assert proxy.committed.wait(5)
    assert failure.value.code == "run.commit-unknown"
    assert len(_my_snapshot(my, "commit_lost")) == BATCHES * 500  # kept, with the committed rows
