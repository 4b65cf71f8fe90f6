"""The discovered schema of one connection: tables and views, columns, keys, row estimates.

Frozen values with a canonical JSON form (`to_json` / `catalog_from_json`): the same schema gives
the same bytes and the same `schema_hash`, whatever order the server listed it in. Names keep the
database's exact spelling (quoted and mixed-case names included); lookups are exact first, and
`suggest` offers the close ones for a did-you-mean.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from osiris_runtime.canonical import fingerprint

CACHE_FORMAT = 1


@dataclass(frozen=True)
class DiscoveredColumn:
    name: str
    source_type: str  # the database's own spelling: `int(10) unsigned`, `numeric(12,2)`
    logical_type: str  # docs/types.md vocabulary
    nullable: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source_type": self.source_type, "type": self.logical_type,
                "nullable": self.nullable}


@dataclass(frozen=True)
class DiscoveredTable:
    schema: str  # MySQL: the database; Postgres: the schema
    name: str
    kind: str  # table | view
    columns: tuple[DiscoveredColumn, ...]
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()  # every unique key, the primary key included
    row_estimate: int | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def column(self, name: str) -> DiscoveredColumn | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def is_unique_key(self, columns: Iterable[str]) -> bool:
        """Whether `columns` (in any order) are exactly one of the table's unique keys."""
        wanted = set(columns)
        return any(set(key) == wanted for key in self.unique_keys)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema, "name": self.name, "kind": self.kind,
            "columns": [c.to_json() for c in self.columns],
            "primary_key": list(self.primary_key),
            "unique_keys": sorted(list(k) for k in self.unique_keys),
            "row_estimate": self.row_estimate,
        }


@dataclass(frozen=True)
class Catalog:
    """Everything discovered about one alias, and how it was discovered."""

    connection: str  # "@mysql.shop"
    family: str
    default_schema: str  # tables of this schema are named without it
    tables: tuple[DiscoveredTable, ...]
    fingerprint: str = ""  # of the connection's non-secret identity and the family's spec versions
    identity_fields: tuple[str, ...] = ()  # which fields the fingerprint covers (names only, never values)
    spec_versions: Mapping[str, str] = field(default_factory=dict)
    table_pattern: str | None = None  # `--tables`: the catalog only knows tables matching it
    discovered_at: str = ""  # ISO-8601 UTC
    duration_ms: float = 0.0
    method: str = ""  # information_schema | pg_catalog | postgrest-openapi

    def __post_init__(self) -> None:
        index: dict[str, DiscoveredTable] = {}
        for t in self.tables:
            index[t.qualified] = t
            if t.schema == self.default_schema:
                index.setdefault(t.name, t)
        object.__setattr__(self, "_index", index)

    @functools.cached_property
    def ranked_names(self) -> tuple[tuple[str, DiscoveredTable], ...]:
        """(lower-case display name, table), largest tables first: the order completion offers them."""
        ranked = sorted(self.tables, key=lambda t: (-(t.row_estimate or 0), self.display_name(t)))
        return tuple((self.display_name(t).lower(), t) for t in ranked)

    @functools.cached_property
    def columns_by_table(self) -> Mapping[str, tuple[tuple[str, str], ...]]:
        """Display name -> ((column, logical type), ...): what SQL checks look names up in (built once)."""
        return {self.display_name(t): tuple((c.name, c.logical_type) for c in t.columns) for t in self.tables}

    @functools.cached_property
    def _by_lower_name(self) -> tuple[list[str], list[int]]:
        """Lower-case names sorted (for bisect) and each one's position in `ranked_names`."""
        order = sorted(range(len(self.ranked_names)), key=lambda i: self.ranked_names[i][0])
        return [self.ranked_names[i][0] for i in order], order

    def tables_matching(self, prefix: str, limit: int) -> list[DiscoveredTable]:
        """Up to `limit` tables whose name starts with `prefix` (any case), largest first; then ones
        that contain it. A bisect, not a scan, for the common case: completion asks on every key."""
        wanted = prefix.lower()
        ranked = self.ranked_names
        if not wanted:
            return [t for _, t in ranked[:limit]]
        names, rank = self._by_lower_name
        lo = bisect.bisect_left(names, wanted)
        hi = bisect.bisect_left(names, wanted + "\U0010ffff", lo)
        chosen = [ranked[i][1] for i in sorted(rank[lo:hi])[:limit]]
        if len(chosen) < limit:
            chosen += [t for low, t in ranked if wanted in low and not low.startswith(wanted)][:limit - len(chosen)]
        return chosen

    @property
    def schema_hash(self) -> str:
        return fingerprint([t.to_json() for t in self.tables])

    def table(self, name: str, schema: str | None = None) -> DiscoveredTable | None:
        """A table by its name in the default schema, `schema.name`, or (`name`, `schema`)."""
        index: dict[str, DiscoveredTable] = self._index  # type: ignore[attr-defined]
        if schema and schema != self.default_schema:
            return index.get(f"{schema}.{name}")
        return index.get(name) or index.get(f"{self.default_schema}.{name}")

    def display_name(self, table: DiscoveredTable) -> str:
        return table.name if table.schema == self.default_schema else table.qualified

    def covers(self, name: str) -> bool:
        """Whether this catalog would know a table of that name (a `--tables` pattern limits it)."""
        return self.table_pattern is None or fnmatch.fnmatchcase(name.rsplit(".", 1)[-1], self.table_pattern)

    def suggest(self, name: str, schema: str | None = None, limit: int = 3) -> list[str]:
        """Close table names: the same name in another case first, then by similarity."""
        names = tuple(self.display_name(t) for t in self.tables
                      if schema is None or schema == self.default_schema or t.schema == schema)
        return close_names(name, names)[:limit]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CACHE_FORMAT,
            "connection": self.connection,
            "family": self.family,
            "default_schema": self.default_schema,
            "fingerprint": self.fingerprint,
            "identity_fields": list(self.identity_fields),
            "spec_versions": dict(sorted(self.spec_versions.items())),
            "table_pattern": self.table_pattern,
            "discovered_at": self.discovered_at,
            "duration_ms": round(self.duration_ms, 1),
            "method": self.method,
            "schema_hash": self.schema_hash,
            "tables": [t.to_json() for t in sorted(self.tables, key=lambda t: (t.schema, t.name))],
        }


