"""The contract between the runner and the drivers that move data.

A driver is a class named by a component spec's runtime pointer (`x-runtime.driver`, a dotted
path such as `osiris_runtime.drivers.filesystem.CsvExtractor`). The runner builds one instance per
step and calls `run` once, on a worker thread:

- an extractor ignores `inputs` and returns an iterator of `Batch`es;
- a processor consumes its inputs (one stream per step it `needs`) and returns an iterator;
- a writer consumes its inputs and returns None.

Streams are lazy and bounded: a driver must not materialise a whole table; it reads and yields
batch by batch. Drivers report progress through `ctx` (rows read/written, events) and check
`ctx.cancelled` between batches. Secrets reach a driver only through `ctx.connection()`, which
re-reads the secret sources on each call so that a reconnect picks up a rotated password.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol

from osiris_runtime.errors import RunFailed
from osiris_runtime.runner.batches import Batch


@dataclass
class StepContext:
    """What a driver may use: its config, its connection, progress reporting and cancellation."""

    step_id: str
    component: str
    mode: str
    config: Mapping[str, Any]  # the compiled cfg (defaults filled, params resolved); no secrets
    resolve_connection: Callable[[], dict[str, Any]] = lambda: {}
    emit: Callable[..., None] = lambda event, **fields: None  # events.jsonl, redacted by the runner
    cancel_event: threading.Event = field(default_factory=threading.Event)
    work_dir: str = "."  # where relative file paths in the config are resolved
    rows_read: int = 0
    rows_written: int = 0
    extra_metrics: dict[str, Any] = field(default_factory=dict)
    # Batch forms every consumer of this step's stream takes as they are (the runner fills it from
    # the consumers' drivers' `accepts`); an extractor may then produce one of them instead of values.
    consumers_accept: frozenset[str] = frozenset()

    def connection(self) -> dict[str, Any]:
        """The resolved connection for this step (secrets included): call again to reconnect."""
        return self.resolve_connection()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def add_read(self, n: int) -> None:
        self.rows_read += n

    def add_written(self, n: int) -> None:
        self.rows_written += n


class Driver(Protocol):
    def __init__(self, ctx: StepContext) -> None: ...

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch] | None: ...


def commit_outcome_unknown(ctx: StepContext, action: str, write_mode: str, cause: str) -> RunFailed:
    """The connection went while COMMIT was on its way: the server may have committed or not, and
    nobody on this side can tell. Said as such, never as "unchanged" (a rollback is not known).
    `cause`: the client library's one-line reason."""
    again = ("running it again may write the rows twice" if write_mode == "append"
             else f"running the {write_mode} again gives the same table")
    return RunFailed(
        f"step {ctx.step_id}: {action}: the connection was lost during COMMIT ({cause}); "
        "the rows may or may not have been committed",
        code="run.commit-unknown",
        fix=f"look at the target before running the step again: {again}",
    )
