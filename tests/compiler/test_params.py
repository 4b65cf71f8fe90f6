"""Params: precedence, type coercion, whole-scalar placeholders and the errors that name the param."""

from __future__ import annotations

import json

import pytest

from osiris_runtime.errors import ExitCode
from osiris_runtime.params import declared_params, env_name, resolve_params, substitute_params

PIPELINE = """\
oml_version: "0.1.0"
name: params-demo
params:
  since: {type: string, default: "2024-01-01"}
  limit: {type: integer, default: 100}
profiles:
  dev:
    params: {limit: 5, since: "2023-01-01"}
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: "SELECT * FROM t WHERE d >= '${params.since}'"
      limit: ${params.limit}
"""


def _cfg(result, step="pull"):
    assert result.pipeline is not None, [d.format() for d in result.diagnostics]
    return json.loads(result.pipeline.files()[f"cfg/{step}.json"])


@pytest.mark.parametrize(
    ("cli", "env", "profile", "expected_limit"),
    [
        ({}, {}, None, 100),                                         # declared default
        ({}, {}, "dev", 5),                                          # profile beats default
        ({}, {"OSIRIS_PARAM_LIMIT": "7"}, "dev", 7),                 # env beats profile
        ({"limit": "9"}, {"OSIRIS_PARAM_LIMIT": "7"}, "dev", 9),     # --param beats env
    ],
)
def test_precedence_param_over_env_over_profile_over_default(compile_text, cli, env, profile, expected_limit) -> None:
    result = compile_text(PIPELINE, params=cli, env=env, profile=profile)
    cfg = _cfg(result)
    assert cfg["limit"] == expected_limit
    assert result.pipeline.manifest["params"]["limit"] == expected_limit
    assert result.pipeline.manifest["profile"] == profile


def test_whole_scalar_placeholder_keeps_the_declared_type(compile_text) -> None:
    cfg = _cfg(compile_text(PIPELINE, params={"limit": "42"}))
    assert cfg["limit"] == 42 and isinstance(cfg["limit"], int)
    assert cfg["query"] == "SELECT * FROM t WHERE d >= '2024-01-01'"


def test_embedded_placeholder_is_spliced_as_text(compile_text) -> None:
    cfg = _cfg(compile_text(PIPELINE, profile="dev"))
    assert cfg["query"].endswith("'2023-01-01'")


def test_param_failing_its_type_is_a_compile_error_naming_it(compile_text) -> None:
    result = compile_text(PIPELINE, params={"limit": "many"})
    assert result.pipeline is None and result.exit_code == ExitCode.COMPILE
    [diag] = result.errors
    assert diag.code == "params.invalid-value" and "`limit`" in diag.message and "many" in diag.message
    assert diag.format().startswith("pipeline.yaml:5:")


def test_unresolved_param_names_the_param_and_where_it_is_used(compile_text) -> None:
    text = PIPELINE.replace('since: {type: string, default: "2024-01-01"}', "since: {type: string}")
    result = compile_text(text)
    assert result.exit_code == ExitCode.COMPILE
    [diag] = result.errors
    assert diag.code == "params.unresolved"
    assert "`since`" in diag.message and "steps[0].config.query" in diag.message
    assert diag.range.start.line == 14  # the query line (zero-based)
    assert "OSIRIS_PARAM_SINCE" in diag.fix


def test_enum_violation_is_a_compile_error(compile_text) -> None:
    text = PIPELINE.replace("limit: {type: integer, default: 100}",
                            "limit: {type: integer, default: 100, enum: [10, 100]}")
    result = compile_text(text, params={"limit": "11"})
    assert result.exit_code == ExitCode.COMPILE
    assert "must be one of: 10, 100" in result.errors[0].message


def test_unknown_param_and_unknown_profile_are_compile_errors(compile_text) -> None:
    result = compile_text(PIPELINE, params={"limt": "1"})
    assert result.exit_code == ExitCode.COMPILE
    assert result.errors[0].code == "params.unknown" and "did you mean `limit`" in result.errors[0].fix
    result = compile_text(PIPELINE, profile="prod")
    assert result.exit_code == ExitCode.COMPILE and result.errors[0].code == "params.unknown-profile"
    assert "dev" in result.errors[0].fix


def test_a_pipeline_without_profiles_accepts_any_profile_with_a_warning(compile_text) -> None:
    text = PIPELINE[: PIPELINE.index("profiles:")] + PIPELINE[PIPELINE.index("steps:"):]
    result = compile_text(text, profile="prod")
    assert result.pipeline is not None and result.pipeline.manifest["profile"] == "prod"
    assert [d.code for d in result.warnings if d.code.startswith("params")] == ["params.unknown-profile"]
    assert compile_text(text, profile="prod", mode="strict").pipeline is None


def test_undeclared_placeholder_is_an_error(compile_text) -> None:
    result = compile_text(PIPELINE.replace("${params.since}", "${params.sinse}"))
    assert result.pipeline is None
    assert any("sinse" in d.message for d in result.errors)


def test_escaped_placeholder_stays_literal() -> None:
    value, uses, missing = substitute_params("a $${params.x} b ${params.x}", {"x": 1})
    assert value == "a ${params.x} b 1"
    assert [u.name for u in uses] == ["x"] and not missing


@pytest.mark.parametrize(
    ("decl", "raw", "expected"),
    [
        ("integer", "12", 12), ("integer", "-3", -3), ("number", "2.5", 2.5), ("number", "4", 4),
        ("boolean", "yes", True), ("boolean", "FALSE", False), ("string", "007", "007"),
        ("array", "[1, 2]", [1, 2]), ("object", '{"a": 1}', {"a": 1}),
    ],
)
def test_text_values_are_coerced_to_the_declared_type(decl, raw, expected) -> None:
    data = {"params": {"p": {"type": decl}}}
    decls, problems = declared_params(data)
    assert not problems
    resolved = resolve_params(decls, data=data, cli={"p": raw}, env={}, profile=None)
    assert resolved.values == {"p": expected} and resolved.origins == {"p": "cli"}
    assert type(resolved.values["p"]) is type(expected)


@pytest.mark.parametrize(("decl", "raw"), [("integer", "1.5"), ("number", "nan"), ("boolean", "maybe"),
                                           ("array", '{"a": 1}'), ("integer", "")])
def test_bad_text_values_are_reported(decl, raw) -> None:
    data = {"params": {"p": {"type": decl}}}
    decls, _ = declared_params(data)
    resolved = resolve_params(decls, data=data, cli={}, env={env_name("p"): raw}, profile=None)
    assert "p" not in resolved.values
    assert resolved.problems[0].code == "params.invalid-value" and "environment" in resolved.problems[0].message


def test_shorthand_declaration_infers_type_from_default() -> None:
    decls, _ = declared_params({"params": {"n": 3, "flag": False, "name": "x", "ratio": 0.5}})
    assert {n: d.type for n, d in decls.items()} == {"n": "integer", "flag": "boolean", "name": "string",
                                                     "ratio": "number"}


def test_type_is_inferred_from_the_enum_when_there_is_no_default() -> None:
    data = {"params": {"level": {"enum": [1, 2, 3]}}}
    decls, _ = declared_params(data)
    resolved = resolve_params(decls, data=data, cli={"level": "2"}, env={}, profile=None)
    assert resolved.values == {"level": 2}


def test_env_name_upper_cases_and_maps_dashes() -> None:
    assert env_name("start-date") == "OSIRIS_PARAM_START_DATE"
