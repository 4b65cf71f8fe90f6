"""supabase.writer over REST: request shapes, data in PostgreSQL, retries, failures and secrets."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from osiris_runtime.drivers.supabase_rest import extract_rest, write_rest
from osiris_runtime.errors import ConfigError, OsirisError, RunFailed
from osiris_runtime.runner.batches import Batch, Column, Schema

pytestmark = pytest.mark.integration

PEOPLE = Schema((Column("id", "int32", False), Column("name", "string"), Column("score", "decimal(12,2)")))


def _people(ids, suffix=""):
    return Batch(PEOPLE, [(i, f"person {i}{suffix}", Decimal(i) / 4) for i in ids])


def _people_table(pg, name, key="id int PRIMARY KEY"):
    pg.execute(f'CREATE TABLE "{name}" ({key}, name text NOT NULL, score numeric(12,2))')


def _table(pg, name, order="id"):
    return pg.execute(f'SELECT * FROM "{name}" ORDER BY {order}').fetchall()


def _writer(make_ctx, config):
    return make_ctx(config, component="supabase.writer", mode="write")


def test_append_inserts_every_row_in_requests_of_batch_size(server, pg, table_name, make_ctx):
    name = table_name("append")
    _people_table(pg, name)
    ctx, recorder = _writer(make_ctx, {"table": name, "batch_size": 40})

    write_rest(ctx, iter([_people(range(1, 101)), _people(range(101, 131))]))

    assert _table(pg, name) == [(i, f"person {i}", Decimal(i) / 4) for i in range(1, 131)]
    assert ctx.rows_written == 130
    posts = server.requests_to(name, "POST")
    assert [len(p.body) for p in posts] == [40, 40, 20, 30]  # batches are split, never merged across inputs
    assert all(p.prefer == {"return=minimal"} and p.param("on_conflict") is None for p in posts)
    assert set(posts[0].param("columns").split(",")) == {'"id"', '"name"', '"score"'}
    assert posts[0].body[1] == {"id": 2, "name": "person 2", "score": "0.5"}  # Decimal as exact text
    assert recorder.named("rest.write.start")[0]["write_mode"] == "append"


def test_upsert_merges_by_primary_key_and_is_idempotent(server, pg, table_name, make_ctx):
    name = table_name("upsert")
    _people_table(pg, name)
    pg.execute(f'INSERT INTO "{name}" SELECT g, \'old \' || g, 0 FROM generate_series(1, 50) g')
    config = {"table": name, "write_mode": "upsert", "primary_key": "id", "batch_size": 30}

    for _ in range(2):
        ctx, _ = _writer(make_ctx, config)
        write_rest(ctx, iter([_people(range(26, 76), " new")]))
        after = _table(pg, name)
        assert after == [(i, f"old {i}", Decimal(0)) for i in range(1, 26)] + [
            (i, f"person {i} new", Decimal(i) / 4) for i in range(26, 76)
        ]

    posts = server.requests_to(name, "POST")
    assert all(p.param("on_conflict") == "id" and p.prefer == {"return=minimal", "resolution=merge-duplicates"} for p in posts)


def test_upsert_with_a_composite_key(server, pg, table_name, make_ctx):
    name = table_name("composite")
    pg.execute(f'CREATE TABLE "{name}" (day date, shop text, sales int, PRIMARY KEY (day, shop))')
    pg.execute(f"INSERT INTO \"{name}\" VALUES ('2024-01-01', 'a', 1), ('2024-01-01', 'b', 2)")
    schema = Schema((Column("day", "date"), Column("shop", "string"), Column("sales", "int32")))
    ctx, _ = _writer(make_ctx, {"table": name, "write_mode": "upsert", "primary_key": ["day", "shop"]})

    write_rest(ctx, iter([Batch(schema, [(dt.date(2024, 1, 1), "b", 20), (dt.date(2024, 1, 2), "a", 3)])]))

    assert _table(pg, name, "day, shop") == [
        (dt.date(2024, 1, 1), "a", 1), (dt.date(2024, 1, 1), "b", 20), (dt.date(2024, 1, 2), "a", 3),
    ]
    assert server.requests_to(name, "POST")[0].param("on_conflict") == "day,shop"


def test_values_round_trip_faithfully(server, pg, table_name, make_ctx):
    name = table_name("faithful")
    pg.execute(
        f'''CREATE TABLE "{name}" (id bigint PRIMARY KEY, big numeric(40,12), f double precision, nan double precision,
            raw bytea, day date, at time(6), local_ts timestamp(6), ts timestamptz, doc jsonb, txt text, flag boolean,
            ubig numeric(20,0))'''
    )
    schema = Schema((
        Column("id", "int64"), Column("big", "decimal(40,12)"), Column("f", "float64"), Column("nan", "float64"),
        Column("raw", "bytes"), Column("day", "date"), Column("at", "time", source_type="time(6)"),
        Column("local_ts", "datetime"), Column("ts", "timestamp"), Column("doc", "json"), Column("txt", "string"),
        Column("flag", "bool"), Column("ubig", "uint64"),
    ))
    row = (
        9223372036854775807, Decimal("1234567890123456789012345678.123456789012"), 0.1 + 0.2, float("nan"),
        b"\x00\x01\xfe\xff", dt.date(1999, 12, 31), dt.timedelta(hours=23, minutes=59, seconds=58, microseconds=7),
        dt.datetime(2024, 2, 29, 12, 0, 0, 123456), dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        '{"nested": {"list": [1, "two", null]}, "n": 1.25}', "4-byte \U0001F680 and quotes \" ' \\", False,
        18446744073709551615,
    )
    nulls = (1,) + (None,) * 12
    ctx, _ = _writer(make_ctx, {"table": name})

    write_rest(ctx, iter([Batch(schema, [row, nulls])]))

    stored = _table(pg, name)
    assert stored[0] == nulls
    (id_, big, f, nan, raw, day, at, local_ts, ts, doc, txt, flag, ubig) = stored[1]
    assert (id_, big, f, raw, day, local_ts, txt, flag, ubig) == (
        row[0], row[1], row[2], row[4], row[5], row[7], row[10], False, Decimal(18446744073709551615),
    )
    assert nan != nan and at == dt.time(23, 59, 58, 7) and ts == row[8]
    assert doc == {"nested": {"list": [1, "two", None]}, "n": 1.25}  # a JSON document, not a JSON string

    # and back through the REST extractor, unchanged
    back, _ = make_ctx({"table": name})
    read = [r for b in extract_rest(back) for r in b.rows]
    assert read[1][1] == row[1] and read[1][4] == row[4] and read[1][10] == row[10]
    assert json.loads(read[1][9]) == json.loads(row[9])


def test_transient_failures_are_retried_and_rows_land_once(server, fake, pg, table_name, make_ctx):
    name = table_name("retry")
    _people_table(pg, name)
    ctx, recorder = _writer(make_ctx, {"table": name, "batch_size": 10, "primary_key": "id", "retries": 4})
    server.inject(
        fake.Fault(status=503, method="POST"),
        fake.Fault(status=None, method="POST"),  # connection reset before the server did anything
        fake.Fault(status=500, method="POST", after_commit=True),  # committed, then the connection dropped
        fake.Fault(status=429, method="POST", headers={"Retry-After": "0"}),
    )

    write_rest(ctx, iter([_people(range(1, 31))]))

    assert _table(pg, name) == [(i, f"person {i}", Decimal(i) / 4) for i in range(1, 31)]
    assert ctx.rows_written == 30
    assert [r["status"] for r in recorder.named("rest.retry")] == [503, None, None, 429]
    posts = server.requests_to(name, "POST")
    assert len(posts) == 3 + 4
    plain, skip_existing = {"return=minimal"}, {"return=minimal", "resolution=ignore-duplicates"}
    # after the 503 nothing can have been applied: the retry is a plain insert again; once an attempt
    # may have been committed (dropped connection), retries skip rows whose key is already there
    assert [p.prefer for p in posts] == [plain, plain, skip_existing, skip_existing, skip_existing, plain, plain]
    assert posts[2].param("on_conflict") == "id"


def test_retries_give_up_after_the_configured_count(server, fake, pg, table_name, make_ctx):
    name = table_name("giveup")
    _people_table(pg, name)
    ctx, _ = _writer(make_ctx, {"table": name, "retries": 1})
    server.inject(*[fake.Fault(status=502, method="POST") for _ in range(2)])

    with pytest.raises(RunFailed, match=r"after 2 attempts \(HTTP 502\)"):
        write_rest(ctx, iter([_people(range(1, 4))]))

    assert _table(pg, name) == [] and len(server.requests_to(name, "POST")) == 2


def test_a_conflict_is_a_4xx_and_is_not_retried(server, pg, table_name, make_ctx, api_key):
    name = table_name("conflict")
    _people_table(pg, name)
    pg.execute(f'INSERT INTO "{name}" VALUES (7, \'existing\', 1)')
    ctx, recorder = _writer(make_ctx, {"table": name, "batch_size": 5, "primary_key": "id"})

    with pytest.raises(RunFailed) as info:
        write_rest(ctx, iter([_people(range(1, 11))]))

    message = str(info.value)
    assert "HTTP 409" in message and "[23505]" in message and "Key (id)=(7) already exists" in message
    assert api_key not in message
    assert not recorder.named("rest.retry")
    # the first request (rows 1-5) went through; the one holding 7 failed as a whole
    assert [r[0] for r in _table(pg, name)] == [1, 2, 3, 4, 5, 7]
    assert ctx.rows_written == 5


def test_a_bad_row_rejects_its_request_only(server, pg, table_name, make_ctx):
    name = table_name("badrow")
    _people_table(pg, name)
    rows = [(i, f"person {i}", Decimal(1)) for i in range(1, 8)] + [(8, None, Decimal(1))]
    ctx, _ = _writer(make_ctx, {"table": name, "batch_size": 4})

    with pytest.raises(RunFailed, match=r"HTTP 400\) \[23502\]"):
        write_rest(ctx, iter([Batch(PEOPLE, rows)]))

    assert [r[0] for r in _table(pg, name)] == [1, 2, 3, 4]


def test_replace_over_rest_is_refused_before_anything_is_written(server, pg, table_name, make_ctx):
    name = table_name("replace")
    _people_table(pg, name)
    ctx, _ = _writer(make_ctx, {"table": name, "write_mode": "replace", "primary_key": "id"})

    with pytest.raises(ConfigError) as info:
        write_rest(ctx, iter([_people(range(1, 3))]))

    assert info.value.code == "connection.direct-required" and "transaction" in str(info.value)
    assert server.requests == []


def test_create_if_missing_with_a_missing_table_needs_the_direct_connection(server, make_ctx):
    ctx, recorder = _writer(make_ctx, {"table": "rest_never_created", "create_if_missing": True, "primary_key": "id"})

    with pytest.raises(RunFailed) as info:  # exit 4, before any row is sent
        write_rest(ctx, iter([_people(range(1, 3))]))

    assert info.value.code == "connection.direct-required" and "DDL" in str(info.value)
    assert int(info.value.exit_code) == 4
    ddl = recorder.named("rest.write.ddl_needed")[0]["sql"]
    assert ddl.startswith('CREATE TABLE "public"."rest_never_created" (') and 'PRIMARY KEY ("id")' in ddl
    assert ddl in info.value.message  # the statement to run, printed with the error
    assert not [r for r in server.requests if r.method == "POST"]


def test_create_if_missing_with_an_existing_table_just_writes(server, pg, table_name, make_ctx):
    name = table_name("exists")
    _people_table(pg, name)
    ctx, _ = _writer(make_ctx, {"table": name, "create_if_missing": True})

    write_rest(ctx, iter([_people(range(1, 3))]))

    assert len(_table(pg, name)) == 2


def test_a_missing_table_without_create_if_missing_is_a_run_error(server, make_ctx):
    ctx, _ = _writer(make_ctx, {"table": "rest_never_created"})

    with pytest.raises(RunFailed) as info:
        write_rest(ctx, iter([_people(range(1, 3))]))

    assert info.value.code == "run.table-missing"


@pytest.mark.parametrize(
    "config, code",
    [
        ({"table": "t", "write_mode": "upsert"}, "config.missing-required"),
        ({"table": "t", "write_mode": "merge-ish"}, "config.invalid-enum"),
        ({"table": "t; DROP TABLE x"}, "config.invalid-identifier"),
        ({"table": "t", "write_mode": "upsert", "primary_key": "id) DO NOTHING; --"}, "config.invalid-identifier"),
    ],
)
def test_bad_writer_configs_fail_before_any_request(server, make_ctx, config, code):
    ctx, _ = _writer(make_ctx, config)

    with pytest.raises(OsirisError) as info:
        write_rest(ctx, iter([]))

    assert info.value.code == code and server.requests == []


def test_an_injection_shaped_column_name_in_the_batch_is_refused(server, pg, table_name, make_ctx):
    name = table_name("badcol")
    _people_table(pg, name)
    schema = Schema((Column('id", "x'), Column("name")))
    ctx, _ = _writer(make_ctx, {"table": name})

    with pytest.raises(OsirisError, match="not a plain SQL identifier"):
        write_rest(ctx, iter([Batch(schema, [(1, "a")])]))

    assert server.requests_to(name, "POST") == []


def test_deprecated_spellings_mode_and_upsert_keys_are_accepted(server, pg, table_name, make_ctx):
    name = table_name("aliases")
    _people_table(pg, name)
    ctx, _ = _writer(make_ctx, {"table": name, "mode": "upsert", "upsert_keys": ["id"]})

    write_rest(ctx, iter([_people([1, 2]), _people([2], " again")]))

    assert [r[1] for r in _table(pg, name)] == ["person 1", "person 2 again"]


def test_cancelling_the_run_ends_a_long_retry_wait(server, fake, pg, table_name, make_ctx):
    import threading
    import time

    name = table_name("cancel")
    _people_table(pg, name)
    ctx, _ = _writer(make_ctx, {"table": name})
    server.inject(fake.Fault(status=503, method="POST", headers={"Retry-After": "25"}))
    threading.Timer(0.5, ctx.cancel_event.set).start()
    started = time.monotonic()

    with pytest.raises(RunFailed) as info:
        write_rest(ctx, iter([_people(range(1, 3))]))

    assert info.value.code == "run.cancelled" and time.monotonic() - started < 5
    assert _table(pg, name) == []


def test_a_key_that_may_insert_but_not_select_can_still_append(server, pg, table_name, make_ctx):
    name = table_name("writeonly")
    _people_table(pg, name)
    pg.execute("DO $$ BEGIN CREATE ROLE rest_writer_only NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    pg.execute(f'GRANT INSERT ON "{name}" TO rest_writer_only')
    ctx, _ = _writer(make_ctx, {"table": name})
    server.role = "rest_writer_only"  # the fake runs each request as this role, as PostgREST does with a JWT's role

    write_rest(ctx, iter([_people(range(1, 4))]))

    assert len(_table(pg, name)) == 3
    reader, _ = make_ctx({"table": name})
    server.role = "rest_writer_only"
    with pytest.raises(RunFailed, match=r"HTTP 403\) \[42501\]"):  # the probe met the same refusal
        list(extract_rest(reader))
