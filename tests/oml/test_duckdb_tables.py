"""`sql.unknown-table`: a DuckDB query reads only its inputs' registered names, or what DuckDB resolves."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from osiris_runtime.oml.duckdb_names import SYSTEM_VIEWS, may_read_other_tables, resolvable
from osiris_runtime.oml.sql_analysis import tables_read

HEAD = 'oml_version: "0.1.0"\nname: t\nsteps:\n'
EXTRACT = """\
  - id: extract-movies
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.shop", table: movies}
"""


def duckdb_step(query: str, needs: str = "") -> str:
    return ("  - id: stats\n    component: duckdb.processor\n    mode: transform\n" + needs
            + "    config:\n      query: |\n" + "".join(f"        {line}\n" for line in query.splitlines()))


def unknown(found: list[Any]) -> list[Any]:
    return [d for d in found if d.code == "sql.unknown-table"]


def at(text: str, d: Any) -> str:
    assert d.range.start.line == d.range.end.line
    return text.split("\n")[d.range.start.line][d.range.start.column:d.range.end.column]


def test_a_table_that_is_no_input_is_a_warning_on_the_name_with_the_spellings(check: Callable[..., list]) -> None:
    text = HEAD + EXTRACT + duckdb_step("SELECT director, COUNT(*) AS n\nFROM extract_movies\nGROUP BY director")
    [d] = unknown(check(text))
    assert d.severity.name == "WARNING" and at(text, d) == "extract_movies"
    assert d.message == "table `extract_movies` is none of the inputs of this step"
    assert d.fix == ('did you mean `"extract-movies"`? (this step\'s inputs: `"extract-movies"`, '
                     "`df_extract_movies`, `input_df`)")
    assert d.data == {"replacement": '"extract-movies"', "suggestions": ['"extract-movies"', "df_extract_movies"]}


@pytest.mark.parametrize("query", [
    'SELECT * FROM "extract-movies"',
    'SELECT * FROM "Extract-Movies" m JOIN DF_EXTRACT_MOVIES d USING (id)',
    "SELECT * FROM input_df",
    "WITH top AS (SELECT * FROM df_extract_movies) SELECT * FROM top",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    "SELECT * FROM read_csv('extra.csv') JOIN 'more.parquet' USING (id)",
    "SELECT * FROM duckdb_tables, pg_class, information_schema.tables",
    "SELECT * FROM other.movies",
    "CREATE TEMP TABLE best AS SELECT * FROM input_df;\nSELECT * FROM best",
    "ATTACH 'x.db' AS x;\nUSE x;\nSELECT * FROM movies",
    "SELECT EXTRACT(year FROM released) AS y FROM df_extract_movies",
    "SELECT * FROM df_extract_movies WHERE id IN (SELECT id FROM input_df)",
])
def test_what_duckdb_resolves_is_no_warning(check: Callable[..., list], query: str) -> None:
    assert unknown(check(HEAD + EXTRACT + duckdb_step(query))) == []


def test_every_unknown_name_of_a_script_is_reported(check: Callable[..., list]) -> None:
    text = HEAD + EXTRACT + duckdb_step(
        "CREATE VIEW v AS SELECT * FROM movies;\nSELECT * FROM v, df_extract_movie JOIN input_df USING (id)")
    found = unknown(check(text))
    assert [at(text, d) for d in found] == ["movies", "df_extract_movie"]
    assert found[1].data["replacement"] == "df_extract_movies"


def test_a_writer_is_no_input_and_no_input_says_so(check: Callable[..., list]) -> None:
    writer = "  - id: save\n    component: mysql.writer\n    mode: write\n    needs: [extract-movies]\n" \
             '    config: {connection: "@mysql.warehouse", table: movies}\n'
    text = HEAD + EXTRACT + writer + duckdb_step("SELECT * FROM save", needs="    needs: [save]\n")
    [d] = unknown(check(text))
    assert d.fix == "this step has no input: add the step to read to `needs`" and d.data == {}


def test_with_discovery_the_name_is_reported_once(check: Callable[..., list]) -> None:
    text = HEAD + EXTRACT + duckdb_step("SELECT * FROM extract_movies")
    found = [d for d in check(text, discovery={}) if d.code.endswith("unknown-table")]
    assert [(d.code, at(text, d)) for d in found] == [("discovery.unknown-table", "extract_movies")]


QUERIES = [
    "SELECT * FROM a", "SELECT * FROM a, b", "SELECT * FROM a JOIN b ON a.x = b.x, c", "FROM a SELECT x, y",
    "SELECT * FROM (SELECT * FROM b) s", "WITH c AS (SELECT 1) SELECT * FROM c, d", "SELECT * FROM a NATURAL JOIN e",
    'SELECT * FROM "a" CROSS JOIN "b-c"', "SELECT * FROM a WHERE EXISTS (SELECT 1 FROM f)", "SELECT 1",
    "SELECT * FROM a UNION ALL SELECT * FROM b", "SELECT * FROM a -- FROM b\n", "SELECT 'FROM b' FROM a",
    "SELECT * FROM a, LATERAL (SELECT * FROM b)", "SELECT * FROM a POSITIONAL JOIN g", "SELECT * FROM a; SELECT * FROM b",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("known", [frozenset({"a"}), frozenset({"a", "b"})])
def test_the_quick_look_never_passes_a_query_the_parser_finds_unknown_names_in(query: str, known: frozenset) -> None:
    """`may_read_other_tables` False means the parser would find nothing: it only saves the parse."""
    names = resolvable(tuple(known))
    read = tables_read(query, "duckdb") or ()
    if any(name.name.lower() not in names for name in read):
        assert may_read_other_tables(query, names), query


def test_the_system_views_are_what_duckdb_resolves_unqualified() -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE internal AND schema_name IN ('main', 'pg_catalog')")
    assert {name for (name,) in rows.fetchall()} <= SYSTEM_VIEWS


def test_a_quoted_name_is_replaced_inside_its_quotes(check: Callable[..., list]) -> None:
    text = HEAD + EXTRACT + duckdb_step('SELECT * FROM "extract-movie"')
    [d] = unknown(check(text))
    assert at(text, d) == "extract-movie" and d.data["replacement"] == "extract-movies"
