"""`osiris run` end to end over the REST path: the seed's three scenarios against the fake PostgREST.

Each test writes an OML file and an `osiris_connections.yaml` whose Supabase alias has only `url`
and `key` (so the Supabase driver takes the REST path), runs the real CLI in a subprocess, and
compares the tables in the real PostgreSQL (and MariaDB for the MySQL source).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pymysql
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OSIRIS = str(Path(sys.executable).with_name("osiris"))
CONNECTIONS = """\
connections:
  supabase:
    rest:
      url: ${REST_URL}
      key: ${REST_KEY}
  mysql:
    shop:
      host: 127.0.0.1
      port: 3306
      user: root
      password: ""
      database: test
"""


def _pipeline(name: str, source: str, target: str, *, component: str = "supabase.extractor",
              connection: str = "@supabase.rest", writer: str = "") -> str:
    return f"""\
oml_version: "0.1.0"
name: {name}
steps:
  - id: pull
    component: {component}
    mode: read
    config:
      connection: "{connection}"
      table: {source}
  - id: push
    component: supabase.writer
    mode: write
    needs: [pull]
    config:
      connection: "@supabase.rest"
      table: {target}
{writer}"""


def _run(tmp_path: Path, server, key: str, pipeline: str, label: str) -> tuple[subprocess.CompletedProcess, Path]:
    work = tmp_path / label
    work.mkdir()
    (work / "osiris_connections.yaml").write_text(CONNECTIONS)
    (work / "pipeline.yaml").write_text(pipeline)
    run_dir = work / "run"
    env = {**os.environ, "REST_URL": server.url, "REST_KEY": key}
    result = subprocess.run(
        [OSIRIS, "run", "pipeline.yaml", "--connections", "osiris_connections.yaml", "--out", str(run_dir), "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=240,
    )
    texts = [result.stdout, result.stderr] + [p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file()]
    assert not [t for t in texts if key in t], "the REST key leaked into the output or the run directory"
    return result, run_dir


def _summary(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _step(summary: dict, step: str) -> dict:
    return next(s for s in summary["steps"] if s["step"] == step)


def _events(run_dir: Path, event: str) -> list[dict]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == event]


def _same_rows(pg, a: str, b: str) -> bool:
    diff = pg.execute(f'SELECT count(*) FROM ((TABLE "{a}" EXCEPT ALL TABLE "{b}") UNION ALL (TABLE "{b}" EXCEPT ALL TABLE "{a}")) d')
    return diff.fetchone()[0] == 0


ORDERS_DDL = """(id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(14,4), paid boolean, placed_at timestamptz,
                 day date, note varchar(40), payload jsonb, raw bytea)"""


def _orders(pg, name: str, rows: int, *, first: int = 1, suffix: str = "") -> None:
    pg.execute(f'CREATE TABLE IF NOT EXISTS "{name}" {ORDERS_DDL}')
    pg.execute(
        f"""INSERT INTO "{name}" SELECT g, 'customer ' || (g %% 97) || %s, round((g * 1.2345)::numeric, 4), g %% 2 = 0,
               timestamptz '2024-01-01 00:00:00+00' + g * interval '17 minutes 3.25 seconds', date '2024-01-01' + g %% 400,
               CASE WHEN g %% 5 = 0 THEN NULL ELSE 'note ✓ 🚀 ' || g END, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)),
               decode(lpad(to_hex(g), 8, '0'), 'hex')
             FROM generate_series(%s::int, %s::int) g""",
        (suffix, first, first + rows - 1),
    )


@pytest.fixture
def tables(pg):
    made: list[str] = []

    def make(label: str) -> str:
        made.append(f"rest_e2e_{label}_{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield make
    for name in made:
        pg.execute(f'DROP TABLE IF EXISTS "{name}"')


def test_supabase_to_supabase_append(server, fake, pg, tables, api_key, tmp_path):
    source, target = tables("src"), tables("dst")
    _orders(pg, source, 2600)
    pg.execute(f'CREATE TABLE "{target}" {ORDERS_DDL}')
    server.inject(fake.Fault(status=503, method="POST"))  # one transient failure on the way

    result, run_dir = _run(tmp_path, server, api_key, _pipeline("rest-append", source, target), "append")

    summary = _summary(result)
    assert _step(summary, "pull")["rows_read"] == _step(summary, "push")["rows_written"] == 2600
    assert _same_rows(pg, source, target)
    assert [e["path"] for e in _events(run_dir, "supabase.path")] == ["rest", "rest"]
    assert len(_events(run_dir, "rest.retry")) == 1


def test_supabase_to_supabase_upsert_merges_and_is_idempotent(server, pg, tables, api_key, tmp_path):
    source, target = tables("src"), tables("dst")
    _orders(pg, source, 1200)
    _orders(pg, target, 1000, first=701, suffix=" (stale)")  # 701..1200 overlap, 1201..1700 only in the target
    pipeline = _pipeline("rest-upsert", source, target, writer="      write_mode: upsert\n      primary_key: id\n")

    first, _ = _run(tmp_path, server, api_key, pipeline, "upsert-1")
    snapshot = pg.execute(f'SELECT * FROM "{target}" ORDER BY id').fetchall()
    second, _ = _run(tmp_path, server, api_key, pipeline, "upsert-2")

    for result in (first, second):
        assert _step(_summary(result), "push")["rows_written"] == 1200
    assert pg.execute(f'SELECT * FROM "{target}" ORDER BY id').fetchall() == snapshot  # idempotent
    assert pg.execute(f'SELECT count(*) FROM "{target}"').fetchone()[0] == 1700
    assert pg.execute(
        f'SELECT count(*) FROM "{target}" t JOIN "{source}" s USING (id) WHERE (t.*)::text = (s.*)::text'
    ).fetchone()[0] == 1200  # every source row landed as is, the stale ones were updated
    assert pg.execute(f"SELECT count(*) FROM \"{target}\" WHERE customer LIKE '%(stale)'").fetchone()[0] == 500


@pytest.fixture
def mysql():
    try:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test", autocommit=True)
    except pymysql.err.OperationalError as exc:
        pytest.fail(f"MariaDB at 127.0.0.1:3306 is required: {exc}")
    with conn:
        yield conn


def test_mysql_to_supabase(server, pg, mysql, tables, api_key, tmp_path):
    source, target = tables("mysql"), tables("dst")
    with mysql.cursor() as cur:
        cur.execute(
            f"""CREATE TABLE `{source}` (id INT PRIMARY KEY, big BIGINT UNSIGNED, price DECIMAL(20,6), ratio DOUBLE,
                name VARCHAR(50) CHARACTER SET utf8mb4, born DATE, seen DATETIME(6), doc JSON, raw BLOB, flag TINYINT(1))"""
        )
        cur.executemany(
            f"INSERT INTO `{source}` VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(i, 18446744073709551615 - i, Decimal(f"{i}.123456"), i / 3, f"name {i} 🚀", f"2000-01-{i % 28 + 1:02d}",
              f"2024-05-06 07:08:09.{i:06d}", json.dumps({"i": i}), bytes([i % 256, 0, 255]), i % 2)
             for i in range(1, 1501)]
            + [(1501, None, None, None, None, None, None, None, None, None)],
        )
    pg.execute(
        f"""CREATE TABLE "{target}" (id int PRIMARY KEY, big numeric(20,0), price numeric(20,6), ratio double precision,
            name varchar(50), born date, seen timestamp(6), doc jsonb, raw bytea, flag boolean)"""
    )
    try:
        result, _ = _run(tmp_path, server, api_key,
                         _pipeline("mysql-to-rest", source, target, component="mysql.extractor", connection="@mysql.shop"),
                         "mysql")
        summary = _summary(result)
    finally:
        with mysql.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS `{source}`")

    assert _step(summary, "pull")["rows_read"] == _step(summary, "push")["rows_written"] == 1501
    rows = pg.execute(f'SELECT * FROM "{target}" ORDER BY id').fetchall()
    assert rows[0] == (1, Decimal(18446744073709551614), Decimal("1.123456"), 1 / 3, "name 1 🚀",
                       __import__("datetime").date(2000, 1, 2),
                       __import__("datetime").datetime(2024, 5, 6, 7, 8, 9, 1), {"i": 1}, bytes([1, 0, 255]), True)
    assert rows[-1] == (1501,) + (None,) * 9
    assert len(rows) == 1501


def test_create_if_missing_over_rest_only_is_a_clear_error(server, pg, tables, api_key, tmp_path):
    source, target = tables("src"), tables("never")
    _orders(pg, source, 10)
    pipeline = _pipeline("rest-create", source, target, writer="      create_if_missing: true\n")

    result, _ = _run(tmp_path, server, api_key, pipeline, "create")

    assert result.returncode == 4  # validation warned; the run stops before writing
    assert "direct" in (result.stdout + result.stderr).lower()
    assert f'CREATE TABLE "public"."{target}" (' in result.stdout + result.stderr
    assert pg.execute("SELECT to_regclass(%s)", (target,)).fetchone()[0] is None


def test_a_wrong_key_fails_the_run_without_showing_any_key(server, pg, tables, api_key, tmp_path):
    source, target = tables("src"), tables("dst")
    _orders(pg, source, 10)
    pg.execute(f'CREATE TABLE "{target}" {ORDERS_DDL}')
    wrong = "sb_secret_" + "E2eWrongCanary" * 3

    result, run_dir = _run(tmp_path, server, wrong, _pipeline("rest-badkey", source, target), "badkey")

    assert result.returncode == 4
    assert "HTTP 401" in result.stdout + result.stderr
    assert api_key not in result.stdout + result.stderr
    assert pg.execute(f'SELECT count(*) FROM "{target}"').fetchone()[0] == 0
