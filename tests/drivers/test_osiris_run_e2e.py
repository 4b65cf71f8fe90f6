"""The seed's scenarios end to end through `osiris run` over the direct path, on the real databases:
Supabase -> Supabase append and upsert, MySQL -> Supabase, and MySQL as a target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROWS = 2500


def osiris_run(tmp_path: Path, pipeline: str) -> tuple[int, dict[str, Any], str]:
    (tmp_path / "pipeline.yaml").write_text(pipeline)
    env = {k: v for k, v in os.environ.items() if k not in ("OSIRIS_CONNECTIONS", "OSIRIS_COMPONENTS_PATH")}
    done = subprocess.run(
        [sys.executable, "-c", "from osiris_runtime.cli.main import main; main()", "run", "--json", "pipeline.yaml"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )
    summary = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, summary, done.stderr


@pytest.fixture
def workdir(tmp_path: Path, pg_schema: str, my_database: str) -> Path:
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n"
        "  supabase:\n"
        "    main:\n"
        "      url: http://127.0.0.1:9\n"
        "      key: unused-over-the-direct-path\n"
        "      host: 127.0.0.1\n      port: 5432\n      database: test\n      user: postgres\n"
        "  mysql:\n"
        "    shop:\n"
        f"      host: 127.0.0.1\n      port: 3306\n      database: {my_database}\n      user: root\n      password: \"\"\n"
    )
    return tmp_path


def step(step_id: str, component: str, mode: str, needs: list[str] | None = None, **config: Any) -> str:
    lines = [f"  - id: {step_id}", f"    component: {component}", f"    mode: {mode}"]
    if needs is not None:
        lines.append(f"    needs: [{', '.join(needs)}]")
    lines.append("    config:")
    lines += [f"      {k}: {json.dumps(v)}" for k, v in config.items()]
    return "\n".join(lines) + "\n"


def pipeline(name: str, *steps: str) -> str:
    return f'oml_version: "0.1.0"\nname: {name}\nsteps:\n' + "".join(steps)


def _pg_source(pg: Any, table: str = "e2e_orders") -> None:
    pg.execute(f"DROP TABLE IF EXISTS {table}")
    pg.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2), "
               "placed_at timestamptz, tags jsonb)")
    pg.execute(f"INSERT INTO {table} SELECT g, 'customer ' || g || ' ✓', g * 1.25, "
               f"timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', jsonb_build_object('g', g) "
               f"FROM generate_series(1, {ROWS}) g")


def _pg_rows(pg: Any, table: str) -> list[tuple[Any, ...]]:
    return pg.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def _steps(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["step"]: s for s in summary["steps"]}


def test_supabase_to_supabase_append(workdir, pg, pg_schema):
    _pg_source(pg)
    pg.execute("DROP TABLE IF EXISTS e2e_orders_copy")
    code, summary, err = osiris_run(workdir, pipeline(
        "sb-append",
        step("pull", "supabase.extractor", "read", connection="@supabase.main", table="e2e_orders", schema=pg_schema),
        step("push", "supabase.writer", "write", ["pull"], connection="@supabase.main", table="e2e_orders_copy",
             schema=pg_schema, write_mode="append", create_if_missing=True, primary_key="id"),
    ))
    assert code == 0, err
    steps = _steps(summary)
    assert steps["pull"]["rows_read"] == ROWS and steps["push"]["rows_written"] == ROWS
    assert _pg_rows(pg, "e2e_orders_copy") == _pg_rows(pg, "e2e_orders")
    events = [json.loads(line) for line in (Path(summary["run_dir"]) / "events.jsonl").read_text().splitlines()]
    copies = [e for e in events if e["event"] == "write.copy"]
    assert [e.get("format") for e in copies] == ["binary pass-through"]  # the raw COPY bytes crossed the runner


def test_supabase_to_supabase_upsert_merges_and_is_idempotent(workdir, pg, pg_schema):
    _pg_source(pg)
    pg.execute("DROP TABLE IF EXISTS e2e_orders_merged")
    pg.execute("CREATE TABLE e2e_orders_merged (LIKE e2e_orders INCLUDING ALL)")
    # Half the keys exist already, some with stale values; one extra row must survive the merge.
    pg.execute("INSERT INTO e2e_orders_merged SELECT id, customer, CASE WHEN id % 3 = 0 THEN -1 ELSE total END, "
               f"placed_at, tags FROM e2e_orders WHERE id <= {ROWS // 2}")
    pg.execute("INSERT INTO e2e_orders_merged VALUES (999999, 'keep me', 0, NULL, NULL)")
    text = pipeline(
        "sb-upsert",
        step("pull", "supabase.extractor", "read", connection="@supabase.main", table="e2e_orders", schema=pg_schema),
        step("push", "supabase.writer", "write", ["pull"], connection="@supabase.main", table="e2e_orders_merged",
             schema=pg_schema, write_mode="upsert", primary_key="id"),
    )
    code, summary, err = osiris_run(workdir, text)
    assert code == 0, err
    merged = _pg_rows(pg, "e2e_orders_merged")
    assert merged == _pg_rows(pg, "e2e_orders") + [(999999, "keep me", 0, None, None)]
    push = _steps(summary)["push"]
    assert push["rows_written"] == ROWS

    code, summary, err = osiris_run(workdir, text)
    assert code == 0, err
    assert _pg_rows(pg, "e2e_orders_merged") == merged


def test_mysql_to_supabase_creates_the_table_and_copies_every_row(workdir, pg, my, pg_schema):
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS e2e_customers")
        cur.execute("CREATE TABLE e2e_customers (id INT UNSIGNED PRIMARY KEY, name VARCHAR(40) NOT NULL, "
                    "balance DECIMAL(10,2), active TINYINT(1), joined DATETIME(6)) DEFAULT CHARSET=utf8mb4")
        cur.executemany("INSERT INTO e2e_customers VALUES (%s, %s, %s, %s, %s)",
                        [(i, f"näme {i} 😀", f"{i}.50", i % 2, f"2024-01-01 00:00:{i % 60:02d}.123456") for i in range(1, ROWS + 1)])
    pg.execute("DROP TABLE IF EXISTS e2e_customers")
    code, summary, err = osiris_run(workdir, pipeline(
        "my-to-sb",
        step("pull", "mysql.extractor", "read", connection="@mysql.shop", table="e2e_customers"),
        step("push", "supabase.writer", "write", ["pull"], connection="@supabase.main", table="e2e_customers",
             schema=pg_schema, write_mode="replace", create_if_missing=True, primary_key="id"),
    ))
    assert code == 0, err
    steps = _steps(summary)
    assert steps["pull"]["rows_read"] == steps["push"]["rows_written"] == ROWS
    with my.cursor() as cur:
        cur.execute("SELECT * FROM e2e_customers ORDER BY id")
        source = [tuple(r) for r in cur.fetchall()]
    assert _pg_rows(pg, "e2e_customers") == source
    types = dict(pg.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                            "WHERE attrelid = 'e2e_customers'::regclass AND attnum > 0").fetchall())
    assert types == {"id": "bigint", "name": "character varying(40)", "balance": "numeric(10,2)",
                     "active": "smallint", "joined": "timestamp(6) without time zone"}
    events = [json.loads(line) for line in (Path(summary["run_dir"]) / "events.jsonl").read_text().splitlines()]
    schema = next(e for e in events if e["event"] == "extract.schema")
    assert schema["columns"][0] == {"name": "id", "type": "uint32", "source_type": "int(10) unsigned", "nullable": False}


def test_mysql_as_a_target_upsert_from_supabase(workdir, pg, my, pg_schema):
    _pg_source(pg)
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS e2e_orders_my")
    text = pipeline(
        "sb-to-my",
        step("pull", "supabase.extractor", "read", connection="@supabase.main", table="e2e_orders", schema=pg_schema,
             columns=["id", "customer", "total"]),
        step("push", "mysql.writer", "write", ["pull"], connection="@mysql.shop", table="e2e_orders_my",
             write_mode="upsert", primary_key="id", create_if_missing=True),
    )
    for _ in range(2):  # the second run changes nothing
        code, summary, err = osiris_run(workdir, text)
        assert code == 0, err
        assert _steps(summary)["push"]["rows_written"] == ROWS
        with my.cursor() as cur:
            cur.execute("SELECT id, customer, total FROM e2e_orders_my ORDER BY id")
            assert [tuple(r) for r in cur.fetchall()] == pg.execute("SELECT id, customer, total FROM e2e_orders ORDER BY id").fetchall()


def test_a_failed_run_exits_4_and_leaves_the_target_as_it_was(workdir, pg, pg_schema):
    _pg_source(pg)
    pg.execute("DROP TABLE IF EXISTS e2e_strict")
    pg.execute("CREATE TABLE e2e_strict (id bigint PRIMARY KEY, customer varchar(14) NOT NULL)")
    pg.execute("INSERT INTO e2e_strict VALUES (1, 'before')")
    code, summary, err = osiris_run(workdir, pipeline(
        "sb-fail",
        # "customer 1000 ✓" and longer do not fit varchar(14): the failure comes in the 10th batch.
        step("pull", "supabase.extractor", "read", connection="@supabase.main", table="e2e_orders", schema=pg_schema,
             columns=["id", "customer"], order="id", batch_size=100),
        step("push", "supabase.writer", "write", ["pull"], connection="@supabase.main", table="e2e_strict",
             schema=pg_schema, write_mode="replace"),
    ))
    assert code == 4, err
    assert "Traceback" not in err
    assert summary["status"] != "ok" and summary["failed_step"] == "push"
    assert pg.execute("SELECT * FROM e2e_strict").fetchall() == [(1, "before")]
