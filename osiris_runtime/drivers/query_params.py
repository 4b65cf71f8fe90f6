"""Bound parameters for a free `query`: `query_params: {name: value}`, sent to the database client
as data through its own placeholder mechanism, never spliced into the SQL text.

Two placeholder styles, the clients' own: `%(name)s` (pyformat: pymysql, mysqlclient, psycopg;
a literal `%` is then written `%%`) and `$name` (DuckDB). One pure check, used by the validator
(positions) and by the drivers (a cfg written by hand), finds placeholders with no value, values
with no placeholder and stray `%`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from osiris_runtime.errors import ValidationFailed

Style = Literal["pyformat", "dollar"]
STYLE_OF_FAMILY: dict[str, Style] = {"mysql": "pyformat", "supabase": "pyformat", "postgres": "pyformat",
                                     "duckdb": "dollar"}
_SPELLING = {"pyformat": "%({})s", "dollar": "${}"}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PYFORMAT = re.compile(r"%%|%\((" + _NAME + r")\)s|%")
# DuckDB's parser sees placeholders only outside literals, quoted names and comments.
_DOLLAR = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|(\$[A-Za-z_0-9]*\$).*?\1|\$(" + _NAME + r"|[0-9]+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class QueryParamProblem:
    code: str                       # config.query-param-*
    message: str
    path: tuple[str, ...]           # inside the step's config
    fix: str


def placeholders(query: str, style: Style) -> tuple[list[str], list[str]]:
    """(named placeholders in order of appearance, problems with other `%`/`$n` spellings)."""
    names: list[str] = []
    odd: list[str] = []
    if style == "pyformat":
        for m in _PYFORMAT.finditer(query):
            if m.group(1):
                names.append(m.group(1))
            elif m.group(0) == "%":
                odd.append(query[m.start():m.start() + 2] or "%")
    else:
        for m in _DOLLAR.finditer(query):
            name = m.group(2)
            if name is None:
                continue
            (odd if name[0].isdigit() else names).append(name if not name[0].isdigit() else f"${name}")
    return names, odd


def query_param_problems(config: Mapping[str, Any], style: Style) -> list[QueryParamProblem]:
    """What is wrong with `query` + `query_params` (nothing when the query is itself a placeholder)."""
    query, given = config.get("query"), config.get("query_params")
    if given is not None and not isinstance(given, Mapping):
        return []  # the config schema reports the type
    if not isinstance(query, str) or re.fullmatch(r"\s*\$\{params\.[^}]*\}\s*", query):
        if given and not query:
            return [QueryParamProblem("config.query-params-without-query", "`query_params` bind values of a `query`, "
                                      "but this step has no `query`", ("query_params",),
                                      "drop `query_params`, or read with `query` instead of `table`")]
        return []
    values = dict(given or {})
    names, odd = placeholders(query, style)
    problems: list[QueryParamProblem] = []
    for name in dict.fromkeys(names):
        if name not in values:
            problems.append(QueryParamProblem(
                "config.query-param-unknown",
                f"`query` uses {_SPELLING[style].format(name)}, but `query_params` gives no `{name}`",
                ("query",), f"add `{name}: <value>` under `query_params`"))
    for name in values:
        if name not in names:
            problems.append(QueryParamProblem(
                "config.query-param-unused",
                f"`query_params.{name}` is not used by `query` (no {_SPELLING[style].format(name)} in it)",
                ("query_params", str(name)), f"write {_SPELLING[style].format(name)} where the value goes, or drop it"))
    if values or names:
        for spelling in dict.fromkeys(odd):
            problems.append(QueryParamProblem(
                "config.query-param-syntax",
                f"`query` has `{spelling}`: with `query_params` only named placeholders "
                f"({_SPELLING[style].format('name')}) are bound" + ("; a literal % is written %%" if style == "pyformat" else ""),
                ("query",), "write %% for a literal percent sign" if style == "pyformat"
                else f"name the parameter: {_SPELLING[style].format('name')}"))
    return problems


def bound_query_params(config: Mapping[str, Any], style: Style) -> dict[str, Any] | None:
    """The values to hand to the client with `query`, or None (no binding); raises the first problem."""
    problems = query_param_problems(config, style)
    if problems:
        first = problems[0]
        raise ValidationFailed(first.message, code=first.code, fix=first.fix)
    given = config.get("query_params")
    return dict(given) if isinstance(given, Mapping) and given and config.get("query") else None
