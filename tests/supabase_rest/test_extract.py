"""supabase.extractor over REST: the real supabase-py client against the fake PostgREST on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from osiris_runtime.drivers.supabase_rest import extract_rest
from osiris_runtime.errors import ConfigError, OsirisError, RunFailed
from osiris_runtime.runner.batches import Column


pytestmark = pytest.mark.integration


def _rows(batches):
    return [row for batch in batches for row in batch.rows]


def _numbers_table(pg, name, n, *, primary_key=True):
    key = "PRIMARY KEY" if primary_key else ""
    pg.execute(f'CREATE TABLE "{name}" (id int {key}, grp text, amount numeric(12,2))')
    pg.execute(f'INSERT INTO "{name}" SELECT g, CASE WHEN g %% 3 = 0 THEN \'fizz\' ELSE \'plain\' END, g / 100.0 '
               "FROM generate_series(1, %s) g ORDER BY random()", (n,))


def test_reads_every_row_in_primary_key_order_across_pages(server, pg, table_name, make_ctx):
    name = table_name("pages")
    _numbers_table(pg, name, 2600)
    ctx, recorder = make_ctx({"table": name})

    batches = list(extract_rest(ctx))

    ids = [row[0] for row in _rows(batches)]
    assert ids == list(range(1, 2601))
    assert [len(b) for b in batches] == [1000, 1000, 600]
    assert ctx.rows_read == 2600
    gets = server.requests_to(name, "GET")
    assert [(r.param("offset"), r.param("limit"), r.param("order")) for r in gets] == [
        ("0", "1000", "id.asc"), ("1000", "1000", "id.asc"), ("2000", "1000", "id.asc"),
    ]
    assert "count=exact" in gets[0].prefer  # the first page learns the total, the rest do not pay for it
    assert all("count=exact" not in r.prefer for r in gets[1:])
    assert recorder.named("rest.extract.start")[0]["order"] == ["id"]


def test_server_row_cap_below_the_page_size_still_reads_everything(server, pg, table_name, make_ctx):
    name = table_name("capped")
    _numbers_table(pg, name, 2600)
    server.max_rows = 1000  # Supabase's default "Max rows"
    ctx, _ = make_ctx({"table": name, "batch_size": 5000})

    ids = [row[0] for row in _rows(extract_rest(ctx))]

    assert ids == list(range(1, 2601))
    assert [r.param("offset") for r in server.requests_to(name, "GET")] == ["0", "1000", "2000"]


def test_schema_and_values_are_faithful_to_postgres_types(server, pg, table_name, make_ctx):
    name = table_name("types")
    pg.execute(
        f'''CREATE TABLE "{name}" (
            id bigint PRIMARY KEY, small smallint, i integer, big numeric(38,10), r real, d double precision,
            flag boolean, t text, v varchar(20), raw bytea, day date, at_time time, local_ts timestamp(6),
            ts timestamptz, doc jsonb, uid uuid, tags text[])'''
    )
    uid = uuid.uuid4()
    pg.execute(
        f'INSERT INTO "{name}" VALUES (9007199254740993, -32768, 2147483647, 1234567890123456789012345678.0123456789,'
        " 1.5, 0.1, true, 'emoji \U0001F600', 'short', '\\x00ff10', '2024-02-29', '23:59:59.123456',"
        " '2024-01-02 03:04:05.678901', '2024-01-02 03:04:05.5+02', '{\"a\": [1, 2.5, null]}', %s, '{x,y}'),"
        " (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        (uid,),
    )
    ctx, _ = make_ctx({"table": name})

    batches = list(extract_rest(ctx))

    schema = batches[0].schema
    assert [(c.name, c.type) for c in schema.columns] == [
        ("id", "int64"), ("small", "int16"), ("i", "int32"), ("big", "decimal"), ("r", "float32"),
        ("d", "float64"), ("flag", "bool"), ("t", "string"), ("v", "string"), ("raw", "bytes"), ("day", "date"),
        ("at_time", "time"), ("local_ts", "datetime"), ("ts", "timestamp"), ("doc", "json"), ("uid", "string"),
        ("tags", "json"),
    ]
    assert schema.columns[0] == Column("id", "int64", False, "bigint")
    assert schema.columns[8].source_type == "character varying(20)"
    nulls, full = _rows(batches)
    assert nulls == (1,) + (None,) * 16
    assert full == (
        9007199254740993, -32768, 2147483647, Decimal("1234567890123456789012345678.0123456789"), 1.5, 0.1, True,
        "emoji \U0001F600", "short", b"\x00\xff\x10", dt.date(2024, 2, 29), dt.time(23, 59, 59, 123456),
        dt.datetime(2024, 1, 2, 3, 4, 5, 678901), dt.datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=dt.timezone.utc),
        '{"a":[1,2.5,null]}', str(uid), '["x","y"]',
    )
    (get,) = [r for r in server.requests_to(name, "GET")]
    assert "big::text" in get.param("select").split(",")  # numeric travels as text: no float rounding


def test_filters_columns_and_limit_from_the_config(server, pg, table_name, make_ctx):
    name = table_name("filters")
    _numbers_table(pg, name, 300)
    config = {"table": name, "columns": ["id", "grp"], "filter": {"grp": "eq.fizz", "id": "gt.30"}, "limit": 25,
              "batch_size": 10}
    ctx, _ = make_ctx(config)

    rows = _rows(extract_rest(ctx))

    assert rows == [(i, "fizz") for i in range(33, 33 + 3 * 25, 3)]
    gets = server.requests_to(name, "GET")
    assert [r.param("limit") for r in gets] == ["10", "10", "5"]
    assert all(r.param("grp") == "eq.fizz" and r.param("id") == "gt.30" and r.param("select") == "id,grp" for r in gets)


def test_filter_in_postgrest_query_string_form(server, pg, table_name, make_ctx):
    name = table_name("qsfilter")
    _numbers_table(pg, name, 50)
    ctx, _ = make_ctx({"table": name, "filter": "id=in.(2,4,8)&grp=not.eq.fizz", "columns": ["id"]})

    assert _rows(extract_rest(ctx)) == [(2,), (4,), (8,)]


def test_configured_order_is_kept_and_completed_with_the_primary_key(server, pg, table_name, make_ctx):
    name = table_name("order")
    _numbers_table(pg, name, 30)
    ctx, _ = make_ctx({"table": name, "order": "grp.desc", "batch_size": 7})

    rows = _rows(extract_rest(ctx))

    assert [r[0] for r in rows] == sorted((r[0] for r in rows), key=lambda i: (i % 3 == 0, i))  # "plain" > "fizz"
    assert {r.param("order") for r in server.requests_to(name, "GET")} == {"grp.desc,id.asc"}


def test_without_a_primary_key_every_column_orders_the_pages(server, pg, table_name, make_ctx):
    name = table_name("nokey")
    _numbers_table(pg, name, 40, primary_key=False)
    pg.execute(f'INSERT INTO "{name}" VALUES (5, \'plain\', 0.05)')  # an exact duplicate row
    ctx, _ = make_ctx({"table": name, "batch_size": 9})

    rows = _rows(extract_rest(ctx))

    assert sorted(r[0] for r in rows) == sorted(list(range(1, 41)) + [5])
    assert {r.param("order") for r in server.requests_to(name, "GET")} == {"id.asc,grp.asc,amount.asc"}


def test_types_are_inferred_from_json_when_openapi_is_hidden(server, pg, table_name, make_ctx):
    name = table_name("noapi")
    pg.execute(f'CREATE TABLE "{name}" (id int PRIMARY KEY, label text, score double precision, ok boolean, doc jsonb)')
    pg.execute(f'INSERT INTO "{name}" SELECT g, \'l\' || g, g + 0.5, g % 2 = 0, \'{{"k": 1}}\' FROM generate_series(1, 5) g')
    server.serve_openapi = False
    ctx, _ = make_ctx({"table": name, "batch_size": 2})

    batches = list(extract_rest(ctx))

    assert [(c.name, c.type) for c in batches[0].schema.columns] == [
        ("id", "int64"), ("label", "string"), ("score", "float64"), ("ok", "bool"), ("doc", "json"),
    ]
    assert [r[0] for r in _rows(batches)] == [1, 2, 3, 4, 5]
    assert _rows(batches)[0] == (1, "l1", 1.5, False, '{"k":1}')
    # without a key to order by, every orderable column is the order (json is left out)
    assert {r.param("order") for r in server.requests_to(name, "GET") if r.param("order")} == {"id.asc,label.asc,score.asc,ok.asc"}


def test_empty_table_yields_one_empty_batch_with_the_schema(server, pg, table_name, make_ctx):
    name = table_name("empty")
    pg.execute(f'CREATE TABLE "{name}" (id int PRIMARY KEY, label text)')
    ctx, _ = make_ctx({"table": name})

    batches = list(extract_rest(ctx))

    assert len(batches) == 1 and batches[0].rows == [] and batches[0].schema.names == ["id", "label"]


def test_transient_failures_are_retried_with_backoff(server, fake, pg, table_name, make_ctx):
    name = table_name("flaky")
    _numbers_table(pg, name, 1500)
    ctx, recorder = make_ctx({"table": name})
    list(extract_rest(make_ctx({"table": name})[0]))  # warm the OpenAPI path so faults hit the data pages
    server.clear()
    server.inject(
        fake.Fault(status=None, method="GET"),  # the OpenAPI request: dropped connection
        fake.Fault(status=503, method="GET"),  # its retry: service unavailable
        fake.Fault(status=429, method="GET", headers={"Retry-After": "0"}),  # the first page: rate limited
    )

    batches = list(extract_rest(ctx))

    assert [r[0] for r in _rows(batches)] == list(range(1, 1501))
    assert batches[0].schema.columns[2].type == "decimal"  # the OpenAPI description was read after all
    retries = recorder.named("rest.retry")
    assert [r["status"] for r in retries] == [None, 503, 429]
    assert all(0 < r["delay_s"] <= 30 for r in retries)
    assert recorder.resolutions == 2  # the dropped connection made it reconnect with a fresh ctx.connection()
    assert ctx.extra_metrics["rest_retries"] == 3


def test_a_wrong_key_fails_at_once_and_never_shows_the_key(server, api_key, pg, table_name, make_ctx):
    name = table_name("badkey")
    _numbers_table(pg, name, 3)
    wrong = "sb_secret_" + "WrongKeyCanary" * 3
    ctx, recorder = make_ctx({"table": name}, key=wrong)

    with pytest.raises(RunFailed) as info:
        list(extract_rest(ctx))

    message = str(info.value)
    assert "HTTP 401" in message and info.value.code == "run.supabase-rest-failed"
    assert wrong not in message and api_key not in message and "WrongKeyCanary" not in json.dumps(recorder.events)
    assert len(server.requests_to(name, "GET")) == 1  # a 4xx is not retried


def test_unknown_table_is_a_clear_error(server, make_ctx):
    ctx, _ = make_ctx({"table": "rest_does_not_exist"})

    with pytest.raises(RunFailed, match="PGRST205"):
        list(extract_rest(ctx))


@pytest.mark.parametrize(
    "config, code",
    [
        ({"table": 'orders"; DROP TABLE x; --'}, "config.invalid-identifier"),
        ({"table": "orders?select=secret"}, "config.invalid-identifier"),
        ({"table": "t", "columns": ["id", "a,b"]}, "config.invalid-identifier"),
        ({"query": "SELECT 1"}, "connection.direct-required"),
        ({"table": "t", "filter": "status = 'done'"}, "config.invalid-value"),
        ({"table": "t", "order": "id sideways"}, "config.invalid-value"),
    ],
)
def test_bad_configs_fail_before_any_request(server, make_ctx, config, code):
    ctx, _ = make_ctx(config)

    with pytest.raises(OsirisError) as info:
        list(extract_rest(ctx))

    assert info.value.code == code
    assert not [r for r in server.requests if r.path != "/rest/v1/"]


def test_missing_key_in_the_connection_is_a_config_error(make_ctx):
    ctx, _ = make_ctx({"table": "t"}, key="")

    with pytest.raises(ConfigError, match="no key"):
        list(extract_rest(ctx))


def test_a_column_the_table_lacks_is_named_in_the_error(server, pg, table_name, make_ctx):
    name = table_name("nocol")
    _numbers_table(pg, name, 3)
    ctx, _ = make_ctx({"table": name, "columns": ["id", "colour"]})

    with pytest.raises(RunFailed) as info:
        list(extract_rest(ctx))

    assert info.value.code == "run.column-missing" and "colour" in str(info.value)
    assert server.requests_to(name, "GET") == []


def test_offset_and_select_of_original_configs_skip_rows_and_pick_columns(server, pg, table_name, make_ctx):
    name = table_name("offset")
    _numbers_table(pg, name, 25)
    ctx, _ = make_ctx({"table": name, "offset": 20, "select": "id, grp", "batch_size": 3})

    batches = list(extract_rest(ctx))

    assert [row[0] for row in _rows(batches)] == [21, 22, 23, 24, 25]
    assert list(batches[0].schema.names) == ["id", "grp"]
    limited, _ = make_ctx({"table": name, "offset": 5, "limit": 4})
    assert [row[0] for row in _rows(extract_rest(limited))] == [6, 7, 8, 9]
