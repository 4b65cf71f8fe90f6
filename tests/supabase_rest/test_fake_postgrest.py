"""The fake PostgREST itself: the PostgREST behaviours the driver tests rely on, through supabase-py."""

from __future__ import annotations

import httpx
import pytest
from postgrest.exceptions import APIError
from supabase import ClientOptions
from supabase import create_client as _create_client

pytestmark = pytest.mark.integration


def create_client(url: str, key: str):
    return _create_client(url, key, ClientOptions(httpx_client=httpx.Client()))  # no deprecated timeout/verify path


@pytest.fixture
def client(server, api_key):
    return create_client(server.url, api_key)


@pytest.fixture
def items(pg, table_name):
    name = table_name("fake")
    pg.execute(f'CREATE TABLE "{name}" (id int PRIMARY KEY, label text NOT NULL, n int)')
    pg.execute(f'INSERT INTO "{name}" SELECT g, \'l\' || g, g % 4 FROM generate_series(1, 10) g')
    return name


def _error(call) -> APIError:
    with pytest.raises(APIError) as info:
        call()
    return info.value


def test_delete_with_filters(client, pg, items):
    client.table(items).delete(returning="minimal").gte("id", 3).neq("n", 0).execute()

    assert [r[0] for r in pg.execute(f'SELECT id FROM "{items}" ORDER BY id')] == [1, 2, 4, 8]


def test_count_and_content_range(client, items):
    response = client.table(items).select("id", count="exact").eq("n", 1).order("id", desc=True).range(0, 1).execute()

    assert response.data == [{"id": 9}, {"id": 5}] and response.count == 3


def test_representation_and_ignore_duplicates(client, items):
    inserted = client.table(items).insert([{"id": 11, "label": "x", "n": 1}]).execute()
    ignored = client.table(items).upsert([{"id": 11, "label": "y", "n": 1}], ignore_duplicates=True).execute()

    assert inserted.data == [{"id": 11, "label": "x", "n": 1}] and ignored.data == []


@pytest.mark.parametrize(
    "call, code, message",
    [
        (lambda c, t: c.table("rest_no_such_table").select("*").execute(), "PGRST205", "Could not find the table"),
        (lambda c, t: c.table(t).insert({"id": 1, "label": "dup"}).execute(), "23505", "duplicate key"),
        (lambda c, t: c.table(t).insert({"id": 99}).execute(), "23502", "null value"),
        (lambda c, t: c.table(t).insert({"id": 98, "label": "a", "colour": "red"}).execute(), "PGRST204", "'colour' column"),
        (lambda c, t: c.table(t).select("colour").execute(), "42703", "does not exist"),
        (lambda c, t: c.table(t).select("*").filter("id", "near", "3").execute(), "PGRST100", "unknown operator"),
    ],
)
def test_errors_are_postgrest_shaped(client, items, call, code, message):
    error = _error(lambda: call(client, items))

    assert error.code == code and message in error.message


def test_a_wrong_key_is_401(server, items):
    error = _error(lambda: create_client(server.url, "not-the-key").table(items).select("*").execute())

    assert error.code == "PGRST301"
