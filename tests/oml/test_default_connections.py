"""Default connections: one rule (`resolve_step_alias`) for validator, compiler and runner.

A step of a component that takes a connection and has no `config.connection` uses its family's
alias marked `default: true`, else the alias named `default` (Osiris v0.1.0 behaviour).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from osiris_runtime.compiler import compile_pipeline
from osiris_runtime.errors import ConfigError
from osiris_runtime.oml.connections import AliasProblem, ResolvedAlias, parse_connections, resolve_step_alias
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.secrets import ConnectionResolver, ConnectionTarget, Redactor, SecretSources

FLAGGED = """\
connections:
  mysql:
    db_movies:
      host: ${MYSQL_HOST}
      database: movies
      user: ${MYSQL_USER}
      password: ${MYSQL_PASSWORD}
    primary:
      default: true
      host: localhost
      database: shop
      user: reader
      password: ${MYSQL_PASSWORD}
"""

NAMED = """\
connections:
  mysql:
    default:
      host: localhost
      database: shop
      user: reader
      password: ${MYSQL_PASSWORD}
    other: {host: h, database: d, user: u, password: p}
"""

NONE = """\
connections:
  mysql:
    a: {host: h, database: d, user: u, password: "${P}"}
    b: {host: h, database: d, user: u, password: "${P}"}
"""

NO_CONNECTION_STEP = """\
oml_version: "0.1.0"
name: uses-defaults
steps:
  - id: extract-movies
    component: mysql.extractor
    mode: read
    config:
      query: SELECT * FROM movies
"""

MESSAGE = "no default connection for `mysql`: mark one alias `default: true`"


def test_the_flagged_alias_wins_then_the_alias_named_default():
    flagged = resolve_step_alias(parse_connections(FLAGGED), "mysql")
    assert isinstance(flagged, ResolvedAlias) and (flagged.name, flagged.source) == ("primary", "default-flag")
    assert flagged.fields["database"] == "shop" and "default" not in flagged.fields
    named = resolve_step_alias(parse_connections(NAMED), "mysql")
    assert isinstance(named, ResolvedAlias) and (named.name, named.source) == ("default", "default-name")
    explicit = resolve_step_alias(parse_connections(FLAGGED), "mysql", "@mysql.db_movies")
    assert isinstance(explicit, ResolvedAlias) and explicit.name == "db_movies" and not explicit.is_default


def test_without_a_default_the_problem_says_how_to_mark_one():
    problem = resolve_step_alias(parse_connections(NONE), "mysql")
    assert isinstance(problem, AliasProblem)
    assert problem.code == "connection.no-default" and problem.message == MESSAGE
    assert problem.available == ("a", "b")
    supabase = resolve_step_alias(parse_connections(NONE), "supabase")
    assert isinstance(supabase, AliasProblem)
    assert supabase.message == "no default connection for `supabase`: mark one alias `default: true`"


def test_the_validator_uses_the_default_alias_for_required_fields(registry):
    diagnostics = validate(parse_oml(NO_CONNECTION_STEP), registry, connections=parse_connections(FLAGGED))
    assert [d for d in diagnostics if d.is_error] == [], [d.format() for d in diagnostics]


def test_a_default_alias_lacking_a_field_is_named_in_the_message(registry):
    thin = parse_connections("connections:\n  mysql:\n    main: {default: true, host: h}\n")
    diagnostics = validate(parse_oml(NO_CONNECTION_STEP), registry, connections=thin)
    missing = [d for d in diagnostics if d.code == "config.missing-required"]
    assert {m for d in missing for m in d.data["missing"]} == {"database", "user", "password"}
    assert "@mysql.main" in missing[0].message and "default" in missing[0].message


def test_the_validator_reports_a_missing_default_once_on_the_config_key(registry):
    diagnostics = validate(parse_oml(NO_CONNECTION_STEP), registry, connections=parse_connections(NONE))
    errors = [d for d in diagnostics if d.is_error]
    assert [(d.code, d.message) for d in errors] == [("connection.no-default", MESSAGE)]
    assert (errors[0].range.start.line, errors[0].range.start.column) == (6, 4)  # `config:`


def test_the_compiler_names_the_default_alias_in_the_manifest(registry):
    result = compile_pipeline(NO_CONNECTION_STEP, registry, connections=parse_connections(FLAGGED))
    assert result.pipeline is not None, [d.format() for d in result.diagnostics]
    assert result.pipeline.manifest["steps"][0]["connection"] == "@mysql.primary"
    failed = compile_pipeline(NO_CONNECTION_STEP, registry, connections=parse_connections(NONE))
    assert failed.pipeline is None and [d.message for d in failed.errors] == [MESSAGE]


def test_the_runner_picks_the_same_alias_and_says_the_same_when_there_is_none(tmp_path: Path):
    path = tmp_path / "osiris_connections.yaml"
    path.write_text(FLAGGED)
    resolver = ConnectionResolver(path, SecretSources(None, {"MYSQL_PASSWORD": "pw-123"}), Redactor())
    chosen, fields = resolver.resolve_alias(ConnectionTarget("mysql"))
    assert chosen.name == "primary" and fields["database"] == "shop"
    path.write_text(NONE)
    with pytest.raises(ConfigError) as err:
        resolver.resolve(ConnectionTarget("mysql"))
    assert err.value.code == "connection.no-default" and err.value.message == MESSAGE
