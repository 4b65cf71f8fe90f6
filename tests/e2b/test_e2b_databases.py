"""MySQL -> Supabase (direct Postgres) through the e2b engine, over the real databases, with canary
secrets: they reach the sandbox only as environment variables of the one command that runs the
pipeline, and nowhere else (no uploaded file, no command line, no event, no log, no artifact)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pymysql
import pytest
from e2b_helpers import osiris_run, summary_of

pytestmark = pytest.mark.integration

TABLE = "i12_e2b_orders"
MYSQL_USER = "i12_e2b_canary"
CANARIES = {
    "I12_MYSQL_PASSWORD": "mysql-canary-Zq81xK",
    "I12_DB_URL": "postgresql://postgres:pg-canary-Yw27hQ@127.0.0.1:5432/test",
    "I12_SUPABASE_KEY": "supabase-canary-Vt55nB",
    "I12_UNUSED_PASSWORD": "unused-canary-Rk09pL",
}
HOST_ONLY = {"E2B_API_KEY": "e2b_host-canary-Jm44aS", "I12_HOST_SECRET": "host-canary-Pd63uE"}
SECRET_VALUES = [*CANARIES.values(), "pg-canary-Yw27hQ", *HOST_ONLY.values()]

CONNECTIONS = """\
connections:
  mysql:
    shop:
      default: true
      host: 127.0.0.1
      port: ${I12_MYSQL_PORT:-3306}
      database: test
      user: i12_e2b_canary
      password: ${I12_MYSQL_PASSWORD}
    unused:
      host: 127.0.0.1
      database: test
      user: nobody
      password: ${I12_UNUSED_PASSWORD}
  supabase:
    warehouse:
      default: true
      url: https://example.supabase.co
      key: ${I12_SUPABASE_KEY}
      dsn: ${I12_DB_URL}
"""

PIPELINE = f"""\
oml_version: "0.1.0"
name: i12-orders-to-warehouse
steps:
  - id: pull-orders
    component: mysql.extractor
    mode: read
    needs: []
    config: {{connection: "@mysql.shop", table: {TABLE}}}
  - id: push-orders
    component: supabase.writer
    mode: write
    needs: [pull-orders]
    config: {{connection: "@supabase.warehouse", table: {TABLE}, write_mode: upsert, primary_key: id,
              create_if_missing: true}}
  - id: keep-csv
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
        cur.execute(f"INSERT INTO {TABLE} VALUES (1,'ada',10.50),(2,'linus',99.99),(3,'grace',5.00)")
        cur.execute(f"DROP USER IF EXISTS '{MYSQL_USER}'@'%'")
        cur.execute(f"CREATE USER '{MYSQL_USER}'@'%' IDENTIFIED BY '{CANARIES['I12_MYSQL_PASSWORD']}'")
        cur.execute(f"GRANT SELECT ON test.{TABLE} TO '{MYSQL_USER}'@'%'")
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    yield my, pg
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cur.execute(f"DROP USER IF EXISTS '{MYSQL_USER}'@'%'")
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    my.close()
    pg.close()


def test_mysql_to_supabase_in_the_sandbox_with_secrets_only_in_the_run_command_env(databases, sandbox, tmp_path):
    _, pg = databases
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    (tmp_path / ".env.local").write_text("".join(f"{k}={v}\n" for k, v in CANARIES.items()))
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    result = osiris_run("pipeline.yaml", "--engine", "e2b", "--secrets-file", ".env.local", "--json",
                        cwd=tmp_path, env=HOST_ONLY)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(result)
    steps = {s["step"]: s for s in summary["steps"]}
    assert steps["pull-orders"]["rows_read"] == 3 and steps["push-orders"]["rows_written"] == 3
    rows = pg.execute(f"SELECT id, customer, amount::text FROM {TABLE} ORDER BY id").fetchall()
    assert rows == [(1, "ada", "10.50"), (2, "linus", "99.99"), (3, "grace", "5.00")]
    assert (tmp_path / "out" / "orders.csv").read_text().splitlines()[0] == "id,customer,amount"

    # The connections file went up exactly as written: placeholders, never values.
    received = dict(sandbox.received_bytes())
    uploaded_connections = [d for p, d in sandbox.sandbox.uploads.items() if p.endswith("/osiris_connections.yaml")]
    assert uploaded_connections == [CONNECTIONS.encode()]
    # No canary in any file the sandbox received nor in any command line.
    for path, data in received.items():
        for secret in SECRET_VALUES:
            assert secret.encode() not in data, f"{secret} reached the sandbox in {path}"
    # Exactly the variables the used connections reference (the unset port keeps its fallback remotely).
    run = next(c for c in sandbox.sandbox.commands if "--stream-events" in c.cmd)
    assert run.envs == {k: CANARIES[k] for k in ("I12_MYSQL_PASSWORD", "I12_SUPABASE_KEY", "I12_DB_URL")}
    assert all(not c.envs for c in sandbox.sandbox.commands if c is not run)
    # Nothing the run left behind, locally or in the sandbox, and nothing it printed, holds a secret.
    local_files = [p for p in Path(summary["run_dir"]).rglob("*") if p.is_file()]
    sandbox_files = [p for p in sandbox.sandbox.home.rglob("*") if p.is_file()]
    for path in local_files + sandbox_files:
        text = path.read_bytes()
        for secret in SECRET_VALUES:
            assert secret.encode() not in text, f"{secret} in {path}"
    for secret in SECRET_VALUES:
        assert secret not in result.stdout and secret not in result.stderr
    status = json.loads((Path(summary["run_dir"]) / "status.json").read_text())
    assert status["engine"] == "e2b" and status["ok"] is True
