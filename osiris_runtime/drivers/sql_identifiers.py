"""Validated, quoted SQL identifiers for the database drivers.

Table and column names come from user config (and from source metadata), so they are checked
against a strict pattern before they are quoted: a name that tries to smuggle SQL in (a quote, a
semicolon, a comment, whitespace) is a clear error, never a statement. Quoting then only has to
handle the dialect's quote character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from osiris_runtime.errors import ValidationFailed

# Letters, digits, `_` and `$` (valid unquoted in MySQL, common in both), not starting with a digit.
# Unicode letters are accepted: Postgres and MySQL both allow them in quoted names. Matched with
# `fullmatch`: `$` alone would also match before a trailing newline (`t\n`).
_IDENTIFIER = re.compile(r"[^\W\d][\w$]*", re.UNICODE)
_MAX_LENGTH = {"postgres": 63, "mysql": 64}
# The SQL dialect of each connection family whose components name tables and columns.
DIALECT_OF_FAMILY = {"mysql": "mysql", "supabase": "postgres", "postgres": "postgres", "postgresql": "postgres"}


def validate_identifier(name: object, *, what: str = "identifier", dialect: str = "postgres") -> str:
    """Return `name` if it is a plain identifier; raise `ValidationFailed` naming the problem otherwise."""
    if not isinstance(name, str) or not name:
        raise ValidationFailed(
            f"{what} must be a non-empty name, got {name!r}",
            code="config.invalid-identifier",
            fix="use letters, digits and underscores, e.g. `orders_2024`",
        )
    if not _IDENTIFIER.fullmatch(name):
        raise ValidationFailed(
            f"{what} {name!r} is not a plain SQL identifier (only letters, digits, `_` and `$`; "
            "no quotes, spaces, dots, semicolons or comments)",
            code="config.invalid-identifier",
            fix="rename it to letters, digits and underscores; a schema goes in its own `schema` key",
        )
    limit = _MAX_LENGTH[dialect]
    if len(name.encode("utf-8")) > limit:
        raise ValidationFailed(
            f"{what} {name!r} is longer than {limit} bytes, the {dialect} limit",
            code="config.invalid-identifier",
        )
    return name


def split_qualified(name: object, *, what: str = "table", dialect: str = "postgres") -> tuple[str | None, str]:
    """`"schema.table"` -> ("schema", "table"); `"table"` -> (None, "table"); each part validated."""
    if isinstance(name, str) and name.count(".") == 1:
        schema, table = name.split(".")
        return (
            validate_identifier(schema, what=f"{what} schema", dialect=dialect),
            validate_identifier(table, what=what, dialect=dialect),
        )
    return None, validate_identifier(name, what=what, dialect=dialect)


def quote_pg(name: str) -> str:
    """Double-quoted Postgres identifier (validated first)."""
    validate_identifier(name, dialect="postgres")
    return '"' + name.replace('"', '""') + '"'


def quote_mysql(name: str) -> str:
    """Backtick-quoted MySQL identifier (validated first)."""
    validate_identifier(name, dialect="mysql")
    return "`" + name.replace("`", "``") + "`"


def pg_table(schema: str | None, table: str) -> str:
    return f"{quote_pg(schema)}.{quote_pg(table)}" if schema else quote_pg(table)


def mysql_table(database: str | None, table: str) -> str:
    return f"{quote_mysql(database)}.{quote_mysql(table)}" if database else quote_mysql(table)


def validate_columns(names: Iterable[object], *, dialect: str) -> list[str]:
    return [validate_identifier(n, what="column", dialect=dialect) for n in names]


def identifier_problems(config: Mapping[str, Any], *, dialect: str) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path in config, message) for every table, schema and column name the drivers would refuse:
    the validator's view of the same checks, so a pipeline that validates does not fail on a name."""

    def check(path: tuple[Any, ...], value: Any, fn: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
        if isinstance(value, str) and "${" in value:
            return  # a param placeholder: checked once compiled
        try:
            fn(value)
        except ValidationFailed as exc:
            yield path, exc.message

    if isinstance(config.get("table"), str):
        yield from check(("table",), config["table"], lambda v: split_qualified(v, dialect=dialect))
    if isinstance(config.get("schema"), str):
        yield from check(("schema",), config["schema"], lambda v: validate_identifier(v, what="schema", dialect=dialect))
    for key in ("columns", "primary_key", "upsert_keys"):
        value = config.get(key)
        names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for i, name in enumerate(names):
            if isinstance(name, str):
                path = (key,) if isinstance(value, str) else (key, i)
                yield from check(path, name, lambda v: validate_identifier(v, what="column", dialect=dialect))
