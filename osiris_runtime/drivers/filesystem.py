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


# pandas dtype spellings (Osiris v0.1.0 configs) -> CSV logical types.
_PANDAS_DTYPES = {
    "int": "int64", "int8": "int64", "int16": "int64", "int32": "int64", "int64": "int64",
    "Int8": "int64", "Int16": "int64", "Int32": "int64", "Int64": "int64",
    "float": "float64", "float32": "float64", "float64": "float64", "Float64": "float64",
    "bool": "bool", "boolean": "bool",
    "str": "string", "string": "string", "object": "string", "category": "string",
    "datetime64": "datetime", "datetime64[ns]": "datetime", "datetime": "datetime", "date": "date",
}
_COMPRESSION_BY_SUFFIX = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}


def open_text(path: Path, compression: str, encoding: str) -> Any:
    """A text handle on a plain or compressed file (`infer` decides by the extension)."""
    import bz2
    import gzip
    import io
    import lzma
    import zipfile

    kind = _COMPRESSION_BY_SUFFIX.get(path.suffix.lower(), "none") if compression == "infer" else compression
    if kind == "gzip":
        return gzip.open(path, "rt", encoding=encoding, newline="")
    if kind == "bz2":
        return bz2.open(path, "rt", encoding=encoding, newline="")
    if kind == "xz":
        return lzma.open(path, "rt", encoding=encoding, newline="")
    if kind == "zip":
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            archive.close()
            raise RunFailed(f"{path} holds {len(members)} files; a zip input must hold exactly one", code="run.csv-shape")
        return io.TextIOWrapper(archive.open(members[0]), encoding=encoding, newline="")
    return path.open("r", encoding=encoding, newline="")


