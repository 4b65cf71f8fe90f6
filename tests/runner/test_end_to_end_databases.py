"""`osiris run` across the real MariaDB and PostgreSQL: drivers found through the registry's specs,
connections resolved at run time from osiris_connections.yaml + a secrets file."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pymysql
import pytest
from conftest import osiris

pytestmark = pytest.mark.integration

TABLE = "runner_e2e_orders"

CONNECTIONS = """\
connections:
  mysql:
    shop:
      default: true
      host: 127.0.0.1
      port: ${RUNNER_E2E_MYSQL_PORT}
      database: test
      user: root
      password: ${RUNNER_E2E_MYSQL_PASSWORD:-}
  supabase:
    warehouse:
      default: true
      url: https://example.supabase.co
      key: ${RUNNER_E2E_SUPABASE_KEY:-not-used-with-a-dsn}
      dsn: ${RUNNER_E2E_DB_URL}
"""

PIPELINE = f"""\
oml_version: "0.1.0"
name: e2e-orders
steps:
  - id: pull-orders
    component: mysql.extractor
    mode: read
    needs: []
    config: {{connection: "@mysql.shop", table: {TABLE}}}
  - id: big-spenders
    component: duckdb.processor
    mode: transform
    needs: [pull-orders]
    config:
      query: SELECT id, customer, amount FROM "pull-orders" WHERE amount > 10 ORDER BY id
  - id: push-orders
    component: supabase.writer
    mode: write
    needs: [big-spenders]
    config: {{connection: "@supabase.warehouse", table: {TABLE}, write_mode: upsert, primary_key: id,
              create_if_missing: true}}
  - id: also-csv
    component: filesystem.csv_writer
    mode: write
    needs: [pull-orders]
    config: {{path: out/orders.csv}}
"""


@pytest.fixture
def databases():
    my = pymysql.connect(host="127.0.0.1", user="root", password="", database="test", autocommit=True)
    pg = psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True)
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cur.execute(f"CREATE TABLE {TABLE} (id INT PRIMARY KEY, customer VARCHAR(50), amount DECIMAL(10,2))")
        cur.execute(f"INSERT INTO {TABLE} VALUES (1,'ada',10.50),(2,'linus',99.99),(3,'grace',5.00),(4,'ken',12.00)")
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    yield my, pg
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    my.close()
    pg.close()


def workspace(tmp_path: Path) -> Path:
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    (tmp_path / "secrets.yaml").write_text("RUNNER_E2E_DB_URL: postgresql://postgres@127.0.0.1:5432/test\n"
                                            "RUNNER_E2E_MYSQL_PORT: '3306'\n")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    return tmp_path / "pipeline.yaml"


def test_mysql_to_duckdb_to_postgres_and_csv_in_one_run(databases, tmp_path: Path):
    _, pg = databases
    pipeline = workspace(tmp_path)
    result = osiris("run", str(pipeline), "--secrets-file", "secrets.yaml", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    steps = {s["step"]: s for s in summary["steps"]}
    assert steps["pull-orders"]["rows_read"] == 4
    assert steps["push-orders"]["rows_written"] == 3 and steps["also-csv"]["rows_written"] == 4
    rows = pg.execute(f"SELECT id, customer, amount::text FROM {TABLE} ORDER BY id").fetchall()
    assert rows == [(1, "ada", "10.50"), (2, "linus", "99.99"), (4, "ken", "12.00")]
    assert (tmp_path / "out" / "orders.csv").read_text().splitlines()[0] == "id,customer,amount"
    # pull-orders was read once although two steps consume it
    events = [json.loads(x) for x in (Path(summary["run_dir"]) / "events.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "step_start" and e["step"] == "pull-orders" for e in events) == 1

    again = osiris("run", str(pipeline), "--secrets-file", "secrets.yaml", cwd=tmp_path)  # upsert: idempotent
    assert again.returncode == 0, again.stderr
    assert pg.execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (3,)


def test_a_database_failure_exits_4_and_cancels_the_other_branch(databases, tmp_path: Path):
    pipeline = workspace(tmp_path)
    pipeline.write_text(PIPELINE.replace("table: runner_e2e_orders}", "table: no_such_table_e2e}", 1))
    result = osiris("run", str(pipeline), "--secrets-file", "secrets.yaml", "--json", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    summary = json.loads(result.stdout)
    assert summary["failed_step"] == "pull-orders"
    assert {s["step"]: s["status"] for s in summary["steps"]}["push-orders"] == "cancelled"