def suggest_column(table: DiscoveredTable, name: str, limit: int = 3) -> list[str]:
    return close_names(name, tuple(table.column_names))[:limit]


@functools.lru_cache(maxsize=2048)
def close_names(name: str, names: tuple[str, ...]) -> list[str]:
    """Up to 3 names like `name`: the same in another case first, then by similarity (difflib).

    Memoised: difflib over thousands of tables costs milliseconds, and an editor re-validates
    the same unknown name on every keystroke elsewhere in the file."""
    folded = [n for n in names if n.lower() == name.lower()]
    return list(dict.fromkeys(folded + difflib.get_close_matches(name, names, n=3, cutoff=0.6)))[:3]


def catalog_from_json(data: Mapping[str, Any]) -> Catalog:
    """The inverse of `Catalog.to_json`; ValueError on anything else."""
    if not isinstance(data, Mapping) or data.get("format") != CACHE_FORMAT:
        raise ValueError("not a discovery cache of format %d" % CACHE_FORMAT)
    try:
        tables = tuple(
            DiscoveredTable(
                schema=str(t["schema"]), name=str(t["name"]), kind=str(t.get("kind") or "table"),
                columns=tuple(DiscoveredColumn(str(c["name"]), str(c.get("source_type") or ""),
                                               str(c.get("type") or "string"), bool(c.get("nullable", True)))
                              for c in t["columns"]),
                primary_key=tuple(t.get("primary_key") or ()),
                unique_keys=tuple(tuple(k) for k in t.get("unique_keys") or ()),
                row_estimate=t.get("row_estimate"),
            )
            for t in data["tables"]
        )
        return Catalog(
            connection=str(data["connection"]), family=str(data["family"]),
            default_schema=str(data.get("default_schema") or ""), tables=tables,
            fingerprint=str(data.get("fingerprint") or ""),
            identity_fields=tuple(data.get("identity_fields") or ()),
            spec_versions=dict(data.get("spec_versions") or {}),
            table_pattern=data.get("table_pattern"),
            discovered_at=str(data.get("discovered_at") or ""),
            duration_ms=float(data.get("duration_ms") or 0.0),
            method=str(data.get("method") or ""),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"damaged discovery cache: {exc}") from None
