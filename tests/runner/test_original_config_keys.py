"""Config keys of the original Osiris specs: each one works as it did there, or is accepted with a
`config.ignored-key` warning that says why it has no effect here. None is an error."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import pytest

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.filesystem import CsvExtractor, CsvWriter
from osiris_runtime.drivers.step_options import ReadOptions
from osiris_runtime.errors import RunFailed
from osiris_runtime.friendly import validate_config
from osiris_runtime.registry import Registry
from osiris_runtime.runner.batches import Batch, Column, Schema

# component -> {key: a value an original config would hold}
ORIGINAL_KEYS: dict[str, dict[str, Any]] = {
    "filesystem.csv_writer": {"newline": "\r\n", "quoting": "nonnumeric", "chunk_size": 5000, "create_dirs": True},
    "filesystem.csv_extractor": {
        "parse_dates": ["released"], "limit": 10, "skip_rows": 1, "na_values": ["NA"], "dtype": {"id": "Int64"},
        "comment": "#", "compression": "gzip", "chunk_size": 1000, "skip_blank_lines": False, "columns": ["id", "title"],
    },
    "mysql.extractor": {"pool_size": 5, "pool_recycle": 3600, "echo": False, "schema": "movies"},
    "mysql.writer": {"pool_size": 5, "pool_recycle": 3600, "echo": False, "schema": "movies"},
    "supabase.extractor": {"select": "*", "project_id": "abcdefgh", "offset": 0},
    "supabase.writer": {"returning": "minimal", "prefer": "return=minimal", "project_id": "abcdefgh"},
}
IGNORED = {"chunk_size", "pool_size", "pool_recycle", "echo", "returning", "prefer"}
BASE = {
    "filesystem.csv_writer": {"path": "out/movies.csv"},
    "filesystem.csv_extractor": {"path": "movies.csv.gz"},
    "mysql.extractor": {"connection": "@mysql.db_movies", "table": "movies"},
    "mysql.writer": {"connection": "@mysql.db_movies", "table": "movies"},
    "supabase.extractor": {"connection": "@supabase.main", "table": "movies"},
    "supabase.writer": {"connection": "@supabase.main", "table": "movies"},
}


@pytest.mark.parametrize("component", sorted(ORIGINAL_KEYS))
def test_every_original_key_is_honoured_or_ignored_with_a_reason_never_an_error(component: str):
    spec = Registry().require(component)
    found = validate_config(spec, {**BASE[component], **ORIGINAL_KEYS[component]})
    assert [e for e in found if e.is_error] == [], [e.render() for e in found]
    ignored = {e.field: e for e in found if e.code == "config.ignored-key"}
    assert set(ignored) == IGNORED & set(ORIGINAL_KEYS[component])
    for key, error in ignored.items():
        assert error.problem.startswith(f"`{key}` has no effect here: ") and len(error.problem) > len(key) + 30
    assert {e.code for e in found} <= {"config.ignored-key"}


def ctx(tmp_path: Path, **config: Any) -> StepContext:
    return StepContext(step_id="s", component="test", mode="extract", config=config, work_dir=str(tmp_path))


def rows_of(context: StepContext) -> list[tuple]:
    return [row for batch in CsvExtractor(context).run({}) for row in batch.rows]


def one_batch(*rows: tuple) -> dict[str, Any]:
    schema = Schema((Column("id", "int64", True, "test"), Column("title", "string", True, "test"),
                     Column("score", "float64", True, "test")))
    return {"up": iter([Batch(schema, list(rows))])}


def test_the_writer_honours_newline_and_quoting(tmp_path: Path):
    CsvWriter(ctx(tmp_path, path="crlf.csv", newline="\r\n")).run(one_batch((1, "a", 0.5)))
    assert (tmp_path / "crlf.csv").read_bytes() == b"id,title,score\r\n1,a,0.5\r\n"
    CsvWriter(ctx(tmp_path, path="lf.csv", newline="lf", quoting="all")).run(one_batch((1, "a", 0.5)))
    assert (tmp_path / "lf.csv").read_bytes() == b'"id","title","score"\n"1","a","0.5"\n'
    CsvWriter(ctx(tmp_path, path="nn.csv", quoting="nonnumeric")).run(one_batch((1, "a", 0.5)))
    assert (tmp_path / "nn.csv").read_text() == '"id","title","score"\n1,"a",0.5\n'
    CsvWriter(ctx(tmp_path, path="none.csv", quoting="none")).run(one_batch((1, "a,b", 0.5)))
    assert (tmp_path / "none.csv").read_text() == "id,title,score\n1,a\\,b,0.5\n"


def test_the_writer_creates_folders_unless_told_not_to(tmp_path: Path):
    CsvWriter(ctx(tmp_path, path="new/dir/out.csv")).run(one_batch((1, "a", 0.5)))
    assert (tmp_path / "new" / "dir" / "out.csv").exists()
    with pytest.raises(RunFailed) as err:
        CsvWriter(ctx(tmp_path, path="missing/out.csv", create_dirs=False)).run(one_batch((1, "a", 0.5)))
    assert err.value.code == "run.folder-missing" and not (tmp_path / "missing").exists()


def test_the_extractor_honours_skip_rows_comment_na_values_limit_and_column_lists(tmp_path: Path):
    (tmp_path / "in.csv").write_text("exported 2024-01-01\nid,title,score\n# a comment\n1,Alien,NA\n2,Heat,7.5\n3,Ran,8\n")
    context = ctx(tmp_path, path="in.csv", skip_rows=1, comment="#", na_values=["NA"], limit=2, columns=["id", "score"])
    assert rows_of(context) == [(1, None), (2, 7.5)]


def test_the_extractor_reads_compressed_files_and_pandas_dtypes_and_dates(tmp_path: Path):
    text = "id,title,released\n1,Alien,1979-05-25\n2,Heat,1995-12-15\n"
    with gzip.open(tmp_path / "in.csv.gz", "wt") as handle:
        handle.write(text)
    (tmp_path / "in.bz").write_bytes(bz2.compress(text.encode()))
    expected = [(1, "Alien", dt.date(1979, 5, 25)), (2, "Heat", dt.date(1995, 12, 15))]
    assert rows_of(ctx(tmp_path, path="in.csv.gz", parse_dates=["released"])) == expected
    assert rows_of(ctx(tmp_path, path="in.bz", compression="bz2", dtype={"id": "str"}, parse_dates=["released"])) == [
        ("1", "Alien", dt.date(1979, 5, 25)), ("2", "Heat", dt.date(1995, 12, 15))]


def test_blank_lines_are_rows_of_nulls_when_not_skipped(tmp_path: Path):
    (tmp_path / "in.csv").write_text("id,title\n1,a\n\n2,b\n")
    assert rows_of(ctx(tmp_path, path="in.csv")) == [(1, "a"), (2, "b")]
    assert rows_of(ctx(tmp_path, path="in.csv", skip_blank_lines=False)) == [(1, "a"), (None, None), (2, "b")]


def test_select_is_the_column_list_and_schema_qualifies_the_mysql_table():
    options = ReadOptions.from_config({"table": "movies", "select": "id, title", "schema": "db_movies"}, dialect="mysql")
    assert options.columns == ("id", "title") and options.schema == "db_movies"
    assert ReadOptions.from_config({"table": "movies", "select": "*"}, dialect="postgres").columns == ()
