"""The files a DuckDB query reads (`files_read`) and how the sandbox plan sends them (pure, no sandbox)."""

from __future__ import annotations

from pathlib import Path

import pytest

from osiris_runtime.oml.sql_analysis import files_read
from osiris_runtime.runner.plan import StepPlan
from osiris_runtime.runner.sandbox_plan import SandboxLayout, plan_transfers


@pytest.mark.parametrize("query,paths", [
    ("SELECT * FROM read_csv('a.csv', header = true) JOIN 'b.parquet' USING (id)", {"a.csv", "b.parquet"}),
    ("SELECT * FROM read_parquet(['x/a.parquet', 'x/b.parquet'], hive_partitioning = true)", {"x/a.parquet", "x/b.parquet"}),
    ("SELECT * FROM read_json(format := 'array', 'z.json')", {"z.json"}),
    ("SELECT * FROM read_csv(files => 'g.csv')", {"g.csv"}),
    ("WITH t AS (SELECT * FROM read_ndjson('e.ndjson')) SELECT * FROM t, parquet_scan('f.parquet')", {"e.ndjson", "f.parquet"}),
    ("SELECT * FROM read_csv_auto('c.csv') UNION ALL SELECT * FROM \"d.csv\"", {"c.csv", "d.csv"}),
    ("SELECT * FROM read_json_auto('data/*.json')", {"data/*.json"}),
    ("SELECT * FROM read_csv('https://example.com/y.csv') JOIN read_parquet('s3://b/k.parquet') USING (id)", set()),
    ('SELECT * FROM "extract-orders" o JOIN input_df i USING (id)', set()),
    ("SELECT 'data.csv' AS name FROM input_df", set()),  # a string that is no file argument
])
def test_files_read_names_the_files_a_query_reads(query: str, paths: set[str]):
    found = files_read(query)
    assert set(found.paths) == paths and found.unknown == ()


def test_a_parameter_is_looked_up_and_an_expression_is_unknown():
    assert files_read("SELECT * FROM read_csv($file)", (("file", "in.csv"),)).paths == ("in.csv",)
    assert files_read("SELECT * FROM read_csv($file)").unknown == ("READ_CSV($file)",)
    assert files_read("SELECT * FROM read_csv('a' || 'b.csv')").unknown == ("READ_CSV('a' || 'b.csv')",)


def _duckdb_step(query: str) -> StepPlan:
    return StepPlan("q", "duckdb.processor", "transform", None, None, (), {"query": query})


def test_the_plan_sends_what_a_local_duckdb_finds_first(tmp_path: Path):
    cwd, work = tmp_path / "cwd", tmp_path / "work"
    (cwd / "d").mkdir(parents=True)
    (work / "d").mkdir(parents=True)
    (cwd / "d" / "both.csv").write_text("from cwd\n")
    (work / "d" / "both.csv").write_text("from work\n")
    (work / "d" / "only-work.csv").write_text("work\n")
    layout = SandboxLayout("/home/user/osiris/r")
    plan = plan_transfers([_duckdb_step("SELECT * FROM read_csv('d/both.csv'), read_csv('d/only-work.csv'), "
                                        "read_csv('d/missing.csv'), read_csv('d/*-work.csv')")], work, layout, cwd)
    sent = [(local.read_text(), remote) for t in plan.reads for local, remote in t.sources()]
    assert sent == [("from cwd\n", "/home/user/osiris/r/work/d/both.csv"),
                    ("work\n", "/home/user/osiris/r/work/d/only-work.csv"),
                    ("work\n", "/home/user/osiris/r/work/d/only-work.csv")]  # the glob's one match
    assert plan.unknown_reads == ()
