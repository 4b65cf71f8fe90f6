"""Partitioned extraction: a table read as N key ranges on N connections, merged into one stream.

The plan is a value (`PartitionPlan`: key, ranges, row estimates, consistency) computed by a pure
function from the key's bounds and the table's row estimate, and emitted as the `extract.plan`
event, so a later change can hand partitions to several sandboxes. The readers run on threads and
hand their batches to the step through a small bounded queue: memory stays at about
`partitions + 1` batches (plus one being read per partition) whatever the table size, and
downstream steps see one ordinary stream (a writer's guarantees do not change). Partitions are read concurrently; the order of rows across
partitions is not defined (it is not defined for an unordered SELECT either).

Consistency (docs/data-movement.md):
- `snapshot` (the default): every partition reads the same committed state of the table. MySQL
  has no snapshot shared across sessions, so the driver holds `LOCK TABLES ... READ` on a separate
  session while the N readers open their consistent snapshots (milliseconds: writers to that
  table wait that long), then releases it.
- `partition`: each partition is its own consistent snapshot, opened a few milliseconds apart, no
  lock. A row updated in between may be read in its old or its new state relative to rows of
  other partitions; a row whose key changes across ranges in that window can be missed or read twice.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from osiris_runtime.errors import ValidationFailed

CONSISTENCY_MODES = ("snapshot", "partition")
# `partitions: auto` splits only tables big enough to gain from it, and into at most this many.
AUTO_MIN_ROWS_PER_PARTITION = 250_000
AUTO_MAX_PARTITIONS = 8
MAX_PARTITIONS = 64


@dataclass(frozen=True)
class KeyRange:
    """Rows with `low <= key < high`; None is unbounded (the first and last ranges)."""

    low: int | None
    high: int | None
    estimated_rows: int


@dataclass(frozen=True)
class PartitionPlan:
    key: str | None
    ranges: tuple[KeyRange, ...]
    estimated_rows: int
    consistency: str
    reason: str  # why this many partitions

    def as_event(self) -> dict[str, Any]:
        return {"key": self.key, "partitions": len(self.ranges), "estimated_rows": self.estimated_rows,
                "consistency": self.consistency, "reason": self.reason,
                "ranges": [asdict(r) for r in self.ranges]}


def partitions_setting(config: Mapping[str, Any]) -> int | str:
    """`partitions` of a step config: "auto" or a count (1 when unset)."""
    value = config.get("partitions")
    if value is None:
        return 1
    if value == "auto":
        return "auto"
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PARTITIONS:
        raise ValidationFailed(f"partitions must be `auto` or an integer from 1 to {MAX_PARTITIONS}, got {value!r}",
                               code="config.invalid-type")
    return value


def consistency_setting(config: Mapping[str, Any]) -> str:
    value = config.get("consistency") or "snapshot"
    if value not in CONSISTENCY_MODES:
        raise ValidationFailed(f"consistency must be one of {', '.join(CONSISTENCY_MODES)}, got {value!r}",
                               code="config.invalid-enum")
    return value


def auto_count(estimated_rows: int, cores: int | None = None) -> int:
    """One partition per core beyond the one the writer needs (bench/results/move-1m.txt: two
    readers on a 2-core machine ran at 0.75x of one), one per 250,000 estimated rows, at most 8."""
    cores = cores or os.cpu_count() or 1
    by_size = estimated_rows // AUTO_MIN_ROWS_PER_PARTITION
    return max(1, min(cores - 1, by_size, AUTO_MAX_PARTITIONS))


def plan_integer_ranges(key: str, low: int | None, high: int | None, estimated_rows: int, requested: int | str,
                        consistency: str, cores: int | None = None) -> PartitionPlan:
    """Split the integer key span [low, high] into equal ranges; the outer ranges are open-ended,
    so every row is in exactly one range whatever the bounds were when they were read."""
    if low is None or high is None:
        return PartitionPlan(key, (KeyRange(None, None, estimated_rows),), estimated_rows, consistency, "empty table")
    count = auto_count(estimated_rows, cores) if requested == "auto" else int(requested)
    span = high - low + 1
    count = max(1, min(count, span))
    reason = f"auto: {estimated_rows} estimated rows, {cores or os.cpu_count()} cores" if requested == "auto" else "configured"
    if count == 1:
        return PartitionPlan(key, (KeyRange(None, None, estimated_rows),), estimated_rows, consistency, reason)
    bounds = [low + (span * i) // count for i in range(1, count)]
    edges: list[int | None] = [None, *bounds, None]
    per = estimated_rows // count
    ranges = tuple(KeyRange(edges[i], edges[i + 1], per) for i in range(count))
    return PartitionPlan(key, ranges, estimated_rows, consistency, reason)


def range_condition(quoted_key: str, part: KeyRange) -> str | None:
    """The SQL condition selecting one range (integers only, so no quoting issues)."""
    terms = []
    if part.low is not None:
        terms.append(f"{quoted_key} >= {int(part.low)}")
    if part.high is not None:
        terms.append(f"{quoted_key} < {int(part.high)}")
    return " AND ".join(terms) or None


_DONE = object()


def merged(readers: Sequence[Callable[[threading.Event], Iterator[Any]]], *, queue_size: int | None = None) -> Iterator[Any]:
    """Run each reader on its own thread and yield their items as they come (bounded queue).

    A reader gets a stop event and must end soon after it is set; the first error of any reader is
    raised here after the others are stopped. Closing this generator stops every reader.
    """
    items: queue.Queue[Any] = queue.Queue(maxsize=queue_size or len(readers) + 1)
    stop = threading.Event()
    errors: list[BaseException] = []

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(reader: Callable[[threading.Event], Iterator[Any]]) -> None:
        try:
            for item in reader(stop):
                if not put(item):
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            errors.append(exc)
            stop.set()
        finally:
            if not stop.is_set():
                put(_DONE)

    threads = [threading.Thread(target=run, args=(r,), name=f"osiris-partition-{i}", daemon=True)
               for i, r in enumerate(readers)]
    for t in threads:
        t.start()
    running = len(threads)
    try:
        while running:
            if stop.is_set() and errors:
                break
            try:
                item = items.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE:
                running -= 1
                continue
            yield item
    finally:
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
