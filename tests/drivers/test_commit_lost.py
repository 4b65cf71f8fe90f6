"""A Postgres write whose connection is lost during COMMIT is reported as unknown, never "unchanged".

The loss is real: a loopback proxy in front of the real PostgreSQL (tests/fakes/pg_drop_proxy.py)
passes the COMMIT on and drops the server's answer (the server has committed, the client cannot
know), or drops the COMMIT itself (the server rolls back). Either way the writer cannot tell, and
says so with `run.commit-unknown`.
"""

from __future__ import annotations

from typing import Any

import pytest

from osiris_runtime.drivers.supabase import SupabaseWriter
from osiris_runtime.errors import RunFailed
from tests.fakes.pg_drop_proxy import PgDropProxy

from .conftest import PG, make_ctx
from .test_atomic_writes import BATCHES, MODES, _pg_clean_result, _pg_setup, _pg_snapshot, incoming

pytestmark = pytest.mark.integration


def _through(proxy: PgDropProxy, schema: str, mode: str, step: str) -> Any:
    connection = {"url": "http://127.0.0.1:9", "key": "unused", **PG, "port": proxy.port, "sslmode": "disable"}
    config = {"table": "commit_lost", "schema": schema, "write_mode": mode, "primary_key": "id"}
    return make_ctx(step, "supabase.writer", config, connection)


@pytest.mark.parametrize("mode", MODES)
def test_a_commit_whose_answer_is_lost_is_reported_as_maybe_committed(mode, pg, pg_connection, pg_schema):
    _pg_setup(pg, "commit_lost")
    before = _pg_snapshot(pg, "commit_lost")
    with PgDropProxy((PG["host"], PG["port"]), drop="after-commit") as proxy:
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
    with PgDropProxy((PG["host"], PG["port"]), drop="before-commit") as proxy:
        with pytest.raises(RunFailed) as failure:
            SupabaseWriter(_through(proxy, pg_schema, "upsert", "dropped")).run({"up": incoming("upsert")})
        assert proxy.commits_seen == 1
    assert failure.value.code == "run.commit-unknown"
    assert _pg_snapshot(pg, "commit_lost") == before  # the server rolled back: "may not" was right too


def test_a_loss_before_commit_still_says_unchanged(pg, pg_schema):
    """Only the COMMIT is in doubt: a connection lost mid-load still rolls back, and says so."""
    _pg_setup(pg, "commit_lost")
    before = _pg_snapshot(pg, "commit_lost")
    with PgDropProxy((PG["host"], PG["port"])) as proxy:
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
