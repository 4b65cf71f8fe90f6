"""Pure parts of the REST path: value encoding, backoff, error classification, scrubbing, config parsing."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import httpx
import pytest
from postgrest.exceptions import APIError

from osiris_runtime.drivers.supabase_rest import (
    OrderTerm,
    RetryPolicy,
    _filters,
    _order_terms,
    classify,
    describe_table,
    scrub,
    to_json_value,
)
from osiris_runtime.errors import ConfigError

KEY = "sb_secret_" + "UnitCanary" * 4


@pytest.mark.parametrize(
    "value, logical, expected",
    [
        (Decimal("12345678901234567890.000000000001"), "decimal(32,12)", "12345678901234567890.000000000001"),
        (Decimal("NaN"), "decimal", "NaN"),
        (float("nan"), "float64", "NaN"),
        (float("-inf"), "float64", "-Infinity"),
        (0.1, "float64", 0.1),
        (2**64 - 1, "uint64", 2**64 - 1),
        (b"\x00\xff", "bytes", "\\x00ff"),
        (dt.date(2024, 2, 29), "date", "2024-02-29"),
        (dt.datetime(2024, 1, 1, 1, 2, 3, 4), "datetime", "2024-01-01T01:02:03.000004"),
        (dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), "timestamp", "2024-01-01T00:00:00+00:00"),
        (dt.time(12, 30), "time", "12:30:00"),
        (dt.timedelta(hours=838, minutes=59, seconds=59), "time", "838:59:59"),
        (-dt.timedelta(seconds=1, microseconds=500), "time", "-00:00:01.000500"),
        ('{"a": [1, 2]}', "json", {"a": [1, 2]}),
        ("not json", "json", "not json"),
        ('{"a": 1}', "string", '{"a": 1}'),  # only json columns are parsed
        (uuid.UUID(int=1), "string", "00000000-0000-0000-0000-000000000001"),
        ({"b", "a"}, "string", "a,b"),
        (None, "int32", None),
        (True, "bool", True),
    ],
)
def test_values_are_encoded_for_postgrest_without_loss(value, logical, expected):
    encoded = to_json_value(value, logical)
    assert encoded == expected
    json.dumps(encoded, allow_nan=False)  # what supabase-py will do with it


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(retries=5, base_s=0.5, cap_s=8)
    for attempt, step in enumerate([0.5, 1, 2, 4, 8, 8]):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(step / 2 <= d <= step for d in delays) and len(delays) > 1
    assert policy.delay(0, retry_after=5) == 5
    assert policy.delay(0, retry_after=100) == 8  # capped


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://h/rest/v1/t"))


def test_classification_of_failures():
    api = APIError({"code": "23505", "message": "duplicate key", "details": "Key (id)=(1) already exists.", "hint": None})
    conflict = classify(api, _response(409), [KEY])
    assert (conflict.status, conflict.code, conflict.transient) == (409, "23505", False)
    assert conflict.message == "duplicate key; details: Key (id)=(1) already exists."

    unavailable = classify(APIError({"code": "PGRST000", "message": "db down"}), _response(503, {"Retry-After": "2"}), [KEY])
    assert (unavailable.transient, unavailable.maybe_committed, unavailable.retry_after) == (True, False, 2.0)
    assert classify(APIError({"message": "slow down"}), _response(429), [KEY]).transient
    assert classify(APIError({"message": "gateway"}), _response(504), [KEY]).maybe_committed
    # a proxy's non-JSON error page: supabase-py puts the status in `code`
    assert classify(APIError({"code": "502", "message": "Bad Gateway"}), None, [KEY]).status == 502

    refused = classify(httpx.ConnectError("[Errno 111] Connection refused"), None, [KEY])
    assert (refused.transient, refused.maybe_committed) == (True, False)
    reset = classify(httpx.RemoteProtocolError("Server disconnected without sending a response."), None, [KEY])
    assert (reset.transient, reset.maybe_committed) == (True, True)
    assert not classify(ValueError("Out of range float values are not JSON compliant"), None, [KEY]).transient


def test_error_texts_never_carry_the_key():
    echoed = APIError({"code": "PGRST301", "message": f"bad key {KEY}", "details": f"Authorization: Bearer {KEY}",
                       "hint": "apikey=eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl"})
    failure = classify(echoed, _response(401), [KEY])
    assert KEY not in failure.message and "UnitCanary" not in failure.message and "eyJ" not in failure.message
    assert scrub(f"https://x.supabase.co/rest/v1/t?apikey={KEY}", [KEY]) == "https://x.supabase.co/rest/v1/t?apikey=***"
    assert scrub("sb_publishable_abcdef123 and sb_secret_xyz", []) == "*** and ***"


def test_order_spellings():
    assert _order_terms("created_at.desc,id") == [OrderTerm("created_at", True), OrderTerm("id")]
    assert _order_terms(["day desc", "shop.asc.nullsfirst"]) == [OrderTerm("day", True), OrderTerm("shop", False, True)]
    assert _order_terms(None) == []
    with pytest.raises(ConfigError):
        _order_terms("id.upwards")


def test_filter_spellings():
    assert _filters({"status": "eq.done", "n": "not.in.(1,2)", "city": "Brno", "ids": [1, 2]}) == [
        ("status", "eq", "done"), ("n", "not.in", "(1,2)"), ("city", None, "Brno"), ("ids", "in", [1, 2]),
    ]
    assert _filters("a=gte.5&b=is.null") == [("a", "gte", "5"), ("b", "is", "null")]
    with pytest.raises(ConfigError):
        _filters("a > 5")


def test_table_description_from_openapi():
    openapi = {"definitions": {"t": {"required": ["id"], "properties": {
        "id": {"format": "bigint", "type": "integer", "description": "Note:\nThis is a Primary Key.<pk/>"},
        "name": {"format": "character varying", "type": "string", "maxLength": 40},
        "mood": {"format": "public.mood", "type": "string", "enum": ["sad", "ok"]},
        "tags": {"format": "text[]", "type": "array"},
    }}}}
    columns = describe_table(openapi, "t")
    assert [(c.name, c.logical_type, c.nullable, c.primary_key, c.source_type) for c in columns] == [
        ("id", "int64", False, True, "bigint"),
        ("name", "string", True, False, "character varying(40)"),
        ("mood", "string", True, False, "public.mood"),
        ("tags", "json", True, False, "text[]"),
    ]
    assert describe_table(openapi, "other") is None and describe_table(None, "t") is None
