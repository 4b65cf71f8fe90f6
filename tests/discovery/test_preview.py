"""`osiris preview`: the first rows of a step, the limit pushed down, writers never run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def pipeline(workspace: Path) -> Path:
    (workspace / "people.csv").write_text("id,name,age\n" + "".join(f"{i},p{i},{20 + i % 50}\n" for i in range(1, 501)))
    path = workspace / "pipe.yaml"
    path.write_text("""\
oml_version: "0.1.0"
name: preview-me
steps:
  - id: read-people
    component: filesystem.csv_extractor
    mode: read
    config: {path: people.csv}
  - id: orders
    component: mysql.extractor
    mode: read
    needs: []
    config: {connection: "@mysql.shop", query: "SELECT id, total, status FROM orders ORDER BY id"}
  - id: adults
    component: duckdb.processor
    mode: transform
    needs: [read-people]
    config:
      query: |
        SELECT id, upper(name) AS name, age FROM "read-people" WHERE age >= 30
  - id: save
    component: filesystem.csv_writer
    mode: write
    needs: [adults]
    config: {path: out/adults.csv}
""")
    return path


def test_preview_a_transform_as_json(workspace: Path, run_osiris):
    path = pipeline(workspace)
    result = run_osiris("preview", str(path), "--step", "adults", "--limit", "5", "--json", cwd=workspace)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ran"] == ["read-people", "adults"] and data["row_count"] == 5
    assert [c["name"] for c in data["columns"]] == ["id", "name", "age"]
    assert all(row[2] >= 30 for row in data["rows"]) and data["rows"][0][1].startswith("P")
    assert "first 500 rows" in data["note"]
    assert not (workspace / "out").exists()


def test_preview_of_a_writer_shows_its_input_and_never_writes(workspace: Path, run_osiris):
    path = pipeline(workspace)
    result = run_osiris("preview", str(path), "--step", "save", "--limit", "3", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert "would receive from `adults`" in result.stderr and "3 row(s)" in result.stderr
    assert "name" in result.stdout and "age" in result.stdout
    assert not (workspace / "out" / "adults.csv").exists()


def test_preview_pushes_the_limit_into_the_sql(workspace: Path, run_osiris):
    path = pipeline(workspace)
    result = run_osiris("preview", str(path), "--step", "orders", "--limit", "2", "--json", cwd=workspace)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ran"] == ["orders"] and [r[0] for r in data["rows"]] == [10, 11]
    assert [(c["name"], c["type"]) for c in data["columns"]] == [("id", "int64"), ("total", "decimal(12,2)"),
                                                                 ("status", "string")]


def test_unknown_step_is_a_config_error(workspace: Path, run_osiris):
    path = pipeline(workspace)
    result = run_osiris("preview", str(path), "--step", "nope", cwd=workspace)
    assert result.returncode == 5 and "no step `nope`" in result.stderr and "Traceback" not in result.stderr


def test_with_pushed_down_limit_keeps_a_smaller_one():
    from osiris_runtime.preview import with_pushed_down_limit

    assert with_pushed_down_limit("extract", {"limit": 10, "batch_size": 5000}, 100) == {"limit": 10, "batch_size": 100}
    assert with_pushed_down_limit("extract", {}, 100) == {"limit": 100, "batch_size": 100}
    assert with_pushed_down_limit("transform", {"query": "x"}, 100) == {"query": "x"}
