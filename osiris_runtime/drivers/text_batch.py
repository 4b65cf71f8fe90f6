"""`TextBatch`: rows as the source sent them in text form, typed only when someone asks.

MySQL's text protocol sends every number and date as text; turning it into `int`, `Decimal` and
`datetime` objects and back into text for a Postgres `COPY` is most of the cost of a MySQL ->
Postgres move. A `TextBatch` keeps the text (`text_rows`, values `str`/`bytes`/None) plus one
converter per column. A writer that parses text itself (the Postgres writer's text `COPY`) writes
`text_rows` unchanged; every other consumer reads `rows` and gets the same typed values a plain
`Batch` would carry (converted once, column by column, on first access).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from osiris_runtime.runner.batches import Batch, Schema

Converter = Callable[[Any], Any]


class TextBatch(Batch):
    def __init__(self, schema: Schema, text_rows: Sequence[tuple[Any, ...]], converters: Sequence[Converter | None]) -> None:
        self.schema = schema
        self.text_rows = text_rows
        self.converters = tuple(converters)
        self._rows: list[tuple[Any, ...]] | None = None

    @property  # type: ignore[override]
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = typed_rows(self.text_rows, self.converters)
        return self._rows

    def __len__(self) -> int:
        return len(self.text_rows)

    def __repr__(self) -> str:
        return f"TextBatch({len(self.schema)} columns, {len(self.text_rows)} rows)"


def typed_rows(text_rows: Sequence[tuple[Any, ...]], converters: Sequence[Converter | None]) -> list[tuple[Any, ...]]:
    """Convert column by column (a transpose is cheaper than a Python call per row)."""
    if not text_rows or not any(converters):
        return [tuple(r) for r in text_rows]
    columns = list(zip(*text_rows))
    for i, convert in enumerate(converters):
        if convert is not None:
            columns[i] = tuple(None if v is None else convert(v) for v in columns[i])
    return list(zip(*columns))