class CsvExtractor:
    """Reads a delimited text file in batches of `batch_size` rows."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.path, self.delimiter, self.encoding, self.header = file_options(ctx)
        self.quotechar = str(cfg.get("quotechar", '"'))
        self.batch_size = int(cfg.get("batch_size", DEFAULT_BATCH_SIZE))
        columns = cfg.get("columns") or {}
        # A list of names: which columns to read (with a header) or the columns' names (without).
        self.selected: list[str] | None = [str(c) for c in columns] if isinstance(columns, list) else None
        declared = {str(k): str(v) for k, v in (cfg.get("dtype") or {}).items()}
        for name, pandas_type in declared.items():
            if pandas_type not in _PANDAS_DTYPES:
                raise ConfigError(f"step `{ctx.step_id}`: `dtype` of `{name}` is {pandas_type!r}", code="config.invalid-enum",
                                  fix=f"use one of: {', '.join(_PANDAS_DTYPES)}")
            declared[name] = _PANDAS_DTYPES[pandas_type]
        self.dates = [str(c) for c in cfg.get("parse_dates") or ()]
        self.declared: Mapping[str, str] = {**declared, **(columns if isinstance(columns, dict) else {})}
        self.infer = bool(cfg.get("infer_types", True))
        na = cfg.get("na_values") or ()
        self.na_values = frozenset({""} | ({na} if isinstance(na, str) else {str(v) for v in na}))
        self.skip_rows = int(cfg.get("skip_rows") or 0)
        self.limit: int | None = cfg.get("limit")
        self.comment: str | None = cfg.get("comment")
        self.skip_blank = bool(cfg.get("skip_blank_lines", True))
        self.compression = str(cfg.get("compression") or "infer")
        for name, type_ in self.declared.items():
            if type_ not in _PARSERS:
                raise ConfigError(f"step `{ctx.step_id}`: column `{name}` has type {type_!r}",
                                  code="config.invalid-enum", fix=f"use one of: {', '.join(CSV_TYPES)}")

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> Iterator[Batch]:
        try:
            handle = open_text(self.path, self.compression, self.encoding)
        except FileNotFoundError:
            raise RunFailed(f"step `{self.ctx.step_id}`: file not found: {self.path}", code="run.file-not-found",
                            fix="check `path` (relative paths start at the pipeline's folder)") from None
        with handle:
            for _ in range(self.skip_rows):
                if not handle.readline():
                    break
            lines = (line for line in handle if not line.startswith(self.comment)) if self.comment else handle
            reader = csv.reader(lines, delimiter=self.delimiter, quotechar=self.quotechar)
            file_names = self._names(reader)
            keep = self._kept(file_names)
            names = [file_names[i] for i in keep]
            self.read = 0
            first = self._read_rows(reader, len(file_names), keep)
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
                rows = self._read_rows(reader, len(file_names), keep)

    def _names(self, reader: Any) -> list[str]:
        if self.header:
            header = next(reader, None)
            if header is None:
                raise RunFailed(f"step `{self.ctx.step_id}`: {self.path} is empty (no header row)", code="run.csv-empty")
            return [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
        if self.selected:
            return list(self.selected)
        if self.declared:
            return list(self.declared)
        raise ConfigError(f"step `{self.ctx.step_id}`: a file without a header needs `columns`",
                          code="config.missing-required", fix="add `columns: {name: type, ...}` in file order")

    def _kept(self, names: list[str]) -> list[int]:
        """Indexes of the columns to read: all, or (with a header) those `columns` lists, in file order."""
        if not self.header or self.selected is None:
            return list(range(len(names)))
        missing = [c for c in self.selected if c not in names]
        if missing:
            raise RunFailed(f"step `{self.ctx.step_id}`: {self.path} has no column(s) {', '.join(missing)}",
                            code="run.column-missing", fix=f"the file's columns: {', '.join(names)}")
        return [i for i, n in enumerate(names) if n in self.selected]

    def _read_rows(self, reader: Any, width: int, keep: list[int]) -> list[list[str]]:
        rows: list[list[str]] = []
        wanted = self.batch_size if self.limit is None else min(self.batch_size, self.limit - self.read)
        if wanted <= 0:
            return rows
        for row in reader:
            if not row:
                if self.skip_blank:
                    continue  # blank line
                row = [""] * width
            if len(row) != width:
                raise RunFailed(
                    f"step `{self.ctx.step_id}`: {self.path} line {reader.line_num} has {len(row)} fields, expected {width}",
                    code="run.csv-shape",
                )
            rows.append(row if len(keep) == width else [row[i] for i in keep])
            if len(rows) >= wanted:
                break
        self.read += len(rows)
        return rows

    def _schema(self, names: list[str], sample: list[list[str]]) -> tuple[Schema, list[Callable[[str], Any]]]:
        columns, converters = [], []
        for index, name in enumerate(names):
            if name in self.declared:
                type_ = self.declared[name]
            elif name in self.dates:
                values = [row[index] for row in sample if row[index] not in self.na_values]
                type_ = "date" if values and all(_DATE.match(v) for v in values) else "datetime"
            elif self.infer:
                type_ = infer_type([row[index] for row in sample if row[index] not in self.na_values])
            else:
                type_ = "string"
            columns.append(Column(name, type_, True, "csv"))
            converters.append(_PARSERS[type_][1])
        return Schema(tuple(columns)), converters

    def _convert(self, rows: list[list[str]], converters: list[Callable[[str], Any]], names: list[str],
                 first_line: int) -> list[tuple[Any, ...]]:
        out = []
        na = self.na_values
        for offset, row in enumerate(rows):
            try:
                out.append(tuple(None if v in na else conv(v) for v, conv in zip(row, converters)))
            except (ValueError, KeyError):
                index = next(i for i, (v, conv) in enumerate(zip(row, converters)) if v not in na and not _fits(conv, v))
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
        newline = str(cfg.get("newline", "\n"))
        if newline not in _NEWLINES:
            raise ConfigError(f"step `{ctx.step_id}`: newline {newline!r}", code="config.invalid-enum",
                              fix='use "\\n" (lf) or "\\r\\n" (crlf)')
        self.newline = _NEWLINES[newline]
        quoting = str(cfg.get("quoting", "minimal"))
        if quoting not in _QUOTING:
            raise ConfigError(f"step `{ctx.step_id}`: quoting {quoting!r}", code="config.invalid-enum",
                              fix=f"use one of: {', '.join(_QUOTING)}")
        self.quoting = _QUOTING[quoting]
        self.create_dirs = bool(cfg.get("create_dirs", True))

    def run(self, inputs: Mapping[str, Iterator[Batch]]) -> None:
        if len(inputs) != 1:
            raise ConfigError(f"step `{self.ctx.step_id}`: a CSV writer takes exactly one input, got {len(inputs)}",
                              code="config.constraint", fix="set `needs` to the one step whose rows to write")
        (stream,) = inputs.values()
        if self.create_dirs:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.parent.is_dir():
            raise RunFailed(f"step `{self.ctx.step_id}`: folder {self.path.parent} does not exist (create_dirs: false)",
                            code="run.folder-missing", fix="create the folder, or set `create_dirs: true`")
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
        writer = csv.writer(handle, delimiter=self.delimiter, lineterminator=self.newline, quoting=self.quoting,
                            escapechar="\\" if self.quoting == csv.QUOTE_NONE else None)
        # nonnumeric: numbers go to the csv module as numbers, so they stay unquoted.
        cell = _numeric_cell if self.quoting == csv.QUOTE_NONNUMERIC else format_value
        wrote_header = not header
        for batch in stream:
            if self.ctx.cancelled:
                return
            if not wrote_header:
                writer.writerow(batch.schema.names)
                wrote_header = True
            writer.writerows([cell(v) for v in row] for row in batch.rows)
            self.ctx.add_written(len(batch))


_NEWLINES = {"\n": "\n", "lf": "\n", "\r\n": "\r\n", "crlf": "\r\n"}
_QUOTING = {"minimal": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL, "nonnumeric": csv.QUOTE_NONNUMERIC, "none": csv.QUOTE_NONE}


def _numeric_cell(value: Any) -> Any:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    return format_value(value)
