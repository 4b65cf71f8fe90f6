"""Rules on the SQL names of a step: the drivers' identifier checks, known at validation time,
and no way around a forbidden `database` override through a qualified `table: otherdb.t`."""

from __future__ import annotations

from osiris_runtime.drivers.query_params import STYLE_OF_FAMILY, query_param_problems
from osiris_runtime.drivers.sql_identifiers import DIALECT_OF_FAMILY, identifier_problems
from typing import Any, Mapping

from osiris_runtime.errors import Diagnostic, Severity
from osiris_runtime.oml.rules import RuleContext
from osiris_runtime.oml.rules_config import config_path


def _sql_step(ctx: RuleContext, step: Any, by_family: Mapping[str, Any]) -> tuple[Any, Any, tuple] | None:
    """(spec, what `by_family` says of its family, path of its config) for a step with a mapping
    config whose component family `by_family` names; None for any other step."""
    if step is None:
        return None
    spec = ctx.spec(step.component)
    value = by_family.get(spec.family) if spec is not None else None
    if value is not None and isinstance(step.config, dict):
        return spec, value, config_path(step)
    return None


def check_sql_identifiers(ctx: RuleContext, index: int, raw: Any, step: Any) -> None:
    found = _sql_step(ctx, step, DIALECT_OF_FAMILY)
    if found is None:
        return
    spec, dialect, base = found
    for path, message in identifier_problems(step.config, dialect=dialect):
        ctx.report("config.invalid-identifier", message, base + path,
                   fix="use letters, digits and underscores, e.g. `orders_2024`")
    table = step.config.get("table")
    database = spec.connection_fields.get("database")
    if (dialect == "mysql" and isinstance(table, str) and table.count(".") == 1 and "${" not in table
            and database is not None and database.override == "forbidden"):
        ctx.report(
            "connection.forbidden-override",
            f"`table: {table}` names the database `{table.split('.')[0]}`, but `database` comes from the "
            "connection and may not be overridden here",
            base + ("table",),
            fix=f"write `table: {table.split('.')[1]}` and pick the database through the connection alias",
            data={"field": "database"},
        )


def check_query_params(ctx: RuleContext, index: int, raw: Any, step: Any) -> None:
    """`query_params` and the placeholders of `query` match (the drivers run the same check)."""
    found = _sql_step(ctx, step, STYLE_OF_FAMILY)
    if found is None:
        return
    _spec, style, base = found
    for problem in query_param_problems(step.config, style):
        ctx.report(problem.code, problem.message, base + problem.path, fix=problem.fix)


_DUCKDB_TABLES = "check_duckdb_tables"


def check_duckdb_tables(ctx: RuleContext) -> None:
    """A `duckdb.processor` query reads only tables it has: its inputs under their registered names
    (`duckdb_names`), its CTEs and what DuckDB itself resolves. Run without discovery caches only:
    with them `rules_discovery` checks the same names, against the inputs' columns too.

    A step's findings depend on the other steps through its data inputs only (the steps its
    `needs` name, or the step before it, and whether they are writers): that is their reuse key."""
    from osiris_runtime.oml.rule_reuse import reuse_step

    steps = ctx.doc.steps()
    modes: dict[str, str | None] | None = None
    for step in steps:
        query = step.config.get("query") if step.component == "duckdb.processor" and step.config else None
        if not isinstance(query, str):
            continue
        if modes is None:
            modes = {s.id: s.mode for s in steps if s.id}
        inputs = tuple(name for name in step.depends_on if modes.get(name) != "write")

        def check(child: RuleContext, step: Any = step, query: str = query, inputs: tuple[str, ...] = inputs) -> None:
            _check_duckdb_query(child, step, query, inputs)

        reuse_step(ctx, _DUCKDB_TABLES, step, inputs, check)


def _check_duckdb_query(ctx: RuleContext, step: Any, query: str, inputs: tuple[str, ...]) -> None:
    from osiris_runtime.oml.duckdb_names import input_names, may_read_other_tables, replacing, resolvable, sql_text

    known = resolvable(inputs)
    if not may_read_other_tables(query, known):
        return
    from osiris_runtime.oml.sql_analysis import available, tables_read

    read = tables_read(query, "duckdb") if available() else None
    unknown = [name for name in read or () if name.name.lower() not in known]
    if not unknown:
        return
    from osiris_runtime.discovery.model import close_names
    from osiris_runtime.oml.scalar_positions import value_range

    path = config_path(step) + ("query",)
    scalar, lines = ctx.doc.range_of(path), ctx.doc.lines
    names = input_names(inputs)
    said = (f"this step's inputs: {', '.join(f'`{sql_text(n)}`' for n in names)}" if names
            else "this step has no input: add the step to read to `needs`")
    for name in unknown:
        close = close_names(name.name, names)
        quoted = query[name.start:name.start + 1] == '"'
        start, end = (name.start + 1, name.end - 1) if quoted else (name.start, name.end)
        suggestions = [replacing(n, quoted) for n in close]
        ctx.add(Diagnostic(
            "sql.unknown-table", f"table `{name.name}` is none of the inputs of this step",
            value_range(lines, scalar, query, start, end), Severity.WARNING,
            fix=f"did you mean `{sql_text(close[0])}`? ({said})" if close else said,
            data={"replacement": suggestions[0], "suggestions": suggestions} if suggestions else {},
            source=ctx.doc.source))
