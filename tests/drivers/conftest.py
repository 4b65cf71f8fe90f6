"""Fixtures for the driver tests: the real MariaDB and PostgreSQL of this machine.

Each test session works in its own Postgres schema and MySQL database (named after the process id),
so parallel runs of other test areas never collide, and drops them at the end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pymysql
import pytest

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.runner.batches import Batch

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}
NAMESPACE = f"h5drv_{os.getpid()}"


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    with psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=PG["database"], autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{NAMESPACE}" CASCADE')
        c.execute(f'CREATE SCHEMA "{NAMESPACE}"')
    yield NAMESPACE
    with psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=PG["database"], autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{NAMESPACE}" CASCADE')


@pytest.fixture(scope="session")
def my_database() -> Iterator[str]:
    c = pymysql.connect(host=MY["host"], port=MY["port"], user=MY["user"], password="", charset="utf8mb4", autocommit=True)
    with c.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{NAMESPACE}`")
        cur.execute(f"CREATE DATABASE `{NAMESPACE}` DEFAULT CHARACTER SET utf8mb4")
    yield NAMESPACE
    with c.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{NAMESPACE}`")
    c.close()


@pytest.fixture
def pg(pg_schema: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection for setting up and checking tables, with the test schema first."""
    with psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=PG["database"], autocommit=True) as c:
        c.execute(f'SET search_path = "{pg_schema}", public')
        yield c


@pytest.fixture
def my(my_database: str) -> Iterator[Any]:
    c = pymysql.connect(
        host=MY["host"], port=MY["port"], user=MY["user"], password="", database=my_database,
        charset="utf8mb4", autocommit=True, init_command="SET time_zone = '+00:00'",
    )
    yield c
    c.close()


@pytest.fixture
def pg_connection(pg_schema: str) -> dict[str, Any]:
    """A resolved Supabase/Postgres connection over the direct path."""
    return {"url": "http://127.0.0.1:9", "key": "unused", **PG}


@pytest.fixture
def my_connection(my_database: str) -> dict[str, Any]:
    return {**MY, "database": my_database}


def make_ctx(step_id: str, component: str, config: dict[str, Any], connection: dict[str, Any]) -> StepContext:
    events: list[tuple[str, dict[str, Any]]] = []
    ctx = StepContext(
        step_id=step_id,
        component=component,
        mode="write" if component.endswith("writer") else "extract",
        config=config,
        resolve_connection=lambda: dict(connection),
        emit=lambda event, **fields: events.append((event, fields)),
    )
    ctx.extra_metrics["events"] = events
    return ctx


@pytest.fixture
def ctx_factory() -> Callable[..., StepContext]:
    return make_ctx


def drain(batches: Iterator[Batch]) -> list[tuple[Any, ...]]:
    return [tuple(row) for batch in batches for row in batch.rows]


def run_on_thread(fn: Callable[[], Any]) -> threading.Thread:
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


# `OSIRIS_TEST_PARTITIONS=N` runs the driver tests with partitions on (the assertions unchanged):
# every Postgres writer's input is tagged as N partitions (round-robin by batch), so partitions 1..
# are loaded concurrently into stages, and MySQL table reads are split into N key ranges. Not split:
# the reads of the type round trips, which compare rows in read order (the order across partitions
# is not defined; test_partitioned_extract checks every type through a split read, sorted), the
# partitioned-read tests, which choose their partitions themselves, and the lost-COMMIT tests, whose
# proxy drops the first COMMIT it sees (with partitions that is a stage loader's, before the point of
# no return, rightly reported "unchanged"; the final COMMIT is the one they are about).
PARTITIONS = int(os.environ.get("OSIRIS_TEST_PARTITIONS") or 1)


def _tagged(batches: Iterator[Batch]) -> Iterator[Batch]:
    for i, batch in enumerate(batches):
        if batch.partition is None:
            batch.partition = i % PARTITIONS
        yield batch


@pytest.fixture(autouse=True)
def partitions_on(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    module = request.module.__name__
    if PARTITIONS < 2 or module.endswith(("test_partitioned_extract", "test_commit_lost")):
        return
    from osiris_runtime.drivers import mysql, postgres

    extract, write = mysql.MySQLExtractor.run, postgres.write

    def extract_partitioned(self: Any, inputs: Any) -> Any:
        if self.ctx.config.get("table") and "partitions" not in self.ctx.config:
            self.ctx.config = {**self.ctx.config, "partitions": PARTITIONS}
        return extract(self, inputs)

    if not module.endswith("test_type_roundtrip"):
        monkeypatch.setattr(mysql.MySQLExtractor, "run", extract_partitioned)
    monkeypatch.setattr(postgres, "write", lambda ctx, options, batches: write(ctx, options, _tagged(batches)))
