"""Loading the partitions of a partitioned read concurrently into Postgres, keeping the writer's
guarantee (the target is unchanged on any failure).

A batch of a partitioned read carries its partition's index (`Batch.partition`). Partition 0 goes
where an unpartitioned stream would go, on the writer's own connection and in its transaction
(straight into the target for append, its temporary staging table otherwise). Every other
partition gets a connection of its own, which `COPY`s that partition's batches on its own thread
and commits, without touching the target:
- for a swapping replace, straight into the swap's new table, which the writer created and
  committed under a private name before any loader started (postgres_swap.begin_shared_swap):
  each row is written once; the writer swaps it in at the end or drops it;
- otherwise into an UNLOGGED staging table the loader creates (no WAL; indexed on the key when
  the final statement matches on it). The writer's one transaction then reads the stages in its
  final statement (`INSERT ... SELECT` for append, the upsert / replace statement over staging and
  stages for the others) and commits; the stages are dropped whatever happened.
A failure of any loader, of the stream or of the final statement rolls the writer's transaction
back: the target is as it was.

What it costs: append moves the rows of partitions 1..N-1 twice (COPY into a stage, then INSERT
... SELECT into the target; loading the target itself would commit rows before the end), so it
gains only where the servers have cores to spare for the parallel COPYs (see
docs/data-movement.md#speed); upsert and a rewriting replace stage every row anyway, so their
stages cost nothing extra. Stages are named `osiris_stage_<target hash>_<pid>_<partition>` in the
target's schema (the loaders need CREATE there); only a process killed outright leaves one
behind, and it holds nothing the target depends on.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.drivers.sql_identifiers import quote_pg
from osiris_runtime.runner.batches import Batch

_DONE = object()
# (connection, stage table, batches) -> rows copied: the writer's own COPY, so both paths encode alike.
CopyInto = Callable[[psycopg.Connection, str, Iterator[Batch]], int]
_QUEUE_BATCHES = 1  # per loader: memory stays at about two batches per partition (queued, being written)


def stage_name(table_sql: str, partition: int) -> str:
    return f"osiris_stage_{hashlib.sha1(table_sql.encode()).hexdigest()[:12]}_{os.getpid()}_{partition}"


class _Loader:
    """One partition loaded by one COPY on its own connection and thread, committed: into a staging
    table it creates (`create_sql`), or into a committed table that already exists (None)."""

    def __init__(self, ctx: StepContext, connect: Callable[[StepContext, int], psycopg.Connection], stage_sql: str,
                 create_sql: Sequence[str] | None, copy_into: CopyInto, partition: int) -> None:
        self.stage_sql = stage_sql
        self._partition = partition
        self.rows = 0
        self.error: BaseException | None = None
        self._ctx, self._connect, self._create_sql, self._copy_into = ctx, connect, create_sql, copy_into
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_BATCHES)
        self._failed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"osiris-stage-{stage_sql}", daemon=True)
        self._thread.start()

    def put(self, batch: Batch) -> None:
        while not self._failed.is_set():
            try:
                self._batches.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        if self._thread.is_alive():
            self.put(_DONE)  # type: ignore[arg-type]
            self._thread.join()

    def _stream(self) -> Any:
        while (item := self._batches.get()) is not _DONE:
            yield item

    def _run(self) -> None:
        try:
            conn = self._connect(self._ctx, self._partition)
            try:
                with conn.transaction():
                    conn.execute("SET LOCAL statement_timeout = 0")
                    conn.execute("SET LOCAL TimeZone = 'UTC'")  # as the writer's own session
                    for statement in self._create_sql or ():
                        conn.execute(statement)
                    self.rows = self._copy_into(conn, self.stage_sql, self._stream())
            finally:
                conn.close()
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, which fails the step
            self.error = exc
            self._failed.set()  # `put` stops waiting: nothing more is read


class PartitionStages:
    """The loaders of partitions 1..N-1 of one write; `take` tells the writer whether a batch is theirs.

    `key_sql` (quoted key columns) indexes each stage before its COPY, as the writer's own stage for
    a statement that matches on the key. `into` (a committed table: the new table of a swapping
    replace, see postgres_swap) makes every loader COPY straight into it: no stage, each row
    written once; nothing to drop here, the writer drops that table if it is not swapped in.
    """

    def __init__(self, ctx: StepContext, connect: Callable[[StepContext, int], psycopg.Connection], schema_sql: str | None,
                 table_sql: str, columns: Sequence[tuple[str, str]], copy_into: CopyInto, *,
                 key_sql: str | None = None, into: str | None = None) -> None:
        self._ctx, self._connect, self._copy_into = ctx, connect, copy_into
        self._schema_sql, self._table_sql = schema_sql, table_sql
        # The target may have been created in the writer's (uncommitted) transaction: spell the columns out.
        self._columns_sql = ", ".join(f"{quote_pg(name)} {type_sql}" for name, type_sql in columns)
        self._key_sql, self._into = key_sql, into
        self._loaders: dict[int, _Loader] = {}

    def take(self, batch: Batch) -> bool:
        """Hand a batch of partition 1.. to its loader (True); partition 0 stays with the writer."""
        part = getattr(batch, "partition", None)
        if not part:
            return False
        loader = self._loaders.get(part)
        if loader is None:
            if self._into is not None:
                loader = self._loaders[part] = _Loader(self._ctx, self._connect, self._into, None, self._copy_into, part)
                self._ctx.emit("write.partition", partition=part, table=self._into)
            else:
                stage = quote_pg(stage_name(self._table_sql, part))
                stage = f"{self._schema_sql}.{stage}" if self._schema_sql else stage  # beside the target
                create = [f"DROP TABLE IF EXISTS {stage}", f"CREATE UNLOGGED TABLE {stage} ({self._columns_sql})"]
                if self._key_sql:
                    create.append(f"CREATE INDEX ON {stage} ({self._key_sql})")
                loader = self._loaders[part] = _Loader(self._ctx, self._connect, stage, create, self._copy_into, part)
                self._ctx.emit("write.stage", partition=part, stage=stage)
        loader.put(batch)
        self.raise_failure()
        return True

    def raise_failure(self) -> None:
        for loader in self._loaders.values():
            if loader.error is not None:
                raise loader.error

    def finish(self) -> list[tuple[str, int]]:
        """Wait for every loader: (stage table, rows copied) by partition; raises the first loader's error."""
        for loader in self._loaders.values():
            loader.finish()
        self.raise_failure()
        return [(self._loaders[p].stage_sql, self._loaders[p].rows) for p in sorted(self._loaders)]

    def drop(self) -> None:
        """Drop every stage (after the writer's transaction ended, committed or not); best effort."""
        for loader in self._loaders.values():
            loader.finish()
        if not self._loaders or self._into is not None:
            return
        try:
            conn = self._connect(self._ctx, 0)
            try:
                conn.autocommit = True
                for loader in self._loaders.values():
                    conn.execute(f"DROP TABLE IF EXISTS {loader.stage_sql}")
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - the rows are where they belong; only a stage is left
            self._ctx.emit("write.leftover", table=", ".join(l.stage_sql for l in self._loaders.values()),
                           reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
