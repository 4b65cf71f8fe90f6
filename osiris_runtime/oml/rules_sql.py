"""Rules on the SQL names of a step: the drivers' identifier checks, known at validation time,
and no way around a forbidden `database` override through a qualified `table: otherdb.t`."""

from __future__ import annotations

from osiris_runtime.drivers.query_params import STYLE_OF_FAMILY, query_param_problems
from osiris_runtime.drivers.sql_identifiers import DIALECT_OF_FAMILY, identifier_problems
from typing import Any, Iterator, Mapping

from osiris_runtime.oml.rules import RuleContext
from osiris_runtime.oml.rules_config import config_path


def _sql_steps(ctx: RuleContext, by_family: Mapping[str, Any]) -> Iterator[tuple[Any, Any, Any, tuple]]:
    """(step, spec, what `by_family` says of its family, path of its config) for each step with a
    mapping config whose component family `by_family` names."""
    for step in ctx.doc.steps():
        spec = ctx.spec(step.component)
        value = by_family.get(spec.family) if spec is not None else None
        if value is not None and isinstance(step.config, dict):
            yield step, spec, value, config_path(step)


def check_sql_identifiers(ctx: RuleContext) -> None:
    for step, spec, dialect, base in _sql_steps(ctx, DIALECT_OF_FAMILY):
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


def check_query_params(ctx: RuleContext) -> None:
    """`query_params` and the placeholders of `query` match (the drivers run the same check)."""
    for step, _spec, style, base in _sql_steps(ctx, STYLE_OF_FAMILY):
        for problem in query_param_problems(step.config, style):
            ctx.report(problem.code, problem.message, base + problem.path, fix=problem.fix)
