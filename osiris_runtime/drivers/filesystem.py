"""CSV files: `filesystem.csv_extractor` (CsvExtractor) and `filesystem.csv_writer` (CsvWriter).

Both stream: the extractor yields a batch at a time, the writer writes each batch as it comes, so
memory does not grow with the file. Column types are inferred from the first batch (int64,
float64, bool, date, datetime, else string) unless the step config declares them in `columns`.
The writer writes to a temporary file beside the target and renames it at the end, so a failed
run leaves the previous file untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from osiris_runtime.drivers.base import StepContext
from osiris_runtime.errors import ConfigError, RunFailed
from osiris_runtime.runner.batches import Batch, Column, Schema

DEFAULT_BATCH_SIZE = 10_000

_INT = re.compile(r"^[+-]?(0|[1-9][0-9]*)$")  # no leading zeros: "007" is a code, not a number
_FLOAT = re.compile(r"^[+-]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_BOOLS = {"true": True, "false": False}


def _parse_bool(text: str) -> bool:
    return _BOOLS[text.lower()]


# Logical type -> (does this text fit?, text -> value). Order = inference preference.
_PARSERS: dict[str, tuple[Callable[[str], bool], Callable[[str], Any]]] = {
    "int64": (lambda s: bool(_INT.match(s)), int),
    "float64": (lambda s: bool(_FLOAT.match(s)), float),
    "bool": (lambda s: s.lower() in _BOOLS, _parse_bool),
    "date": (lambda s: bool(_DATE.match(s)), dt.date.fromisoformat),
    "datetime": (lambda s: bool(_DATETIME.match(s)), dt.datetime.fromisoformat),
    "string": (lambda s: True, str),
}
CSV_TYPES = tuple(_PARSERS)


def resolve_path(ctx: StepContext, raw: Any) -> Path:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"step `{ctx.step_id}`: `path` must be a file path", code="config.missing-required")
    path = Path(os.path.expanduser(raw))
    return path if path.is_absolute() else Path(ctx.work_dir) / path


def file_options(ctx: StepContext) -> tuple[Path, str, str, bool]:
    """path, delimiter, encoding and header: the settings the extractor and the writer share."""
    cfg = ctx.config
    return (resolve_path(ctx, cfg.get("path")), str(cfg.get("delimiter", ",")), str(cfg.get("encoding", "utf-8")),
            bool(cfg.get("header", True)))


def infer_type(values: Sequence[str]) -> str:
    """The narrowest CSV type every non-empty sample value fits; string when there are none."""
    present = [v for v in values if v != ""]
    if not present:
        return "string"
    for name, (fits, _) in _PARSERS.items():
        if all(fits(v) for v in present):
            return name
    return "string"


class CsvExtractor:
    """Reads a delimited text file in batches of `batch_size` rows."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.path, self.delimiter, self.encoding, self.header = file_options(ctx)
        self.quotechar = str(cfg.get("quotechar", '"'))
        self.batch_size = int(cfg.get("batch_size", DEFAULT_BATCH_SIZE))
        self.declared: Mapping[str, str] = dict(cfg.get("columns") or {})
        self.infer = bool(cfg.get("infer_types", True))
        for name, type_ in self.declared.items():
            if type_ not in _PARSERS:
                raise ConfigError(f"step `{ctx.step_id}`: column `{name}` has type {type_!r}",
                                  code="config.invalid-enum", fix=f"use one of: {', '.join(CSV_TYPES)}")

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        try:
            handle = self.path.open("r", encoding=self.encoding, newline="")
        except FileNotFoundError:
            raise RunFailed(f"step `{self.ctx.step_id}`: file not found: {self.path}", code="run.file-not-found",
                            fix="check `path` (relative paths start at the pipeline's folder)") from None
        with handle:
            reader = csv.reader(handle, delimiter=self.delimiter, quotechar=self.quotechar)
            names = self._names(reader)
            first = self._read_rows(reader, len(names))
            schema, converters = self._schema(names, first)
            self.ctx.emit("csv_schema", path=str(self.path), columns=[[c.name, c.type] for c in schema.columns])
            line = 2 if self.header else 1
            rows = first
            while rows:
                if self.ctx.cancelled:
                    return
                yield Batch(schema, self._convert(rows, converters, names, line))
                self.ctx.add_read(len(rows))
                line += len(rows)
                rows = self._read_rows(reader, len(names))

    def _names(self, reader: Any) -> list[str]:
        if self.header:
            header = next(reader, None)
            if header is None:
                raise RunFailed(f"step `{self.ctx.step_id}`: {self.path} is empty (no header row)", code="run.csv-empty")
            return [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
        if self.declared:
            return list(self.declared)
        raise ConfigError(f"step `{self.ctx.step_id}`: a file without a header needs `columns`",
                          code="config.missing-required", fix="add `columns: {name: type, ...}` in file order")

    def _read_rows(self, reader: Any, width: int) -> list[list[str]]:
        rows: list[list[str]] = []
        for row in reader:
            if not row:
                continue  # blank line
            if len(row) != width:
                raise RunFailed(
                    f"step `{self.ctx.step_id}`: {self.path} line {reader.line_num} has {len(row)} fields, expected {width}",
                    code="run.csv-shape",
                )
            rows.append(row)
            if len(rows) >= self.batch_size:
                break
        return rows

    def _schema(self, names: list[str], sample: list[list[str]]) -> tuple[Schema, list[Callable[[str], Any]]]:
        columns, converters = [], []
        for index, name in enumerate(names):
            if name in self.declared:
                type_ = self.declared[name]
            elif self.infer:
                type_ = infer_type([row[index] for row in sample])
            else:
                type_ = "string"
            columns.append(Column(name, type_, True, "csv"))
            converters.append(_PARSERS[type_][1])
        return Schema(tuple(columns)), converters

    def _convert(self, rows: list[list[str]], converters: list[Callable[[str], Any]], names: list[str],
                 first_line: int) -> list[tuple[Any, ...]]:
        out = []
        for offset, row in enumerate(rows):
            try:
                out.append(tuple(None if v == "" else conv(v) for v, conv in zip(row, converters)))
            except (ValueError, KeyError):
                index = next(i for i, (v, conv) in enumerate(zip(row, converters)) if v != "" and not _fits(conv, v))
                raise RunFailed(
                    f"step `{self.ctx.step_id}`: {self.path} line {first_line + offset}: column `{names[index]}` "
                    f"was inferred from the first rows as another type and cannot hold this value",
                    code="run.csv-type",
                    fix=f"declare it: columns: {{{names[index]}: string}}",
                ) from None
        return out


def _fits(conv: Callable[[str], Any], value: str) -> bool:
    try:
        conv(value)
    except (ValueError, KeyError):
        return False
    return True


def format_value(value: Any) -> str:
    """How a value looks in a CSV cell: empty for NULL, ISO for dates, lowercase booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class CsvWriter:
    """Writes its one input stream to `path` (replace: atomically; append: adds rows)."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.path, self.delimiter, self.encoding, self.header = file_options(ctx)
        self.write_mode = str(cfg.get("write_mode", "replace"))
        if self.write_mode not in {"replace", "append"}:
            raise ConfigError(f"step `{ctx.step_id}`: write_mode {self.write_mode!r}", code="config.invalid-enum",
                              fix="use one of: replace, append")

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        if len(inputs) != 1:
            raise ConfigError(f"step `{self.ctx.step_id}`: a CSV writer takes exactly one input, got {len(inputs)}",
                              code="config.constraint", fix="set `needs` to the one step whose rows to write")
        (stream,) = inputs.values()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.write_mode == "append":
            self._append(stream)
        else:
            self._replace(stream)
        self.ctx.extra_metrics["output"] = str(self.path.resolve())

    def _replace(self, stream: Iterator[Batch]) -> None:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding=self.encoding, newline="") as handle:
                self._write(handle, stream, header=self.header)
            if self.ctx.cancelled:
                return  # keep the previous file: this run did not finish
            os.replace(tmp_name, self.path)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def _append(self, stream: Iterator[Batch]) -> None:
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", encoding=self.encoding, newline="") as handle:
            self._write(handle, stream, header=self.header and fresh)

    def _write(self, handle: Any, stream: Iterator[Batch], *, header: bool) -> None:
        writer = csv.writer(handle, delimiter=self.delimiter, lineterminator="\n")
        wrote_header = not header
        for batch in stream:
            if self.ctx.cancelled:
                return
            if not wrote_header:
                writer.writerow(batch.schema.names)
                wrote_header = True
            writer.writerows([format_value(v) for v in row] for row in batch.rows)
            self.ctx.add_written(len(batch))
