"""The HTTP requests the REST path sends, as the fake PostgREST recorded them (method, path, query, headers)."""

from __future__ import annotations

import uuid

import pytest

from osiris_runtime.drivers.supabase_rest import extract_rest, write_rest
from osiris_runtime.runner.batches import Batch, Column, Schema

pytestmark = pytest.mark.integration


@pytest.fixture
def own_schema(pg):
    """A non-public schema, as a Supabase project exposing `analytics` would have."""
    name = f"rest_schema_{uuid.uuid4().hex[:8]}"
    pg.execute(f'CREATE SCHEMA "{name}"')
    pg.execute(f'CREATE TABLE "{name}".events (id int PRIMARY KEY, kind text)')
    pg.execute(f'INSERT INTO "{name}".events SELECT g, \'k\' || g FROM generate_series(1, 3) g')
    yield name
    pg.execute(f'DROP SCHEMA "{name}" CASCADE')


def test_reads_send_key_profile_select_order_and_range(server, own_schema, make_ctx, api_key):
    ctx, _ = make_ctx({"table": "events", "schema": own_schema, "batch_size": 2})

    rows = [r for b in extract_rest(ctx) for r in b.rows]

    assert rows == [(1, "k1"), (2, "k2"), (3, "k3")]
    openapi, first, second = server.requests
    assert (openapi.method, openapi.path, openapi.headers["accept-profile"]) == ("GET", "/rest/v1/", own_schema)
    assert first.method == "GET" and first.path == "/rest/v1/events"
    assert first.query == (("select", "id,kind"), ("order", "id.asc"), ("offset", "0"), ("limit", "2"))
    assert second.query == (("select", "id,kind"), ("order", "id.asc"), ("offset", "2"), ("limit", "2"))
    for request in server.requests:
        assert request.headers["apikey"] == api_key and request.headers["authorization"] == f"Bearer {api_key}"
        assert request.headers["accept-profile"] == own_schema
    assert first.prefer == {"count=exact"} and second.prefer == set()


def test_schema_qualified_table_name_picks_the_profile(server, own_schema, make_ctx):
    ctx, _ = make_ctx({"table": f"{own_schema}.events", "columns": ["id"], "limit": 1})

    assert [r for b in extract_rest(ctx) for r in b.rows] == [(1,)]
    assert server.requests_to("events", "GET")[0].headers["accept-profile"] == own_schema


def test_writes_send_content_profile_columns_and_prefer(server, own_schema, make_ctx, pg):
    schema = Schema((Column("id", "int32"), Column("kind", "string")))
    append, _ = make_ctx({"table": "events", "schema": own_schema}, component="supabase.writer", mode="write")
    upsert, _ = make_ctx({"table": "events", "schema": own_schema, "write_mode": "upsert", "primary_key": "id"},
                         component="supabase.writer", mode="write")

    write_rest(append, iter([Batch(schema, [(4, "k4")])]))
    write_rest(upsert, iter([Batch(schema, [(4, "four"), (5, "k5")])]))

    probe, insert, probe2, merge = server.requests_to("events")
    assert probe.method == probe2.method == "GET" and probe.param("limit") == "0"  # does the target exist?
    assert insert.method == merge.method == "POST"
    assert insert.headers["content-profile"] == merge.headers["content-profile"] == own_schema
    assert insert.headers["content-type"] == "application/json"
    assert insert.prefer == {"return=minimal"} and insert.body == [{"id": 4, "kind": "k4"}]
    assert merge.prefer == {"return=minimal", "resolution=merge-duplicates"} and merge.param("on_conflict") == "id"
    assert sorted(merge.param("columns").split(",")) == ['"id"', '"kind"']
    assert pg.execute(f'SELECT id, kind FROM "{own_schema}".events WHERE id >= 4 ORDER BY id').fetchall() == [
        (4, "four"), (5, "k5"),
    ]
