"""The Supabase key under its three spellings (`key`, `service_role_key`, `anon_key`), everywhere.

Connections files written for the original Osiris call it `service_role_key` (or `anon_key`).
"""

from __future__ import annotations

import pytest

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.supabase_rest import RestEndpoint
from osiris_runtime.oml.connections import parse_connections, validate_connections
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry
from osiris_runtime.secrets import ConnectionResolver, ConnectionTarget, Redactor, SecretSources

from .conftest import API_KEY

SPELLINGS = ["key", "service_role_key", "anon_key"]

PIPELINE = """\
oml_version: "0.1.0"
name: to-supabase
steps:
  - id: write-movies
    component: supabase.writer
    mode: write
    config:
      connection: "@supabase.main"
      table: movies
      write_mode: append
"""


def connections_text(spelling: str) -> str:
    return f"""\
connections:
  supabase:
    main:
      default: true
      url: https://abcdefgh.supabase.co
      {spelling}: ${{SUPABASE_KEY}}
"""


def ctx_with(connection: dict) -> StepContext:
    return StepContext(step_id="s", component="supabase.writer", mode="write", config={"table": "t"},
                       resolve_connection=lambda: dict(connection), emit=lambda *a, **k: None)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_alias_with_any_spelling_supplies_the_key_to_validation(spelling: str):
    registry = Registry()
    conns = parse_connections(connections_text(spelling))
    diagnostics = validate(parse_oml(PIPELINE), registry, connections=conns)
    assert [d for d in diagnostics if d.is_error] == [], [d.format() for d in diagnostics]
    assert validate_connections(conns, registry) == []


def test_an_alias_without_any_spelling_lacks_the_key():
    registry = Registry()
    conns = parse_connections("connections:\n  supabase:\n    main: {url: 'https://abcdefgh.supabase.co', dsn: '${DSN}'}\n")
    missing = [d for d in validate(parse_oml(PIPELINE), registry, connections=conns) if d.code == "config.missing-required"]
    assert [d.data["missing"] for d in missing] == [["key"]]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_rest_driver_reads_every_spelling(spelling: str):
    endpoint = RestEndpoint.resolve(ctx_with({"url": "https://abcdefgh.supabase.co", spelling: API_KEY}))
    assert endpoint.key == API_KEY


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_doctor_authenticates_with_every_spelling(spelling: str, server):
    from osiris_runtime.connectivity import _check_supabase

    _check_supabase({"url": server.url, spelling: API_KEY}, 5.0)  # raises PermissionError on a bad key
    with pytest.raises(PermissionError):
        _check_supabase({"url": server.url, spelling: "sb_secret_wrong_key_value"}, 5.0)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_redactor_hides_every_spelling(spelling: str, tmp_path):
    path = tmp_path / "osiris_connections.yaml"
    path.write_text(connections_text(spelling))
    redactor = Redactor()
    resolved = ConnectionResolver(path, SecretSources(None, {"SUPABASE_KEY": API_KEY}), redactor).resolve(
        ConnectionTarget("supabase"))
    assert resolved[spelling] == API_KEY
    assert redactor.redact(resolved)[spelling] == "***"
    assert API_KEY not in redactor.redact(f"request failed with apikey {API_KEY}")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_key_does_not_count_as_a_direct_connection_for_create_if_missing(spelling: str):
    conns = parse_connections(connections_text(spelling))
    text = PIPELINE + "      create_if_missing: true\n"
    found = [d for d in validate(parse_oml(text), Registry(), connections=conns) if d.code.startswith("config.")]
    assert [(d.code, d.severity.label) for d in found] == [("config.constraint", "warning")]
    assert "needs `dsn` to create the table" in found[0].message
    with_dsn = parse_connections(connections_text(spelling) + "      dsn: ${SUPABASE_DB_URL}\n")
    assert [d for d in validate(parse_oml(text), Registry(), connections=with_dsn) if d.code.startswith("config.")] == []
