"""Batches: the unit of data that moves between steps, with a typed column schema.

Logical column types are engine-neutral strings so that every driver maps its own types to and
from one vocabulary (documented in docs/types.md):
`bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, decimal(p,s),
string, bytes, date, time, datetime, timestamp (with time zone), json, bit(n)`. `source_type`
keeps the source's own spelling (e.g. `tinyint(1)`, `enum('a','b')`, `varchar(50)`) so a writer
that creates tables can be faithful. Values are plain Python objects (int, Decimal, str, bytes,
datetime.date/datetime/time/timedelta, None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    nullable: bool = True
    source_type: str | None = None


@dataclass(frozen=True)
class Schema:
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __len__(self) -> int:
        return len(self.columns)


@dataclass
class Batch:
    """Rows of one schema. `rows` is a sequence of tuples in column order."""

    schema: Schema
    rows: Sequence[tuple[Any, ...]] = field(default_factory=list)
    # The partition of a partitioned read this batch belongs to (0..N-1), None otherwise: a writer
    # may load partitions concurrently (drivers/postgres_stages.py).
    partition: int | None = None

    def __len__(self) -> int:
        return len(self.rows)
