"""Benchmark: move a generated 8-column MySQL table into PostgreSQL, and Postgres -> Postgres.

Run by hand (never part of the test suite), on the machine's own MariaDB (127.0.0.1:3306, root) and
PostgreSQL (127.0.0.1:5432, postgres). The big tables live in their own MySQL database and Postgres
database (`osiris_bench`), dropped at the end unless --keep.

    .venv/bin/python bench/move.py                       # 1M rows, 3 runs each, every scenario
    .venv/bin/python bench/move.py --rows 3000000 --runs 1 --only osiris-append   # memory at 3M
    .venv/bin/python bench/move.py --via drivers         # drivers in-process instead of `osiris run`

Scenarios, all in the same run so that ratios compare like with like (the machine is shared):
- pipe:            `mariadb --batch --raw | psql -c "COPY ... FROM STDIN"` (the baseline, SQL-side escaping)
- osiris-append:   mysql.extractor -> supabase.writer (direct path), append into an empty table
- baseline-append: the same append by the code of --baseline-tree (e.g. `git worktree add /tmp/main main`)
- osiris-append-part: the same with `partitions: auto` (or --partitions N): key ranges read on N
                   connections at once, loaded into Postgres on N connections (partitions 1.. via stages)
- source-read:     the bound on the source side: `mariadb --batch --raw` of the pipe's SELECT into a file
- target-load:     the bound on the target side: `psql COPY` of that file into the empty table
- sling:           Sling 1.4.11 full-refresh, when its binary is found: $SLING_BINARY, or PyPI
                   `sling-linux-amd64==1.4.11` installed in a venv under /tmp (not a project dependency):
                   python3 -m venv /tmp/sling-venv && /tmp/sling-venv/bin/pip install sling-linux-amd64==1.4.11
- osiris-replace:  the same 1M rows replacing the populated table's: a plain table, so the rows are
                   loaded once into a new table that is swapped in (`write.replace` strategy swap)
- osiris-replace-part: the same replace with `partitions: auto` (or --partitions N): partitions 1..
                   COPY straight into the swap's committed new table (each row written once)
- osiris-replace-rewrite: the same with a view on the table, which keeps it in place: staging, then
                   TRUNCATE + INSERT ... SELECT (every row written twice; the path before the swap)
- osiris-upsert:   the same 1M rows upserted into the populated table (nothing changed: 0 tuples written)
- pg-copy-pipe:    psycopg binary `COPY TO` blocks written into `COPY FROM` (Postgres -> Postgres baseline)
- osiris-pg2pg:    supabase.extractor -> supabase.writer, direct path (binary COPY pass-through)

Each timed command runs in its own process under `/usr/bin/time` for wall time and peak RSS; every
run is checked on the target (count, sum(id), count(ref_id), sum(length(note)), sum(amount)).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DB = os.environ.get("OSIRIS_BENCH_DB", "osiris_bench")
MY = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
COLUMNS = "id, first_name, email, amount, created_at, is_active, note, ref_id"

MYSQL_DDL = """
CREATE TABLE customers (
  id INT NOT NULL PRIMARY KEY, first_name VARCHAR(50) NOT NULL, email VARCHAR(120) NOT NULL,
  amount DECIMAL(12,2) NOT NULL, created_at DATETIME NOT NULL, is_active TINYINT(1) NOT NULL,
  note TEXT, ref_id INT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
MYSQL_FILL = """
INSERT INTO customers
WITH RECURSIVE seq(n) AS (SELECT {start} UNION ALL SELECT n + 1 FROM seq WHERE n < {stop})
SELECT n,
       CONCAT(ELT(1 + n % 8, 'Ana','Bruno','Chloé','Dmitri','Eve','Faisal','Grete','Hiro'), '_', n),
       CONCAT('user', n, '@example', n % 97, '.com'),
       ROUND((n * 7919 % 1000000) / 100, 2),
       TIMESTAMP('2020-01-01 00:00:00') + INTERVAL (n * 37) SECOND,
       n % 2,
       CASE WHEN n % 1000 = 0 THEN CONCAT('tab\\there back\\\\slash nl\\nend #', n)
            ELSE CONCAT('note ', n, ' lorem ipsum dolor sit amet consectetur ad') END,
       IF(n % 7 = 0, NULL, n % 5000)
FROM seq
"""
PG_DDL = """
CREATE TABLE {name} (
  id integer PRIMARY KEY, first_name varchar(50) NOT NULL, email varchar(120) NOT NULL,
  amount numeric(12,2) NOT NULL, created_at timestamp NOT NULL, is_active smallint NOT NULL,
  note text, ref_id integer
)
"""
PIPE_SELECT = (
    "SELECT id, "
    + ", ".join(
        f"REPLACE(REPLACE(REPLACE(REPLACE({c},'\\\\','\\\\\\\\'),'\\t','\\\\t'),'\\n','\\\\n'),'\\r','\\\\r')"
        for c in ("first_name", "email")
    )
    + ", amount, created_at, is_active, "
    + "COALESCE(REPLACE(REPLACE(REPLACE(REPLACE(note,'\\\\','\\\\\\\\'),'\\t','\\\\t'),'\\n','\\\\n'),'\\r','\\\\r'),'\\\\N'), "
    + "COALESCE(ref_id,'\\\\N') FROM customers"
)
CHECK_SQL = "SELECT count(*), sum(id), count(ref_id), sum(length(note)), sum(amount) FROM {table}"


# --- setup ---------------------------------------------------------------------------------------


def mysql(database: str | None = None) -> Any:
    return pymysql.connect(**MY, database=database, charset="utf8mb4", autocommit=True)


def pg(database: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(**PG, dbname=database, autocommit=True)


def setup(rows: int) -> None:
    c = mysql()
    with c.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {DB} DEFAULT CHARSET utf8mb4")
        cur.execute(f"USE {DB}")
        cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'customers'", (DB,))
        have = 0
        if cur.fetchone()[0]:
            cur.execute("SELECT COUNT(*) FROM customers")
            have = cur.fetchone()[0]
        if have != rows:
            print(f"generating {rows:,} MySQL rows ...", flush=True)
            cur.execute("DROP TABLE IF EXISTS customers")
            cur.execute(MYSQL_DDL)
            cur.execute("SET SESSION max_recursive_iterations = 2000000")
            for start in range(1, rows + 1, 1_000_000):
                cur.execute(MYSQL_FILL.format(start=start, stop=min(start + 999_999, rows)))
    c.close()
    admin = pg()
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone():
        admin.execute(f"CREATE DATABASE {DB}")
    admin.close()
    with pg(DB) as t:
        for name in ("customers", "customers_pg2"):
            t.execute(f"DROP TABLE IF EXISTS {name} CASCADE")  # and the view of osiris-replace-rewrite
            t.execute(PG_DDL.format(name=name))


def teardown() -> None:
    with mysql() as c, c.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    admin = pg()
    admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    admin.close()


# --- children: each timed command is its own process ---------------------------------------------


def child_pg_copy_pipe() -> None:
    """Baseline: psycopg binary COPY TO blocks straight into COPY FROM."""
    src, dst = pg(DB), psycopg.connect(**PG, dbname=DB)
    with src.cursor() as s, dst.cursor() as d:
        with s.copy("COPY customers TO STDOUT (FORMAT BINARY)") as cout, d.copy("COPY customers_pg2 FROM STDIN (FORMAT BINARY)") as cin:
            for block in cout:
                cin.write(block)
    dst.commit()


def child_drivers(scenario: str) -> None:
    """The drivers wired like the runner does: extractor thread -> bounded queue -> writer thread."""
    sys.path.insert(0, str(ROOT))
    from osiris_runtime.drivers.base import StepContext
    from osiris_runtime.drivers.mysql import MySQLExtractor
    from osiris_runtime.drivers.supabase import SupabaseExtractor, SupabaseWriter

    pg_conn = {"url": "http://127.0.0.1:9", "key": "x", **PG, "database": DB}
    if scenario == "pg2pg":
        source = SupabaseExtractor(StepContext("pull", "supabase.extractor", "extract", {"table": "customers", "batch_size": 10000}, lambda: dict(pg_conn)))
        target_cfg: dict[str, Any] = {"table": "customers_pg2", "write_mode": "append"}
    else:
        my_conn = {**MY, "database": DB}
        source = MySQLExtractor(StepContext("pull", "mysql.extractor", "extract", {"table": "customers", "batch_size": 10000}, lambda: dict(my_conn)))
        mode = scenario if scenario in ("upsert", "replace") else "append"
        target_cfg = {"table": "customers", "write_mode": mode, "primary_key": "id"}
    writer_ctx = StepContext("push", "supabase.writer", "write", target_cfg, lambda: dict(pg_conn))
    channel: queue.Queue[Any] = queue.Queue(maxsize=4)
    done = object()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for batch in source.run({}):
                channel.put(batch)
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)
        finally:
            channel.put(done)

    def consume() -> Any:
        while (item := channel.get()) is not done:
            yield item

    producer = threading.Thread(target=produce)
    producer.start()
    SupabaseWriter(writer_ctx).run({"pull": consume()})
    producer.join()
    if failure:
        raise failure[0]
    print(json.dumps({"rows_written": writer_ctx.rows_written, **{k: v for k, v in writer_ctx.extra_metrics.items()}}))


PIPELINES: dict[str, tuple[str, str, str, dict[str, Any], dict[str, Any]]] = {
    "append": ("mysql.extractor", "@mysql.bench", "customers", {"write_mode": "append"}, {}),
    "append-part": ("mysql.extractor", "@mysql.bench", "customers", {"write_mode": "append"}, {"partitions": "auto"}),
    "upsert": ("mysql.extractor", "@mysql.bench", "customers", {"write_mode": "upsert", "primary_key": "id"}, {}),
    "replace": ("mysql.extractor", "@mysql.bench", "customers", {"write_mode": "replace"}, {}),
    "replace-part": ("mysql.extractor", "@mysql.bench", "customers", {"write_mode": "replace"}, {"partitions": "auto"}),
    "upsert-part": ("mysql.extractor", "@mysql.bench", "customers", {"write_mode": "upsert", "primary_key": "id"},
                    {"partitions": "auto"}),
    "pg2pg": ("supabase.extractor", "@supabase.bench", "customers_pg2", {"write_mode": "append"}, {}),
}


def osiris_run_command(scenario: str, work: Path, partitions: str) -> list[str]:
    """An OML pipeline + connections file for `osiris run` (the user-facing path)."""
    source, source_conn, target, write, read = PIPELINES[scenario]
    read = {k: (partitions if k == "partitions" else v) for k, v in read.items()}
    (work / "osiris_connections.yaml").write_text(textwrap.dedent(f"""\
        connections:
          mysql:
            bench: {{host: 127.0.0.1, port: 3306, database: {DB}, user: root, password: ""}}
          supabase:
            bench: {{url: "http://127.0.0.1:9", key: unused, host: 127.0.0.1, port: 5432, database: {DB}, user: postgres}}
        """))
    read_cfg = "".join(f"\n      {k}: {v}" for k, v in {"batch_size": 10000, **read}.items())
    write_cfg = "".join(f"\n      {k}: {v}" for k, v in write.items())
    pipeline = work / f"move-{scenario}.yaml"
    pipeline.write_text(
        f'oml_version: "0.1.0"\nname: bench-{scenario}\nsteps:\n'
        f'  - id: pull\n    component: {source}\n    mode: read\n    config:\n'
        f'      connection: "{source_conn}"\n      table: customers{read_cfg}\n'
        f'  - id: push\n    component: supabase.writer\n    mode: write\n    needs: [pull]\n    config:\n'
        f'      connection: "@supabase.bench"\n      table: {target}{write_cfg}\n')
    osiris = str(Path(PYTHON).parent / "osiris")
    return [osiris, "run", "--headless", str(pipeline)]


def baseline_run(tree: Path, command: list[str]) -> list[str]:
    """`osiris run` with the code of another checkout first on the path (same venv and libraries)."""
    entry = f"import sys; sys.path.insert(0, {str(tree.resolve())!r}); from osiris_runtime.cli.main import main; sys.exit(main())"
    return [PYTHON, "-c", entry, *command[1:]]


# --- measurement ---------------------------------------------------------------------------------


def server_cpu() -> dict[str, float]:
    """CPU seconds used so far by mariadbd and by PostgreSQL (every backend, live or exited: an
    exited backend's time is in the postmaster's cutime/cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"mariadbd": 0.0, "postgres": 0.0}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        own = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if comm in ("mariadbd", "mysqld"):
            totals["mariadbd"] += own
        elif comm == "postgres":
            totals["postgres"] += own
            if fields[1] == "1" or not Path(f"/proc/{fields[1]}").exists():  # the postmaster: reaped backends
                totals["postgres"] += (int(fields[13]) + int(fields[14])) / tick
    return totals


@dataclass(frozen=True)
class Timing:
    """One timed command: wall seconds, peak RSS MB of its largest process, CPU seconds of its own
    process tree, of mariadbd and of PostgreSQL during it (servers are shared: other work counts)."""

    wall: float
    rss_mb: int
    cpu_own: float
    cpu_mariadbd: float
    cpu_postgres: float
    stdout: str

    @property
    def cores_busy(self) -> float:
        return (self.cpu_own + self.cpu_mariadbd + self.cpu_postgres) / self.wall


def timed(command: list[str], cwd: Path | None = None) -> Timing:
    """Run one command under /usr/bin/time and measure it (see `Timing`)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        servers_before = server_cpu()
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", report.name, *command], cwd=cwd,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        time.sleep(0.2)  # let the postmaster reap the command's backends (their CPU lands in its cutime)
        servers_after = server_cpu()
        if done.returncode != 0:
            raise SystemExit(f"command failed ({done.returncode}): {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        rss_kb, user, system = report.read().strip().splitlines()[-1].split()
    return Timing(wall, int(rss_kb) // 1024, float(user) + float(system),
                  servers_after["mariadbd"] - servers_before["mariadbd"],
                  servers_after["postgres"] - servers_before["postgres"], done.stdout)


def check(table: str) -> str:
    with pg(DB) as t:
        row = t.execute(CHECK_SQL.format(table=table)).fetchone()
    return "/".join(str(v) for v in row)


def prepare(statement: str) -> None:
    with pg(DB) as t:
        if statement:
            t.execute(statement)
        t.execute("CHECKPOINT")


def tuples_written(table: str) -> int:
    with pg(DB) as t:
        t.execute("SELECT pg_stat_force_next_flush()")
        row = t.execute("SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = %s", (table,)).fetchone()
    return int(row[0]) if row else 0


def sling_binary() -> str | None:
    """$SLING_BINARY, else the binary of PyPI `sling-linux-amd64` in .venv* or a venv under /tmp."""
    if os.environ.get("SLING_BINARY"):
        return os.environ["SLING_BINARY"]
    hits = glob.glob(str(ROOT / ".venv*/lib/python3*/site-packages/sling_linux_amd64/bin/sling-linux-amd64")) + glob.glob(
        "/tmp/*/lib/python3*/site-packages/sling_linux_amd64/bin/sling-linux-amd64"
    )
    return hits[0] if hits else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--via", choices=["run", "drivers"], default="run", help="`osiris run` (default) or drivers in-process")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--partitions", default="auto", help="`partitions` of the *-part scenarios (default auto)")
    parser.add_argument("--baseline-tree", type=Path,
                        help="a checkout of the code to compare with (e.g. a worktree of main): adds `baseline-append`, "
                             "its `osiris run` of the same append, interleaved with the others")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--save", type=Path, help="also write the medians and ratios as JSON (e.g. bench/results/move.json)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_pg_copy_pipe() if args.child == "pg-copy-pipe" else child_drivers(args.child)
        return

    setup(args.rows)
    work = Path(tempfile.mkdtemp(prefix="osiris-bench-"))
    me = [PYTHON, str(Path(__file__).resolve())]

    def osiris(scenario: str) -> list[str]:
        return osiris_run_command(scenario, work, args.partitions) if args.via == "run" else [*me, "--child", scenario]

    sling = sling_binary()
    (work / "pipe_select.sql").write_text(PIPE_SELECT + "\n")
    pipe = (
        f"mariadb -h127.0.0.1 -P3306 -uroot {DB} --batch --raw --skip-column-names --quick < {work / 'pipe_select.sql'} "
        f"| psql -h 127.0.0.1 -p 5432 -U postgres -d {DB} -qc 'COPY customers FROM STDIN'"
    )
    sling_env = (
        f"env HOME={work} SLING_HOME_DIR={work} SLING_DISABLE_TELEMETRY=true "
        f"MY=mysql://root@127.0.0.1:3306/{DB} PG='postgresql://postgres@127.0.0.1:5432/{DB}?sslmode=disable' "
    )
    dump = work / "source.tsv"
    source_read = f"mariadb -h127.0.0.1 -P3306 -uroot {DB} --batch --raw --skip-column-names --quick < {work / 'pipe_select.sql'} > {dump}"
    target_load = f"psql -h 127.0.0.1 -p 5432 -U postgres -d {DB} -qc 'COPY customers FROM STDIN' < {dump}"
    scenarios: list[tuple[str, str, list[str], str]] = [
        ("pipe", "TRUNCATE customers", ["bash", "-c", f"set -o pipefail; {pipe}"], "customers"),
        ("osiris-append", "TRUNCATE customers", osiris("append"), "customers"),
        *([("baseline-append", "TRUNCATE customers", baseline_run(args.baseline_tree, osiris_run_command("append", work, "1")),
            "customers")] if args.baseline_tree else []),
        ("osiris-append-part", "TRUNCATE customers", osiris("append-part"), "customers"),
        ("source-read", "", ["bash", "-c", source_read], ""),
        ("target-load", "TRUNCATE customers", ["bash", "-c", target_load], "customers"),
        # Both replace a populated table (target-load just filled it); the view keeps the second in place.
        ("osiris-replace", "DROP VIEW IF EXISTS customers_dep", osiris("replace"), "customers"),
        ("osiris-replace-part", "DROP VIEW IF EXISTS customers_dep", osiris("replace-part"), "customers"),
        ("osiris-replace-rewrite", "CREATE OR REPLACE VIEW customers_dep AS SELECT id FROM customers", osiris("replace"),
         "customers"),
    ]
    if sling:
        scenarios.append(
            ("sling", "DROP TABLE IF EXISTS public.customers_sling",
             ["bash", "-c", (f"{sling_env} {sling} run --src-conn MY --src-stream {DB}.customers --tgt-conn PG "
                             "--tgt-object public.customers_sling --mode full-refresh")], "customers_sling")
        )
    scenarios += [
        ("osiris-upsert", "VACUUM customers", osiris("upsert"), "customers"),
        ("osiris-upsert-part", "VACUUM customers", osiris("upsert-part"), "customers"),
        ("pg-copy-pipe", "TRUNCATE customers_pg2", [*me, "--child", "pg-copy-pipe"], "customers_pg2"),
        ("osiris-pg2pg", "TRUNCATE customers_pg2", osiris("pg2pg"), "customers_pg2"),
    ]
    wanted = [s for s in scenarios if not args.only or s[0] in args.only]
    results: dict[str, list[Timing]] = {}
    print(f"{'scenario':18} {'run':>3} {'wall_s':>7} {'rssMB':>6} {'cpu own/mariadbd/pg s':>22} {'cores':>5}  "
          "check (count/sum id/count ref_id/sum len note/sum amount)")
    for run in range(1, args.runs + 1):
        for name, prep, command, table in wanted:
            if name.startswith("osiris-upsert") and check("customers").split("/")[0] != str(args.rows):
                prepare("TRUNCATE customers")
                timed(["bash", "-c", f"set -o pipefail; {pipe}"])  # populate the target first
                prepare("VACUUM customers")
            if name.startswith("osiris-replace") and check("customers").split("/")[0] != str(args.rows):
                prepare("TRUNCATE customers")
                timed(["bash", "-c", f"set -o pipefail; {pipe}"])  # replace a populated table
            prepare(prep)
            before = tuples_written(table) if table else 0
            t = timed(command, cwd=work)
            extra = ""
            if name.startswith("osiris-upsert"):
                extra = f"  tuples written by the upsert: {tuples_written(table) - before}"
            results.setdefault(name, []).append(t)
            cpu = f"{t.cpu_own:6.2f}/{t.cpu_mariadbd:6.2f}/{t.cpu_postgres:6.2f}"
            head = f"{name:18} {run:>3} {t.wall:7.2f} {t.rss_mb:6d} {cpu:>22} {t.cores_busy:5.2f}"
            if not table:  # the source read alone: nothing lands in Postgres
                lines = sum(1 for _ in dump.open("rb"))
                print(f"{head}  {lines} lines read", flush=True)
                continue
            checked = check(table)
            print(f"{head}  {checked}{extra}", flush=True)
            if checked.split("/")[0] != str(args.rows):
                raise SystemExit(f"{name}: the target does not hold {args.rows} rows")

    print(f"\nmedians over {args.runs} run(s), {args.rows:,} rows, via {args.via} (load average at the end: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}):")
    med = {name: (statistics.median(t.wall for t in v), max(t.rss_mb for t in v)) for name, v in results.items()}
    cpu_med = {name: tuple(statistics.median(getattr(t, f) for t in v) for f in ("cpu_own", "cpu_mariadbd", "cpu_postgres"))
               for name, v in results.items()}
    for name, (wall, rss) in med.items():
        own, my, pg_ = cpu_med[name]
        print(f"  {name:18} {wall:7.2f} s  {args.rows / wall:>10,.0f} rows/s  peak {rss} MB  "
              f"cpu s own {own:.2f} mariadbd {my:.2f} postgres {pg_:.2f} (sum {own + my + pg_:.2f})")
    ratios = [
        ("osiris-append vs pipe (rows/s)", "osiris-append", "pipe"),
        ("baseline-append vs pipe (rows/s)", "baseline-append", "pipe"),
        ("osiris-append vs baseline-append (rows/s)", "osiris-append", "baseline-append"),
        ("osiris-append-part vs pipe (rows/s, goal >= 1.3)", "osiris-append-part", "pipe"),
        ("osiris-append-part vs osiris-append (rows/s)", "osiris-append-part", "osiris-append"),
        ("source-read alone vs pipe (rows/s: the source bound)", "source-read", "pipe"),
        ("target-load alone vs pipe (rows/s: the target bound)", "target-load", "pipe"),
        ("osiris-append vs sling (rows/s)", "osiris-append", "sling"),
        ("osiris-replace vs osiris-append (rows/s)", "osiris-replace", "osiris-append"),
        ("osiris-replace-part vs osiris-append-part (rows/s)", "osiris-replace-part", "osiris-append-part"),
        ("osiris-replace-rewrite vs osiris-append (rows/s)", "osiris-replace-rewrite", "osiris-append"),
        ("osiris-replace (swap) vs osiris-replace-rewrite (rows/s)", "osiris-replace", "osiris-replace-rewrite"),
        ("osiris-upsert vs osiris-append (rows/s, goal >= 0.8)", "osiris-upsert", "osiris-append"),
        ("osiris-upsert-part vs osiris-append-part (rows/s, goal >= 0.8)", "osiris-upsert-part", "osiris-append-part"),
        ("osiris-pg2pg vs pg-copy-pipe (rows/s, goal >= 1.0)", "osiris-pg2pg", "pg-copy-pipe"),
    ]
    measured = {label: round(med[b][0] / med[a][0], 2) for label, a, b in ratios if a in med and b in med}
    # The same ratio within each run (scenarios of one run ran back to back): steadier when the
    # machine's load changes between runs.
    paired = {label: round(statistics.median(tb.wall / ta.wall for ta, tb in zip(results[a], results[b])), 2)
              for label, a, b in ratios if a in med and b in med}
    for label, ratio in measured.items():
        print(f"  {label}: {ratio:.2f}x (median of per-run ratios {paired[label]:.2f}x)")
    if args.save:
        args.save.write_text(json.dumps({
            "command": " ".join(["bench/move.py", *sys.argv[1:]]),
            "rows": args.rows,
            "runs": args.runs,
            "via": args.via,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "medians": {name: {"wall_s": round(w, 2), "rows_per_s": round(args.rows / w), "peak_rss_mb": r,
                               "cpu_s": dict(zip(("own", "mariadbd", "postgres"), (round(c, 2) for c in cpu_med[name])))}
                        for name, (w, r) in med.items()},
            "all_runs": {name: [{"wall_s": round(t.wall, 2), "peak_rss_mb": t.rss_mb, "cpu_own_s": round(t.cpu_own, 2),
                                 "cpu_mariadbd_s": round(t.cpu_mariadbd, 2), "cpu_postgres_s": round(t.cpu_postgres, 2)}
                                for t in v] for name, v in results.items()},
            "ratios": measured,
            "ratios_paired_by_run": paired,
        }, indent=2) + "\n")
    if not args.keep:
        teardown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
