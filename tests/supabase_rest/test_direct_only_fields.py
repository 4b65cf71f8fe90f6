"""`database`, `port`, `user`, `sslmode` in a Supabase step over a REST-only connection: refused, never ignored.

They shape only the direct Postgres connection (`dsn`/`host`); PostgREST always reaches the
project's own database. The validator says so on the key (spec constraints), and the driver refuses
a manifest that holds one anyway, before any request is sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.supabase import SupabaseExtractor, SupabaseWriter
from osiris_runtime.errors import ConfigError
from osiris_runtime.oml.connections import parse_connections
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry
from osiris_runtime.runner.batches import Batch, Column, Schema

from .conftest import API_KEY

REST_ONLY = "connections:\n  supabase:\n    main: {default: true, url: 'https://abcdefgh.supabase.co', key: '${SB_KEY}'}\n"
PROJECT_ONLY = "connections:\n  supabase:\n    main: {default: true, project_id: abcdefgh, service_role_key: '${SB_KEY}'}\n"
DIRECT = "connections:\n  supabase:\n    main: {default: true, url: 'https://abcdefgh.supabase.co', key: '${SB_KEY}', dsn: '${SB_DSN}'}\n"


def pipeline(component: str, mode: str, *lines: str) -> str:
    body = "".join(f"      {line}\n" for line in lines)
    return ('oml_version: "0.1.0"\nname: p\nsteps:\n'
            f"  - id: s\n    component: {component}\n    mode: {mode}\n    config:\n"
            '      connection: "@supabase.main"\n' + body)


def constraint_errors(text: str, connections: str) -> list[Any]:
    found = validate(parse_oml(text), Registry(), connections=parse_connections(connections))
    return [d for d in found if d.code == "config.constraint" and d.is_error]


@pytest.mark.parametrize("field,value", [("database", "analytics"), ("port", "6543"), ("user", "reporter"),
                                         ("sslmode", "require")])
@pytest.mark.parametrize("connections", [REST_ONLY, PROJECT_ONLY])
def test_a_direct_only_field_over_rest_is_an_error_on_its_key(field: str, value: str, connections: str):
    text = pipeline("supabase.writer", "write", "table: movies", f"{field}: {value}")
    [error] = constraint_errors(text, connections)
    assert (error.range.start.line + 1, error.range.start.column + 1) == (10, 7)  # on `<field>:`
    assert f"`{field}` applies only to a direct Postgres connection" in error.message
    assert f"remove `{field}`" in (error.fix or "") and "add `dsn`" in (error.fix or "")


def test_the_extractor_refuses_a_database_over_rest_too():
    text = pipeline("supabase.extractor", "extract", "table: movies", "database: analytics")
    [error] = constraint_errors(text, REST_ONLY)
    assert (error.range.start.line + 1, error.range.start.column + 1) == (10, 7)


def test_a_direct_only_field_is_fine_with_a_direct_connection_or_a_step_host():
    assert constraint_errors(pipeline("supabase.writer", "write", "table: movies", "database: analytics"), DIRECT) == []
    text = pipeline("supabase.writer", "write", "table: movies", "host: 127.0.0.1", "database: analytics")
    assert constraint_errors(text, REST_ONLY) == []


def _rest_ctx(server: Any, component: str, mode: str, config: dict[str, Any]) -> StepContext:
    return StepContext(step_id="s", component=component, mode=mode, config=config,
                       resolve_connection=lambda: {"url": server.url, "key": API_KEY}, emit=lambda *a, **k: None)


@pytest.mark.integration
def test_the_writer_refuses_a_database_over_rest_before_any_request(server: Any):
    ctx = _rest_ctx(server, "supabase.writer", "write", {"table": "movies", "database": "analytics", "port": 6543})
    schema = Schema((Column("id", "int32", False), Column("score", "decimal(6,2)")))
    with pytest.raises(ConfigError) as refused:
        SupabaseWriter(ctx).run({"up": iter([Batch(schema, [(1, Decimal("1"))])])})
    assert refused.value.code == "connection.direct-required"
    assert "`database`, `port` apply only to a direct Postgres connection" in refused.value.message
    assert server.requests == []


@pytest.mark.integration
def test_the_extractor_refuses_an_sslmode_over_rest_before_any_request(server: Any):
    ctx = _rest_ctx(server, "supabase.extractor", "extract", {"table": "movies", "sslmode": "require"})
    with pytest.raises(ConfigError) as refused:
        SupabaseExtractor(ctx).run({})
    assert refused.value.code == "connection.direct-required" and "`sslmode`" in refused.value.message
    assert server.requests == []


def test_no_quick_fix_data_adds_a_connection_only_field_to_the_step():
    """`dsn` may not be set in a step (`connection.forbidden-override`): "add dsn" would be a wrong fix."""
    [error] = constraint_errors(pipeline("supabase.writer", "write", "table: movies", "database: analytics"), REST_ONLY)
    assert "missing" not in error.data and error.data.get("connection") is True
