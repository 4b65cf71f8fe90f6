"""Fixtures of the OML tests: a registry of small fixture specs and a connections file."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from osiris_runtime.errors import Diagnostic
from osiris_runtime.oml.connections import ConnectionsFile, parse_connections
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry

SPECS = Path(__file__).parent / "specs"

CONNECTIONS_TEXT = """\
connections:
  mysql:
    shop:
      default: true
      host: db.internal
      database: shop
      user: reader
      password: ${MYSQL_PASSWORD}
    warehouse:
      host: dw.internal
      database: dw
      user: loader
      password: ${DW_PASSWORD}
  supabase:
    analytics:
      url: https://abc.supabase.co
      service_role_key: ${SUPABASE_KEY}
"""

VALID_PIPELINE = """\
oml_version: "0.1.0"
name: orders-to-warehouse
params:
  since: {type: string, default: "2024-01-01"}
steps:
  - id: pull-orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: "SELECT * FROM orders WHERE created_at >= '${params.since}'"
  - id: shape
    component: duckdb.processor
    mode: transform
    config:
      query: SELECT * FROM df_pull_orders
  - id: push-orders
    component: mysql.writer
    mode: write
    needs: [shape]
    config:
      connection: "@mysql.warehouse"
      table: orders
      write_mode: upsert
      primary_key: [order_id]
"""


@pytest.fixture
def valid_pipeline() -> str:
    return VALID_PIPELINE


@pytest.fixture(scope="session")
def registry() -> Registry:
    reg = Registry([SPECS])
    assert reg.problems() == [], [p.format() for p in reg.problems()]
    return reg


@pytest.fixture(scope="session")
def connections() -> ConnectionsFile:
    return parse_connections(CONNECTIONS_TEXT, Path("osiris_connections.yaml"))


@pytest.fixture
def check(registry: Registry, connections: ConnectionsFile) -> Callable[..., list[Diagnostic]]:
    """Validate a text with the fixture registry and connections (pass connections=None for none)."""

    def run(text: str, **kwargs: object) -> list[Diagnostic]:
        text = VALID_PIPELINE if text == "VALID" else text
        kwargs.setdefault("connections", connections)
        reg = kwargs.pop("registry", registry)
        return validate(parse_oml(text, source="p.yaml"), reg, **kwargs)  # type: ignore[arg-type]

    return run
