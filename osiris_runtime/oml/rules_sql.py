"""Rules on the SQL names of a step: the drivers' identifier checks, known at validation time,
and no way around a forbidden `database` override through a qualified `table: otherdb.t`."""

from __future__ import annotations

from osiris_runtime.drivers.query_params import STYLE_OF_FAMILY, query_param_problems
from osiris_runtime.drivers.sql_identifiers import DIALECT_OF_FAMILY, identifier_problems
from typing import Any, Mapping

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
