"""Column type mapping between MySQL, the logical batch types and Postgres.

Pure functions of a column's logical type and its source spelling (`Column.source_type`); the table
they implement is docs/types.md. Rules that matter for faithfulness:
- unsigned integers widen (INT UNSIGNED -> bigint, BIGINT UNSIGNED -> numeric(20,0));
- TINYINT(1) stays an integer (smallint): MySQL does not constrain it to 0/1;
- MySQL TIME is a duration (-838:59:59..838:59:59) -> interval, not time of day;
- MySQL TIMESTAMP is an instant -> timestamptz (read in UTC); DATETIME is wall time -> timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from osiris_runtime.runner.batches import Column

_MYSQL_TYPE = re.compile(r"^\s*(?P<base>[a-z]+)\s*(?:\((?P<args>[^)]*)\))?(?P<rest>.*)$", re.IGNORECASE)
_MYSQL_INTS = {
    "tinyint": ("int8", "uint8"),
    "smallint": ("int16", "uint16"),
    "mediumint": ("int32", "int32"),  # 24 bits: even unsigned fits int32
    "int": ("int32", "uint32"),
    "integer": ("int32", "uint32"),
    "bigint": ("int64", "uint64"),
}
_MYSQL_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_MYSQL_BYTES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
_MYSQL_SIMPLE = {
    "float": "float32",
    "double": "float64",
    "real": "float64",
    "date": "date",
    "datetime": "datetime",
    "timestamp": "timestamp",
    "time": "time",
    "year": "int16",
    "json": "json",
    "bool": "bool",
    "boolean": "bool",
}


def _parse_mysql(column_type: str) -> tuple[str, str | None, bool]:
    m = _MYSQL_TYPE.match(column_type or "")
    if not m:
        return "", None, False
    return m.group("base").lower(), m.group("args"), "unsigned" in m.group("rest").lower()


def mysql_logical_type(column_type: str) -> str:
    """Logical type of a MySQL `COLUMN_TYPE` spelling such as `int(10) unsigned` or `decimal(12,2)`."""
    base, args, unsigned = _parse_mysql(column_type)
    if base in _MYSQL_INTS:
        return _MYSQL_INTS[base][1 if unsigned else 0]
    if base in ("decimal", "numeric", "dec", "fixed"):
        parts = [p.strip() for p in (args or "10,0").split(",")]
        precision, scale = parts[0], parts[1] if len(parts) > 1 else "0"
        return f"decimal({precision},{scale})"
    if base == "bit":
        return f"bit({(args or '1').strip()})"
    if base in _MYSQL_TEXT:
        return "string"
    if base in _MYSQL_BYTES:
        return "bytes"
    return _MYSQL_SIMPLE.get(base, "string")


_COPY_TEXT_AS_IS = {*_MYSQL_INTS, "decimal", "numeric", "dec", "fixed", "float", "double", "real", "date", "datetime",
                    "timestamp", "time", "year", "bool", "boolean"}


def mysql_copy_text_form(column_type: str) -> str | None:
    """How MySQL itself can spell a column as Postgres COPY text with the same bytes the text protocol
    path sends (drivers/copy_text.py): `as-is` (numbers, dates: no TAB/LF/backslash can occur),
    `escaped` (character data and JSON), `hex` (binary, as bytea's `\\x..`), or None (bit, uuid,
    spatial and other types: the row-by-row path handles them)."""
    base = _parse_mysql(column_type)[0]
    if base in _COPY_TEXT_AS_IS:
        return "as-is"
    if base in _MYSQL_TEXT or base == "json":
        return "escaped"
    if base in _MYSQL_BYTES:
        return "hex"
    return None


def _length_of(source_type: str | None) -> int | None:
    m = re.match(r"^\s*(?:varchar|char|character varying|character|nvarchar|nchar)\s*\((\d+)\)", source_type or "", re.IGNORECASE)
    return int(m.group(1)) if m else None


def _fraction_digits(source_type: str | None) -> str:
    m = re.match(r"^\s*(?:datetime|timestamp|time)\s*\((\d)\)", source_type or "", re.IGNORECASE)
    return f"({m.group(1)})" if m else ""


def _is_mysql_duration(source_type: str | None) -> bool:
    return bool(re.match(r"^\s*time\s*(\(\d\))?\s*$", source_type or "", re.IGNORECASE))


_PG_BY_LOGICAL = {
    "bool": "boolean",
    "int8": "smallint",
    "uint8": "smallint",
    "int16": "smallint",
    "uint16": "integer",
    "int32": "integer",
    "uint32": "bigint",
    "int64": "bigint",
    "uint64": "numeric(20,0)",
    "float32": "real",
    "float64": "double precision",
    "bytes": "bytea",
    "date": "date",
    "json": "jsonb",
}


def pg_type_for(column: Column) -> str:
    """Postgres type for creating a target column that holds this column's values unchanged."""
    logical, source = column.type, column.source_type
    if logical in _PG_BY_LOGICAL:
        return _PG_BY_LOGICAL[logical]
    if logical.startswith("decimal"):
        m = re.match(r"decimal\((\d+),\s*(\d+)\)", logical)
        return f"numeric({m.group(1)},{m.group(2)})" if m else "numeric"
    if logical.startswith("bit"):
        m = re.match(r"bit\((\d+)\)", logical)
        return f"bit({m.group(1)})" if m else "varbit"
    if logical == "string":
        length = _length_of(source)
        return f"varchar({length})" if length else "text"
    if logical == "datetime":
        return f"timestamp{_fraction_digits(source)}"
    if logical == "timestamp":
        return f"timestamptz{_fraction_digits(source)}"
    if logical == "time":
        return "interval" if _is_mysql_duration(source) else "time"
    return "text"


