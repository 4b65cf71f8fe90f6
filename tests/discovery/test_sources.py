"""Discovery against the real MariaDB and PostgreSQL, and PostgREST's OpenAPI through the fake."""

from __future__ import annotations

from typing import Any

import pytest

from osiris_runtime.discovery.sources import discover_connection
from tests.fakes import postgrest as fake_postgrest

pytestmark = pytest.mark.integration
REST_KEY = "sb_secret_" + "I14Canary" * 4


def by_name(found: Any) -> dict[str, Any]:
    return {t.qualified: t for t in found.tables}


def test_mysql_tables_views_columns_keys_and_estimates(mysql_db: str):
    calls: list[str] = []
    found = discover_connection("mysql", {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "",
                                          "database": mysql_db}, progress=lambda phase, d, t: calls.append(phase))
    tables = by_name(found)
    assert found.default_schema == mysql_db and found.method == "information_schema"
    assert set(tables) == {f"{mysql_db}.{n}" for n in ("customers", "orders", "order_items", "MixedCase", "odd name", "big_orders")}
    items = tables[f"{mysql_db}.order_items"]
    assert items.primary_key == ("order_id", "line_no") and items.kind == "table"
    customers = tables[f"{mysql_db}.customers"]
    assert customers.is_unique_key(["email"]) and customers.is_unique_key(["id"])
    assert [(c.name, c.source_type, c.logical_type, c.nullable) for c in customers.columns] == [
        ("id", "int(10) unsigned", "uint32", False), ("email", "varchar(200)", "string", False),
        ("name", "varchar(100)", "string", True), ("profile", "json", "json", True)]
    orders = tables[f"{mysql_db}.orders"]
    assert orders.column("total").logical_type == "decimal(12,2)"
    assert orders.column("status").source_type == "enum('new','paid')"
    assert orders.row_estimate == 3
    view = tables[f"{mysql_db}.big_orders"]
    assert view.kind == "view" and view.row_estimate is None and view.column_names == ["id", "total"]
    assert tables[f"{mysql_db}.odd name"].column_names == ["the key", "back`tick"]
    assert tables[f"{mysql_db}.MixedCase"].primary_key == ("Id",)
    assert calls == ["connect", "tables", "columns", "keys", "done"]


def test_postgres_all_user_schemas_in_bulk(pg_db: str):
    found = discover_connection("supabase", {"dsn": f"postgresql://postgres@127.0.0.1:5432/{pg_db}"})
    tables = by_name(found)
    assert found.default_schema == "public" and found.method == "pg_catalog"
    assert set(tables) == {"public.customers", "public.orders", "public.order_items", "public.MixedCase",
                           "public.odd name", "public.big_orders", "i14_other.audit_log"}
    assert tables["public.order_items"].primary_key == ("order_id", "line_no")
    assert tables["public.customers"].is_unique_key(["email"])
    orders = tables["public.orders"]
    assert [(c.name, c.source_type, c.logical_type) for c in orders.columns][:4] == [
        ("id", "bigint", "int64"), ("customer_id", "integer", "int32"), ("total", "numeric(12,2)", "decimal(12,2)"),
        ("placed_at", "timestamp with time zone", "timestamp")]
    assert orders.row_estimate == 3
    assert tables["public.big_orders"].kind == "view"
    assert tables["public.odd name"].column_names == ["the key", 'quo"te']
    audit = tables["i14_other.audit_log"]
    assert audit.column("happened_at").nullable is False and audit.column("payload").logical_type == "json"


def test_table_pattern_keeps_matching_names_only(pg_db: str):
    found = discover_connection("supabase", {"dsn": f"postgresql://postgres@127.0.0.1:5432/{pg_db}"}, pattern="order*")
    assert sorted(t.name for t in found.tables) == ["order_items", "orders"]


def test_rest_only_supabase_through_openapi(pg_db: str):
    fake = fake_postgrest
    with fake.FakePostgrest(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_db}", api_key=REST_KEY) as server:
        found = discover_connection("supabase", {"url": server.url, "key": REST_KEY})
        assert len(server.requests) == 1  # one request, whatever the number of tables
    tables = by_name(found)
    assert found.method == "postgrest-openapi"
    assert {"public.customers", "public.orders", "public.order_items", "public.MixedCase", "public.odd name"} <= set(tables)
    assert tables["public.order_items"].primary_key == ("order_id", "line_no")
    email = tables["public.customers"].column("email")
    assert (email.source_type, email.logical_type, email.nullable) == ("character varying(200)", "string", False)


def test_rest_wrong_key_is_an_auth_failure_without_the_key(pg_db: str):
    from osiris_runtime.connectivity import classify

    fake = fake_postgrest
    with fake.FakePostgrest(f"host=127.0.0.1 port=5432 user=postgres dbname={pg_db}", api_key=REST_KEY) as server:
        with pytest.raises(PermissionError) as caught:
            discover_connection("supabase", {"url": server.url, "key": "wrong-" + REST_KEY})
    assert classify(caught.value) == "auth" and REST_KEY not in str(caught.value)
