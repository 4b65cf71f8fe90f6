"""Benchmark of the Supabase REST path (run by hand, not part of the test suite).

    .venv/bin/python bench/supabase_rest.py [--rows 20000] [--repeats 3]

What it measures, against the fake PostgREST (tests/fakes/postgrest.py) over the local PostgreSQL:
- extract: `extract_rest` reading an 8-column table in pages of 1,000 rows, against the baseline
  "bare httpx": the same GET requests (same select, order, offset/limit) sent with a plain
  httpx.Client and only `response.json()`, no supabase-py and no type conversion;
- write: `write_rest` appending the same rows in requests of 500, against bare httpx POSTing the
  same rows (already JSON-native dicts, so it pays only json.dumps and HTTP) to the same server.

The ratio (driver rows/s divided by baseline rows/s, medians of the repeats) is the driver's own
overhead over the HTTP + server floor: 1.0 means free. The fake is a Python server, so absolute
rows/s say nothing about a real Supabase project; for context the script also prints a direct
psycopg `COPY` of the same table, which is what the direct path does.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import httpx
import psycopg

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.supabase_rest import extract_rest, to_json_value, write_rest

DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
KEY = "bench-key-not-a-secret"
SOURCE, TARGET = "rest_bench_source", "rest_bench_target"
COLUMNS = "id bigint PRIMARY KEY, customer text, amount numeric(14,4), paid boolean, placed_at timestamptz, day date, note text, score double precision"


def _load_fake():
    path = Path(__file__).resolve().parent.parent / "tests" / "fakes" / "postgrest.py"
    spec = importlib.util.spec_from_file_location("bench_fake_postgrest", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _prepare(pg: psycopg.Connection, rows: int) -> None:
    pg.execute(f"DROP TABLE IF EXISTS {SOURCE}, {TARGET}")
    pg.execute(f"CREATE TABLE {SOURCE} ({COLUMNS})")
    pg.execute(f"CREATE TABLE {TARGET} ({COLUMNS})")
    pg.execute(
        f"""INSERT INTO {SOURCE} SELECT g, 'customer ' || g %% 97, round((g * 1.2345)::numeric, 4), g %% 2 = 0,
            timestamptz '2024-01-01' + g * interval '1 minute', date '2024-01-01' + g %% 400, 'note ' || g, g / 7.0
            FROM generate_series(1, %s::int) g""",
        (rows,),
    )


def _timed(action: Callable[[], int]) -> float:
    start = time.perf_counter()
    count = action()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    fake = _load_fake()

    with psycopg.connect(DSN, autocommit=True) as pg, fake.FakePostgrest(DSN) as server:
        _prepare(pg, args.rows)
        ctx_for = lambda config: StepContext("bench", "supabase", "bench", config,  # noqa: E731
                                             resolve_connection=lambda: {"url": server.url, "key": KEY})
        headers = {"apikey": KEY, "Authorization": f"Bearer {KEY}"}
        select = "id,customer,amount::text,paid,placed_at,day,note,score"

        def driver_extract() -> int:
            return sum(len(b) for b in extract_rest(ctx_for({"table": SOURCE, "batch_size": 1000})))

        def bare_extract() -> int:
            n = 0
            with httpx.Client(headers=headers) as http:
                while True:
                    page = http.get(f"{server.url}/rest/v1/{SOURCE}",
                                    params={"select": select, "order": "id.asc", "offset": n, "limit": 1000}).json()
                    if not page:
                        return n
                    n += len(page)

        batches = list(extract_rest(ctx_for({"table": SOURCE, "batch_size": 1000})))
        # JSON-native rows, built outside the timing: the baseline pays only for json.dumps + HTTP.
        bodies = [[{c: to_json_value(v, t) for c, v, t in zip(b.schema.names, row, [c.type for c in b.schema.columns])}
                   for row in b.rows[i:i + 500]]
                  for b in batches for i in range(0, len(b.rows), 500)]

        def driver_write() -> int:
            pg.execute(f"TRUNCATE {TARGET}")
            ctx = ctx_for({"table": TARGET, "batch_size": 500})
            write_rest(ctx, iter(batches))
            return ctx.rows_written

        def bare_write() -> int:
            pg.execute(f"TRUNCATE {TARGET}")
            with httpx.Client(headers={**headers, "Content-Type": "application/json", "Prefer": "return=minimal"}) as http:
                for body in bodies:
                    http.post(f"{server.url}/rest/v1/{TARGET}", content=json.dumps(body).encode()).raise_for_status()
            return args.rows

        def direct_copy() -> int:
            pg.execute(f"TRUNCATE {TARGET}")
            with psycopg.connect(DSN) as src, psycopg.connect(DSN) as dst:
                with src.cursor().copy(f"COPY {SOURCE} TO STDOUT (FORMAT BINARY)") as out, \
                        dst.cursor().copy(f"COPY {TARGET} FROM STDIN (FORMAT BINARY)") as into:
                    for block in out:
                        into.write(block)
            return args.rows

        actions = {"driver extract": driver_extract, "bare httpx extract": bare_extract, "driver write": driver_write,
                   "bare httpx write": bare_write, "direct COPY (context)": direct_copy}
        samples: dict[str, list[float]] = {name: [] for name in actions}
        for _ in range(args.repeats):  # interleaved, so that load from elsewhere hits every variant alike
            for name, action in actions.items():
                samples[name].append(_timed(action))
        results = {name: statistics.median(values) for name, values in samples.items()}
        for name, value in results.items():
            print(f"{name:24s} {value:>10,.0f} rows/s (median of {args.repeats}, {args.rows:,} rows)")
        print(f"extract ratio vs bare httpx: {results['driver extract'] / results['bare httpx extract']:.2f}x")
        print(f"write ratio vs bare httpx:   {results['driver write'] / results['bare httpx write']:.2f}x")
        pg.execute(f"DROP TABLE IF EXISTS {SOURCE}, {TARGET}")


if __name__ == "__main__":
    main()