_MYSQL_BY_LOGICAL = {
    "bool": "tinyint(1)",
    "int8": "tinyint",
    "uint8": "tinyint unsigned",
    "int16": "smallint",
    "uint16": "smallint unsigned",
    "int32": "int",
    "uint32": "int unsigned",
    "int64": "bigint",
    "uint64": "bigint unsigned",
    "float32": "float",
    "float64": "double",
    "bytes": "longblob",
    "date": "date",
    "datetime": "datetime(6)",
    "timestamp": "datetime(6)",  # stored as UTC wall time; MySQL TIMESTAMP cannot hold dates after 2038
    "time": "time(6)",
    "json": "json",
}
# Source spellings that are safe to reuse verbatim in MySQL DDL (no quotes, nothing after the type).
_SAFE_MYSQL_SPELLING = re.compile(
    r"^(tinyint\(1\)|(tiny|medium|long)?text|(var)?char\(\d+\)|(var)?binary\(\d+\)|year(\(4\))?|datetime\(\d\)|time\(\d\))$",
    re.IGNORECASE,
)
_SAFE_ENUM = re.compile(r"^(enum|set)\('(?:[^'\\]|'')*'(?:,'(?:[^'\\]|'')*')*\)$", re.IGNORECASE)


def mysql_type_for(column: Column) -> str:
    """MySQL type for creating a target column; reuses a MySQL source spelling when it is safe DDL."""
    source = (column.source_type or "").strip()
    if source and (_SAFE_MYSQL_SPELLING.match(source) or _SAFE_ENUM.match(source)):
        return source
    logical = column.type
    if logical in _MYSQL_BY_LOGICAL:
        return _MYSQL_BY_LOGICAL[logical]
    if logical.startswith("decimal"):
        m = re.match(r"decimal\((\d+),\s*(\d+)\)", logical)
        if m and int(m.group(1)) <= 65 and int(m.group(2)) <= 30:
            return f"decimal({m.group(1)},{m.group(2)})"
        return "decimal(65,30)"
    if logical.startswith("bit"):
        m = re.match(r"bit\((\d+)\)", logical)
        return f"bit({m.group(1)})" if m and int(m.group(1)) <= 64 else "varbinary(255)"
    if logical == "string":
        length = _length_of(source)
        return f"varchar({length})" if length and length <= 16383 else "longtext"
    return "longtext"


# Postgres type oids -> logical types (what the Postgres extractor emits).
_LOGICAL_BY_PG_OID = {
    16: "bool",
    21: "int16",
    23: "int32",
    20: "int64",
    700: "float32",
    701: "float64",
    17: "bytes",
    1082: "date",
    1083: "time",
    1266: "time",
    1114: "datetime",
    1184: "timestamp",
    114: "json",
    3802: "json",
    25: "string",
    1043: "string",
    1042: "string",
    19: "string",
    2950: "string",
    1186: "time",
}


def pg_logical_type(type_oid: int, type_display: str | None) -> str:
    if type_oid == 1700:  # numeric
        m = re.match(r"numeric\((\d+),(\d+)\)", type_display or "")
        return f"decimal({m.group(1)},{m.group(2)})" if m else "decimal"
    if type_oid in (1560, 1562):  # bit, varbit
        m = re.match(r"bit\((\d+)\)", type_display or "")
        return f"bit({m.group(1)})" if m else "bit"
    return _LOGICAL_BY_PG_OID.get(type_oid, "string")


def describe_columns(columns: tuple[Column, ...]) -> list[dict[str, object]]:
    """The schema as event data: name, logical type, source spelling, nullability."""
    return [{"name": c.name, "type": c.type, "source_type": c.source_type, "nullable": c.nullable} for c in columns]


def create_table_ddl(
    table_sql: str,
    columns: Sequence[Column],
    primary_key: Sequence[str],
    *,
    quote: Callable[[str], str],
    type_for: Callable[[Column], str],
    suffix: str = "",
) -> str:
    """`CREATE TABLE` for a batch schema: mapped types, NOT NULL kept (and on key columns), the key."""
    lines = [
        f"{quote(c.name)} {type_for(c)}{'' if c.nullable and c.name not in primary_key else ' NOT NULL'}" for c in columns
    ]
    if primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(quote(k) for k in primary_key)})")
    return f"CREATE TABLE {table_sql} (\n  " + ",\n  ".join(lines) + "\n)" + suffix
