"""CSV extractor and writer, DuckDB processor: driven directly with a StepContext, and together."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import pipeline, step

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.duckdb import DuckDBProcessor, duckdb_type, legacy_view_name, logical_type
from osiris_runtime.drivers.filesystem import CsvExtractor, CsvWriter, infer_type
from osiris_runtime.errors import ConfigError, RunFailed
from osiris_runtime.runner.batches import Batch, Column, Schema


def ctx(tmp_path: Path, step_id: str = "s", **config: Any) -> StepContext:
    return StepContext(step_id=step_id, component="test", mode="extract", config=config, work_dir=str(tmp_path))


def rows_of(batches: Iterator[Batch]) -> list[tuple]:
    return [row for batch in batches for row in batch.rows]


def test_types_are_inferred_from_the_values():
    assert infer_type(["1", "-2", ""]) == "int64"
    assert infer_type(["1", "2.5"]) == "float64"
    assert infer_type(["007", "1"]) == "string"  # a code with leading zeros stays text
    assert infer_type(["true", "False"]) == "bool"
    assert infer_type(["2024-01-02"]) == "date"
    assert infer_type(["2024-01-02T10:00:00", "2024-01-02 11:00"]) == "datetime"
    assert infer_type(["", ""]) == "string"


def test_the_extractor_streams_typed_batches(tmp_path: Path):
    (tmp_path / "in.csv").write_text("id,price,name,day\n1,1.5,a,2024-01-01\n2,,b,2024-01-02\n3,3,\"c, d\",\n")
    context = ctx(tmp_path, path="in.csv", batch_size=2)
    batches = list(CsvExtractor(context).run({}))
    assert [len(b) for b in batches] == [2, 1]
    assert [c.type for c in batches[0].schema.columns] == ["int64", "float64", "string", "date"]
    assert rows_of(iter(batches)) == [(1, 1.5, "a", dt.date(2024, 1, 1)), (2, None, "b", dt.date(2024, 1, 2)),
                                      (3, 3.0, "c, d", None)]
    assert context.rows_read == 3


def test_declared_columns_win_over_inference(tmp_path: Path):
    (tmp_path / "in.csv").write_text("zip,n\n01234,5\n")
    batches = list(CsvExtractor(ctx(tmp_path, path="in.csv", columns={"n": "string"})).run({}))
    assert rows_of(iter(batches)) == [("01234", "5")]


def test_a_value_that_breaks_the_inferred_type_names_the_line_and_column(tmp_path: Path):
    (tmp_path / "in.csv").write_text("id\n1\n2\nthree\n")
    with pytest.raises(RunFailed) as err:
        list(CsvExtractor(ctx(tmp_path, path="in.csv", batch_size=2)).run({}))
    assert "line 4" in err.value.message and "`id`" in err.value.message
    assert err.value.code == "run.csv-type"


def test_a_missing_file_is_a_run_failure_with_the_path(tmp_path: Path):
    with pytest.raises(RunFailed) as err:
        list(CsvExtractor(ctx(tmp_path, path="nope.csv")).run({}))
    assert "nope.csv" in err.value.message


def test_a_headerless_file_needs_columns(tmp_path: Path):
    (tmp_path / "in.csv").write_text("1,2\n")
    with pytest.raises(ConfigError):
        list(CsvExtractor(ctx(tmp_path, path="in.csv", header=False)).run({}))
    got = list(CsvExtractor(ctx(tmp_path, path="in.csv", header=False, columns={"a": "int64", "b": "int64"})).run({}))
    assert rows_of(iter(got)) == [(1, 2)]


SCHEMA = Schema((Column("id", "int64"), Column("when", "datetime"), Column("amount", "decimal(10,2)"),
                 Column("ok", "bool"), Column("blob", "bytes")))


def sample_stream(n: int = 3) -> Iterator[Batch]:
    yield Batch(SCHEMA, [(i, dt.datetime(2024, 1, 1, 12, i), Decimal(f"{i}.50"), i % 2 == 0, b"\x00\xff")
                         for i in range(n)])
    yield Batch(SCHEMA, [(n, None, None, None, None)])


def test_the_writer_formats_values_and_reports_its_output(tmp_path: Path):
    context = ctx(tmp_path, path="out/x.csv")
    CsvWriter(context).run({"up": sample_stream(2)})
    assert (tmp_path / "out/x.csv").read_text() == (
        "id,when,amount,ok,blob\n0,2024-01-01T12:00:00,0.50,true,00ff\n1,2024-01-01T12:01:00,1.50,false,00ff\n2,,,,\n"
    )
    assert context.rows_written == 3
    assert context.extra_metrics["output"] == str((tmp_path / "out/x.csv").resolve())


def test_a_failed_replace_leaves_the_previous_file_untouched(tmp_path: Path):
    target = tmp_path / "x.csv"
    target.write_text("previous\n")

    def broken() -> Iterator[Batch]:
        yield Batch(SCHEMA, [(1, None, None, None, None)])
        raise RuntimeError("upstream died")

    with pytest.raises(RuntimeError):
        CsvWriter(ctx(tmp_path, path="x.csv")).run({"up": broken()})
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]  # no temporary file left behind


def test_append_adds_rows_and_writes_the_header_once(tmp_path: Path):
    for _ in range(2):
        CsvWriter(ctx(tmp_path, path="a.csv", write_mode="append")).run({"up": sample_stream(1)})
    assert (tmp_path / "a.csv").read_text().count("id,when") == 1
    assert len((tmp_path / "a.csv").read_text().splitlines()) == 5


def test_the_writer_takes_exactly_one_input(tmp_path: Path):
    with pytest.raises(ConfigError):
        CsvWriter(ctx(tmp_path, path="a.csv")).run({"a": sample_stream(), "b": sample_stream()})


def test_duckdb_sees_each_input_as_a_table_named_after_the_step_and_as_df_name(tmp_path: Path):
    query = ('SELECT o.id, o.amount, l.id AS legacy_id FROM "pull-orders" o '
             "JOIN df_pull_orders l ON l.id = o.id WHERE o.ok ORDER BY o.id")
    context = ctx(tmp_path, "join", query=query, batch_size=1)
    batches = list(DuckDBProcessor(context).run({"pull-orders": sample_stream(4)}))
    assert rows_of(iter(batches)) == [(0, Decimal("0.50"), 0), (2, Decimal("2.50"), 2)]
    assert [c.type for c in batches[0].schema.columns] == ["int64", "decimal(10,2)", "int64"]
    assert context.rows_read == 5


def test_duckdb_round_trips_every_logical_type_it_receives(tmp_path: Path):
    batches = list(DuckDBProcessor(ctx(tmp_path, query='SELECT * FROM "up" ORDER BY id')).run({"up": sample_stream(1)}))
    assert [c.type for c in batches[0].schema.columns] == ["int64", "datetime", "decimal(10,2)", "bool", "bytes"]
    assert rows_of(iter(batches)) == [(0, dt.datetime(2024, 1, 1, 12, 0), Decimal("0.50"), True, b"\x00\xff"),
                                      (1, None, None, None, None)]


def test_a_bad_query_fails_with_the_tables_it_could_use(tmp_path: Path):
    with pytest.raises(RunFailed) as err:
        list(DuckDBProcessor(ctx(tmp_path, query="SELECT * FROM missing")).run({"up": sample_stream()}))
    assert err.value.code == "run.sql-error" and "up" in (err.value.fix or "")


def test_type_mapping_helpers():
    assert duckdb_type("decimal(12,3)") == "DECIMAL(12,3)" and duckdb_type("decimal(60,2)") == "VARCHAR"
    assert duckdb_type("uint64") == "UBIGINT" and duckdb_type("bit(3)") == "VARCHAR"
    assert logical_type("DECIMAL(12, 3)") == "decimal(12,3)" and logical_type("TIMESTAMP WITH TIME ZONE") == "timestamp"
    assert legacy_view_name("pull-orders.v2") == "df_pull_orders_v2"


def test_csv_to_duckdb_to_csv_through_the_runner(run_pipeline, tmp_path: Path):
    (tmp_path / "a.csv").write_text("k,v\n1,10\n2,20\n1,5\n")
    summary = run_pipeline(pipeline(
        step("read-a", "osiris_runtime.drivers.filesystem.CsvExtractor", path="a.csv", batch_size=1),
        step("sum", "osiris_runtime.drivers.duckdb.DuckDBProcessor", mode="transform", needs=["read-a"],
             query='SELECT k, sum(v) AS total FROM "read-a" GROUP BY k ORDER BY k'),
        step("write", "osiris_runtime.drivers.filesystem.CsvWriter", mode="write", needs=["sum"], path="b.csv"),
    ))
    assert summary.exit_code == 0, summary.error
    assert (tmp_path / "b.csv").read_text() == "k,total\n1,15\n2,20\n"
    assert summary.outputs == (str((tmp_path / "b.csv").resolve()),)


def test_duckdb_memory_limit_must_be_a_size(tmp_path: Path):
    with pytest.raises(ConfigError):
        DuckDBProcessor(ctx(tmp_path, query="SELECT 1", memory_limit="1GB'; DROP TABLE x; --"))


def test_a_single_input_is_also_input_df_as_in_the_originals_duckdb_examples(tmp_path: Path):
    rows = list(DuckDBProcessor(ctx(tmp_path, query="SELECT count(*) AS n FROM input_df")).run({"extract-movies": sample_stream()}))
    assert rows[0].rows == [(4,)]
    with pytest.raises(RunFailed) as err:  # two inputs: `input_df` names nothing
        list(DuckDBProcessor(ctx(tmp_path, query="SELECT * FROM input_df")).run({"a": sample_stream(), "b": sample_stream()}))
    assert err.value.code == "run.sql-error"
