"""Postgres `COPY` text spelled by MySQL: one line per row, so the rows cross our process as blocks.

On 2 cores a MySQL -> Postgres append is bound by the CPU of three processes (mariadbd, ours, the
COPY backend). Read value by value, our process builds a Python string per value and psycopg
escapes each one again for COPY. Here MySQL's SELECT returns each row as its COPY line (columns
joined by TAB, NULL as `\\N`, backslash/TAB/LF/CR escaped only in rows whose text holds one,
binary as bytea hex) and the Postgres writer writes whole blocks: one Python object per row, none
per value (docs/data-movement.md#speed has the measurements).

The lines are byte for byte what the value-by-value path gives COPY (the text protocol's own
spelling of every number and date, UTF-8 text), so a target loads the same values either way. A
source that has any column without such a spelling (`sql_types.mysql_copy_text_form`) is read the
usual way. The runner asks for lines only when every consumer of the stream takes them
(`COPY_TEXT` in `StepContext.consumers_accept`); a consumer that still wants values (the Supabase
REST path, a target column that needs a conversion) gets them decoded from the lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from osiris_runtime.drivers.sql_identifiers import quote_mysql
from osiris_runtime.drivers.sql_types import mysql_copy_text_form
from osiris_runtime.drivers.text_batch import Converter, TextBatch
from osiris_runtime.runner.batches import Schema

COPY_TEXT = "postgres-copy-text"

# Spelled with CHAR() so that the SQL means the same under NO_BACKSLASH_ESCAPES.
_BS, _TAB, _LF, _CR = (f"CHAR({n} USING utf8mb4)" for n in (92, 9, 10, 13))
_NEEDS_ESCAPE = f"CONCAT('[', {_BS}, {_BS}, {_TAB}, {_LF}, {_CR}, ']')"
_NULL = f"CONCAT({_BS}, 'N')"


def _escaped(value: str) -> str:
    # The REGEXP test costs MariaDB far less than four REPLACEs on every row (most rows need none).
    replaced = value
    for char, letter in ((_BS, None), (_TAB, "t"), (_LF, "n"), (_CR, "r")):
        replaced = f"REPLACE({replaced}, {char}, CONCAT({_BS}, {_BS if letter is None else repr(letter)}))"
    return f"IF({value} REGEXP {_NEEDS_ESCAPE}, {replaced}, {value})"


def copy_line_select(schema: Schema, charsets: dict[str, str | None]) -> str | None:
    """The SELECT list (one expression) that spells each row as its COPY text line, or None when a
    column has no exact spelling. `charsets`: each column's character set (None: not character data)."""
    parts = []
    for column in schema.columns:
        form = mysql_copy_text_form(column.source_type or "")
        if form is None:
            return None
        name = quote_mysql(column.name)
        if form == "escaped":
            charset = charsets.get(column.name)
            value = name if charset == "utf8mb4" else f"CONVERT({name} USING utf8mb4)"
            text = _escaped(value)
        elif form == "hex":
            text = f"CONCAT({_BS}, {_BS}, 'x', HEX({name}))"
        else:
            text = name
        parts.append(f"IFNULL({text}, {_NULL})" if column.nullable else text)
    # CONCAT_WS skips NULL arguments: every nullable value above is already `\N` instead.
    return f"CAST(CONCAT_WS({_TAB}, {', '.join(parts)}) AS BINARY)"


_ESCAPE = re.compile(rb"\\(.)")
_UNESCAPED = {b"t": b"\t", b"n": b"\n", b"r": b"\r", b"\\": b"\\"}


def _unescape(field: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], field) if b"\\" in field else field


class CopyTextBatch(TextBatch):
    """Rows as COPY text lines (`lines`: one 1-tuple of bytes per row, as the driver fetched them).

    The Postgres writer writes `copy_text`; `text_rows` (and so `rows`) are decoded from the lines
    only when a consumer asks, into what the value-by-value path would have read.
    """

    def __init__(self, schema: Schema, lines: Sequence[tuple[bytes]], converters: Sequence[Converter | None]) -> None:
        self.schema = schema
        self.lines = lines
        self.converters = tuple(converters)
        self._binary = tuple(mysql_copy_text_form(c.source_type or "") == "hex" for c in schema.columns)
        self._text_rows: list[tuple[Any, ...]] | None = None
        self._rows: list[tuple[Any, ...]] | None = None

    @property
    def copy_text(self) -> bytes:
        return b"\n".join([line for (line,) in self.lines]) + b"\n" if self.lines else b""

    @property  # type: ignore[override]
    def text_rows(self) -> list[tuple[Any, ...]]:
        if self._text_rows is None:
            self._text_rows = [self._decode(line) for (line,) in self.lines]
        return self._text_rows

    def _decode(self, line: bytes) -> tuple[Any, ...]:
        values: list[Any] = []
        for field, binary in zip(line.split(b"\t"), self._binary):
            if field == b"\\N":
                values.append(None)
            elif binary:
                values.append(bytes.fromhex(_unescape(field)[2:].decode()))
            else:
                values.append(_unescape(field).decode("utf-8"))
        return tuple(values)

    def __len__(self) -> int:
        return len(self.lines)

    def __repr__(self) -> str:
        return f"CopyTextBatch({len(self.schema)} columns, {len(self.lines)} rows)"
