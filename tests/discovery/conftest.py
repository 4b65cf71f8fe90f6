"""Fixtures for discovery: a real MariaDB database and a real PostgreSQL database of our own.

Both are named `i14_disc_<pid>` so parallel test runs never see each other's tables, and both
hold the shapes discovery must get right: a composite primary key, a unique key, a view, a
mixed-case and a quoted name with a space, a JSON column, and (Postgres) a table in a second
schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import psycopg
import pymysql
import pytest

NAME = f"i14_disc_{os.getpid()}"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"

MYSQL_SCHEMA = [
    "CREATE TABLE customers (id INT UNSIGNED PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(100),"
    " profile JSON)",
    "CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id INT UNSIGNED NOT NULL, total DECIMAL(12,2),"
    " placed_at DATETIME(6), status ENUM('new','paid'))",
    "CREATE TABLE order_items (order_id BIGINT NOT NULL, line_no SMALLINT NOT NULL, sku VARCHAR(40),"
    " qty INT, PRIMARY KEY (order_id, line_no))",
    "CREATE TABLE `MixedCase` (`Id` INT PRIMARY KEY, `DisplayName` TEXT)",
    "CREATE TABLE `odd name` (`the key` INT PRIMARY KEY, `back``tick` INT)",
    "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100",
    "INSERT INTO customers VALUES (1, 'a@x.io', 'Ann', '{\"vip\": true}'), (2, 'b@x.io', 'Bob', NULL)",
    "INSERT INTO orders VALUES (10, 1, 250.00, '2024-05-01 10:00:00', 'paid'), (11, 2, 20.50, NULL, 'new'),"
    " (12, 1, 99.99, '2024-05-03 08:30:00', 'new')",
    "ANALYZE TABLE orders",
]
PG_SCHEMA = [
    "CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, name text, profile jsonb)",
    "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer NOT NULL, total numeric(12,2),"
    " placed_at timestamptz, note text)",
    "CREATE TABLE order_items (order_id bigint NOT NULL, line_no smallint NOT NULL, sku varchar(40), qty integer,"
    " PRIMARY KEY (order_id, line_no))",
    'CREATE TABLE "MixedCase" ("Id" integer PRIMARY KEY, "DisplayName" text)',
    'CREATE TABLE "odd name" ("the key" integer PRIMARY KEY, "quo""te" integer)',
    "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100",
    "CREATE SCHEMA i14_other",
    "CREATE TABLE i14_other.audit_log (id bigserial PRIMARY KEY, happened_at timestamp NOT NULL, payload json)",
    "INSERT INTO customers VALUES (1, 'a@x.io', 'Ann', '{\"vip\": true}'), (2, 'b@x.io', 'Bob', NULL)",
    "INSERT INTO orders VALUES (10, 1, 250.00, '2024-05-01 10:00:00Z', 'first'), (11, 2, 20.50, NULL, NULL),"
    " (12, 1, 99.99, '2024-05-03 08:30:00Z', NULL)",
    "ANALYZE",
]


@pytest.fixture(scope="session")
def mysql_db() -> Iterator[str]:
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", charset="utf8mb4", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{NAME}`")
        cur.execute(f"CREATE DATABASE `{NAME}` DEFAULT CHARACTER SET utf8mb4")
        cur.execute(f"USE `{NAME}`")
        for statement in MYSQL_SCHEMA:
            cur.execute(statement)
    yield NAME
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{NAME}`")
    conn.close()


@pytest.fixture(scope="session")
def pg_db() -> Iterator[str]:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{NAME}"')
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={NAME}", autocommit=True) as conn:
        for statement in PG_SCHEMA:
            conn.execute(statement)
    yield NAME
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


def connections_yaml(mysql_db: str, pg_db: str, rest_url: str | None = None) -> str:
    text = f"""\
connections:
  mysql:
    shop:
      default: true
      host: 127.0.0.1
      port: 3306
      user: root
      password: ${{I14_MYSQL_PW:-}}
      database: {mysql_db}
    refused:
      host: 127.0.0.1
      port: 1
      user: root
      password: refused-canary-7a1c
      database: nothing
  supabase:
    warehouse:
      default: true
      dsn: postgresql://postgres@127.0.0.1:5432/{pg_db}
"""
    if rest_url:
        text += f"""\
    rest:
      url: {rest_url}
      key: ${{I14_REST_KEY}}
"""
    return text


def osiris(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("OSIRIS_CONNECTIONS", None)
    full_env.pop("OSIRIS_COMPONENTS_PATH", None)
    return subprocess.run([sys.executable, "-c", "from osiris_runtime.cli.main import main; main()", *args],
                          cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def workspace(tmp_path: Path, mysql_db: str, pg_db: str) -> Path:
    """A folder with an osiris_connections.yaml naming the test databases (and one refused alias)."""
    (tmp_path / "osiris_connections.yaml").write_text(connections_yaml(mysql_db, pg_db))
    return tmp_path


@pytest.fixture
def run_osiris():
    return osiris
