"""Never run against something other than what the pipeline says: a step's allowed connection
fields are applied over the alias (one place: `with_step_overrides`), forbidden ones are
validation errors, with or without `connection:` (then the family default applies)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pymysql
import pytest
from conftest import osiris

pytestmark = pytest.mark.integration

TABLE = "i11_override_rows"
OTHER_DB = "i11_override_db"

CONNECTIONS = """\
connections:
  mysql:
    src:
      default: true
      host: no-such-host.invalid
      port: 1
      database: test
      user: root
      password: ""
  supabase:
    wh:
      default: true
      url: https://example.supabase.co
      key: not-used-with-a-dsn
      dsn: postgresql://postgres@127.0.0.1:5432/test
"""


def _pipeline(read_config: str, write_config: str) -> str:
    return f"""\
oml_version: "0.1.0"
name: overrides
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config: {{{read_config}}}
  - id: push
    component: supabase.writer
    mode: write
    needs: [pull]
    config: {{{write_config}}}
"""


@pytest.fixture
def databases():
    my = pymysql.connect(host="127.0.0.1", user="root", password="", database="test", autocommit=True)
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cur.execute(f"CREATE TABLE {TABLE} (id INT PRIMARY KEY, v VARCHAR(10))")
        cur.execute(f"INSERT INTO {TABLE} VALUES (1, 'a'), (2, 'b')")
    admin = psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True)
    if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (OTHER_DB,)).fetchone() is None:
        admin.execute(f"CREATE DATABASE {OTHER_DB}")
    other = psycopg.connect(f"host=127.0.0.1 user=postgres dbname={OTHER_DB}", autocommit=True)
    for pg in (admin, other):
        pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    yield admin, other
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
    for pg in (admin, other):
        pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
        pg.close()
    my.close()


@pytest.mark.parametrize("connection", ['connection: "@mysql.src", ', ""])
def test_allowed_overrides_are_the_connection_the_step_uses(databases, tmp_path: Path, connection: str):
    test_db, other_db = databases
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    (tmp_path / "p.yaml").write_text(_pipeline(
        f"{connection}host: 127.0.0.1, port: 3306, table: {TABLE}",  # the alias's host is unreachable
        f'connection: "@supabase.wh", database: {OTHER_DB}, table: {TABLE}, create_if_missing: true'))
    assert osiris("oml", "validate", "p.yaml", cwd=tmp_path).returncode == 0
    result = osiris("run", "p.yaml", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # Written where the step says (database i11_override_db), not into the alias's `test`.
    assert other_db.execute(f"SELECT id, v FROM {TABLE} ORDER BY id").fetchall() == [(1, "a"), (2, "b")]
    assert test_db.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone() == (None,)
    events = [json.loads(x) for x in (Path(json.loads(result.stdout)["run_dir"]) / "events.jsonl").read_text().splitlines()]
    resolved = {e["step"]: e for e in events if e["event"] == "connection_resolved"}
    assert resolved["pull"]["overridden"] == ["host", "port"] and resolved["push"]["overridden"] == ["database"]


@pytest.mark.parametrize("connection", ['connection: "@mysql.src", ', ""])
def test_a_forbidden_override_is_a_validation_error_with_or_without_connection(tmp_path: Path, connection: str):
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    (tmp_path / "p.yaml").write_text(_pipeline(f"{connection}database: otherdb, table: {TABLE}",
                                               f'connection: "@supabase.wh", table: {TABLE}'))
    for args in (("oml", "validate", "p.yaml"), ("run", "p.yaml")):
        result = osiris(*args, cwd=tmp_path)
        assert result.returncode == 2 and "connection.forbidden-override" in result.stdout + result.stderr
