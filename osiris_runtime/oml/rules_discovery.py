"""Checks against the discovered schema: tables, columns, keys and types that the database has.

Runs only when the caller passes the discovery caches (`validate(..., discovery=...)`): the
language server always does (from `.osiris/discovery/`), the CLI with `--discovery`. A step is
checked against the cache of its connection (`connection: "@family.alias"`, else the family's
default alias); without a cache nothing is said, since no cache is no evidence. SQL in `query:`
is parsed in the component's dialect even without a cache (a syntax error needs no database).

Codes: `discovery.unknown-table`, `discovery.unknown-column`, `discovery.not-unique-key`,
`discovery.type-mismatch` (warnings: the database has the last word) and `sql.syntax`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from osiris_runtime.errors import Diagnostic, Severity
from osiris_runtime.oml.scalar_positions import value_range
from osiris_runtime.oml.duckdb_names import sql_text
from osiris_runtime.oml.sql_analysis import DIALECT_OF_COMPONENT, SqlAnalysis, SqlName, analyze_sql, available

if TYPE_CHECKING:
    from osiris_runtime.discovery.model import Catalog, DiscoveredTable
    from osiris_runtime.oml.connections import ConnectionsFile
    from osiris_runtime.oml.document import OmlDocument, StepView
    from osiris_runtime.oml.rules import RuleContext
    from osiris_runtime.registry import ComponentSpec

# (family, alias) -> the alias's discovery cache
Catalogs = Mapping[tuple[str, str], "Catalog"]
DOC_URL = "docs/discovery.md"
_PLACEHOLDER = re.compile(r"\$\{")


@dataclass(frozen=True)
class StepSource:
    """What a step's rows look like, as far as the caches tell: its column names and logical types."""

    columns: tuple[tuple[str, str | None], ...]  # (name, logical type or None when unknown)


def catalog_for_step(step: "StepView", spec: "ComponentSpec", connections: "ConnectionsFile | None",
                     catalogs: Catalogs) -> "Catalog | None":
    """The cache of the step's connection: `@family.alias`, else the family's default alias
    (`resolve_step_alias`, the one rule for which alias a step uses)."""
    from osiris_runtime.oml.connections import ResolvedAlias, parse_connection_ref, resolve_step_alias

    ref = step.connection
    if connections is None:  # without the file only an explicit alias is known
        parsed = parse_connection_ref(ref) if isinstance(ref, str) else None
        return catalogs.get(parsed) if parsed is not None and parsed[1] is not None else None  # type: ignore[arg-type]
    chosen = resolve_step_alias(connections, spec.family, ref if isinstance(ref, str) else None)
    return catalogs.get((chosen.family, chosen.name)) if isinstance(chosen, ResolvedAlias) else None


def step_table(step: "StepView", config: Mapping[str, Any], catalog: "Catalog") -> "DiscoveredTable | None":
    table, schema = config.get("table"), config.get("schema")
    if not isinstance(table, str):
        return None
    if "." in table and not isinstance(schema, str) and catalog.table(table) is None:
        schema, table = table.split(".", 1)
    return catalog.table(table, schema if isinstance(schema, str) else None)


def check_discovery(ctx: "RuleContext", catalogs: Catalogs) -> None:
    from osiris_runtime.friendly import resolve_aliases
    from osiris_runtime.oml.rule_reuse import reuse_step

    reuse = ctx.reuse
    if reuse is not None:
        try:
            quick = _check_changed_steps(ctx, catalogs)
        except Exception:  # noqa: BLE001 - the loop below fails the same way, after the steps before it
            quick = False
        if quick:
            return
        reuse.current.pop(_TABLE, None)  # only this run's entries: all of them, or the fast path is off
    sources: dict[str, StepSource | None] = {}
    checked = 0
    # For `_check_changed_steps`: the step index of each name, the steps that depend on it.
    defined: dict[str, int] = {}
    dependents: dict[str, list[int]] = {}
    duplicated = False
    for step in ctx.doc.steps():
        spec = ctx.spec(step.component)
        if spec is None or step.config is None:  # a view's config is a mapping or None
            continue

        def check(ctx: "RuleContext", step: "StepView" = step, spec: "ComponentSpec" = spec) -> StepSource | None:
            config = resolve_aliases(spec, step.config or {})
            catalog = catalog_for_step(step, spec, ctx.connections, catalogs) if spec.family in ("mysql", "supabase") else None
            return _StepChecker(ctx, step, spec, config, catalog, sources).run()

        # A step reads what the caches say of its upstream steps (`sources`) besides its own text.
        upstream = tuple((name, sources.get(name)) for name in step.depends_on)
        key = (id(catalogs), catalogs, step.depends_on, upstream) if reuse is not None else None
        name = step.id or f"#{step.index}"
        sources[name] = reuse_step(ctx, _TABLE, step, key, check)
        checked += 1
        if reuse is not None:
            duplicated = duplicated or name in defined
            defined[name] = step.index
            for upstream_name in step.depends_on:
                dependents.setdefault(upstream_name, []).append(step.index)
    if reuse is not None and not duplicated and len(reuse.current.get(_TABLE, {})) == checked:
        reuse.scratch[_TABLE] = (catalogs, defined, dependents)


_TABLE = "check_discovery"


def _check_changed_steps(ctx: "RuleContext", catalogs: Catalogs) -> bool:
    """When only some steps changed since the last validation (`StepRuleResults.delta`): check
    those, and the steps downstream of one whose rows now look different; take every other step's
    findings of last time. False (nothing added) when that cannot be done (an id or a dependency
    changed, a step started or stopped being checked, ids are not unique)."""
    import heapq

    from osiris_runtime.friendly import resolve_aliases
    from osiris_runtime.oml.rule_reuse import Kept, moves_with_item

    reuse = ctx.reuse
    assert reuse is not None
    last = reuse.last_scratch.get(_TABLE)
    entries = reuse.current.get(_TABLE)
    if reuse.delta is None or last is None or entries is None or last[0] is not catalogs or reuse.previous_doc is None:
        return False
    _catalogs, defined, dependents = last
    for index in reuse.delta:
        before, step = reuse.previous_doc.step(index), ctx.doc.step(index)
        if (before is None) != (step is None):
            return False
        if before is None or step is None:
            continue
        if before.id != step.id or before.depends_on != step.depends_on:
            return False
        checked = ctx.spec(step.component) is not None and step.config is not None
        if checked != (index in entries):
            return False

    def source(name: str, at: int) -> StepSource | None:
        """What the full loop's `sources` held for `name` when it reached step `at`."""
        index = defined.get(name)
        return entries[index].result if index is not None and index < at else None

    found: dict[int, Kept] = {}
    queue = sorted(index for index in reuse.delta if index in entries)
    heapq.heapify(queue)
    done: set[int] = set()
    while queue:
        index = heapq.heappop(queue)
        if index in done:
            continue
        done.add(index)
        step = ctx.doc.step(index)
        assert step is not None
        spec = ctx.spec(step.component)
        assert spec is not None and step.config is not None
        old = entries[index]
        upstream = tuple((name, source(name, index)) for name in step.depends_on)
        key = (id(catalogs), catalogs, step.depends_on, upstream)
        if step.raw is old.raw and key == old.key:
            continue  # downstream of a changed step, but what it reads of it is the same
        child = ctx.for_step()
        config = resolve_aliases(spec, step.config)
        catalog = catalog_for_step(step, spec, ctx.connections, catalogs) if spec.family in ("mysql", "supabase") else None
        result = _StepChecker(child, step, spec, config, catalog, dict(upstream)).run()
        lines = ctx.doc.lines_of(step.path)
        if lines is None or not moves_with_item(lines, child.diagnostics):
            return False  # kept only what moves with its step (the caller starts the table over)
        entries[index] = found[index] = Kept(step.raw, key, lines[0], tuple(child.diagnostics), result)
        if result != old.result:
            for later in dependents.get(step.id or f"#{index}", ()):
                if later > index:
                    heapq.heappush(queue, later)
    for index in sorted(index for index, entry in entries.items() if entry.diagnostics):
        for diagnostic in entries[index].diagnostics:
            ctx.add(diagnostic)
    reuse.scratch[_TABLE] = last
    return True


class _StepChecker:
    def __init__(self, ctx: "RuleContext", step: "StepView", spec: "ComponentSpec", config: Mapping[str, Any],
                 catalog: "Catalog | None", sources: Mapping[str, StepSource | None]) -> None:
        self.ctx, self.step, self.spec, self.config, self.catalog, self.sources = ctx, step, spec, config, catalog, sources
        self.base = step.path + (step.config_key or "config",)

    def lines(self) -> list[str]:
        return self.ctx.doc.lines  # split once per document, not once per query

    def key_path(self, key: str) -> tuple[Any, ...]:
        """Path of a config key as written (a deprecated spelling such as `source_table` included)."""
        written = self.step.config or {}
        if key in written:
            return self.base + (key,)
        legacy = next((old for old, new in self.spec.config_aliases.items() if new == key and old in written), key)
        return self.base + (legacy,)

    def run(self) -> StepSource | None:
        table = None
        if self.catalog is not None:
            table = self.check_table()
            if table is not None:
                self.check_columns(table)
                self.check_key(table)
        query = self.config.get("query")
        if isinstance(query, str) and self.spec.name in DIALECT_OF_COMPONENT:
            return self.check_query(query)
        if table is None:
            return None
        if self.step.component_mode == "write":
            self.check_types(table)
            return None
        names = self.config.get("columns")
        chosen = [c for c in table.columns if not isinstance(names, list) or c.name in names]
        return StepSource(tuple((c.name, c.logical_type) for c in chosen))

    # --- table / columns / keys ----------------------------------------------------------------

    def check_table(self) -> "DiscoveredTable | None":
        assert self.catalog is not None
        name = self.config.get("table")
        if not isinstance(name, str) or _PLACEHOLDER.search(name) or not self.catalog.covers(name):
            return None
        table = step_table(self.step, self.config, self.catalog)
        if table is not None:
            return table
        if self.step.component_mode == "write" and self.config.get("create_if_missing") is True:
            return None  # the writer creates it
        schema = self.config.get("schema") if isinstance(self.config.get("schema"), str) else None
        suggestions = self.catalog.suggest(name, schema)
        fix = f"did you mean `{suggestions[0]}`?" if suggestions else f"run `osiris discover {self.catalog.connection} --refresh` if it is new"
        if self.step.component_mode == "write":
            fix += " (or set `create_if_missing: true`)"
        self.ctx.report("discovery.unknown-table",
                        f"table `{name}` does not exist in {self.catalog.connection} (discovered {self.catalog.discovered_at})",
                        self.key_path("table"), severity=Severity.WARNING, fix=fix, doc_url=DOC_URL,
                        data={"replacement": suggestions[0], "suggestions": suggestions} if suggestions else {})
        return None

    def check_columns(self, table: "DiscoveredTable") -> None:
        for key in ("columns", "primary_key"):
            value = self.config.get(key)
            items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            for n, column in enumerate(items):
                if not isinstance(column, str) or table.column(column) is not None or _PLACEHOLDER.search(column):
                    continue
                path = self.key_path(key) + ((n,) if isinstance(value, list) else ())
                self.unknown_column(column, table, path)

    def unknown_column(self, column: str, table: "DiscoveredTable", path: tuple[Any, ...],
                       rng: Any = None) -> None:
        from osiris_runtime.discovery.model import suggest_column

        assert self.catalog is not None
        suggestions = suggest_column(table, column)
        label = self.catalog.display_name(table)
        message = f"table `{label}` has no column `{column}`"
        fix = f"did you mean `{suggestions[0]}`?" if suggestions else "columns: " + ", ".join(table.column_names[:12])
        data = {"replacement": suggestions[0], "suggestions": suggestions} if suggestions else {}
        if rng is None:
            self.ctx.report("discovery.unknown-column", message, path, severity=Severity.WARNING, fix=fix,
                            data=data, doc_url=DOC_URL)
        else:
            self.ctx.add(Diagnostic("discovery.unknown-column", message, rng, Severity.WARNING, fix=fix, data=data,
                                    doc_url=DOC_URL, source=self.ctx.doc.source))

    def check_key(self, table: "DiscoveredTable") -> None:
        if self.config.get("write_mode") != "upsert":
            return
        key = self.config.get("primary_key")
        columns = [key] if isinstance(key, str) else key if isinstance(key, list) else None
        if not columns or not all(isinstance(c, str) and table.column(c) for c in columns) or table.is_unique_key(columns):
            return
        keys = [list(k) for k in table.unique_keys]
        fix = "use " + " or ".join(f"`{', '.join(k)}`" for k in keys) if keys else "add a primary key or unique constraint to the table"
        self.ctx.report("discovery.not-unique-key",
                        f"`{', '.join(columns)}` is not a primary or unique key of `{table.name}`: an upsert needs one",
                        self.key_path("primary_key"), severity=Severity.WARNING, fix=fix, doc_url=DOC_URL,
                        data={"replacement": table.primary_key[0]} if len(table.primary_key) == 1 and isinstance(key, str) else {})

    def check_types(self, table: "DiscoveredTable") -> None:
        """An existing target column must hold every value of the upstream column of the same name."""
        if len(self.step.depends_on) != 1:
            return
        source = self.sources.get(self.step.depends_on[0])
        if source is None:
            return
        for name, logical in source.columns:
            target = table.column(name)
            if target is None or logical is None or can_hold(target.logical_type, logical):
                continue
            self.ctx.report(
                "discovery.type-mismatch",
                f"`{table.name}.{name}` is {target.source_type} ({target.logical_type}); it cannot hold every "
                f"{logical} value of `{self.step.depends_on[0]}`",
                self.key_path("table"), severity=Severity.WARNING, doc_url=DOC_URL,
                fix=f"widen the column (docs/types.md), or cast `{name}` upstream")

    # --- SQL -----------------------------------------------------------------------------------

    def check_query(self, query: str) -> StepSource | None:
        if not available():
            return None
        analysis = analyze_sql(query, DIALECT_OF_COMPONENT[self.spec.name])
        path = self.key_path("query")
        scalar = self.ctx.doc.range_of(path)
        lines = self.lines()
        if analysis.error is not None:
            err = analysis.error
            self.ctx.add(Diagnostic("sql.syntax", err.message, value_range(lines, scalar, query, err.start, err.end),
                                    Severity.WARNING, fix="fix the SQL (checked with sqlglot, in the "
                                    f"{DIALECT_OF_COMPONENT[self.spec.name]} dialect)", doc_url=DOC_URL,
                                    source=self.ctx.doc.source))
            return None
        known = self.query_tables()
        if known is not None:
            self.check_query_names(analysis, known, lines, scalar, query)
        return self.query_output(analysis, known)

    def query_tables(self) -> dict[str, tuple[tuple[str, str | None], ...] | None] | None:
        """Table name -> its columns (None: exists, columns unknown); None when nothing is known."""
        if self.spec.name == "duckdb.processor":
            from osiris_runtime.oml.duckdb_names import SINGLE_INPUT_NAME, legacy_view_name

            out: dict[str, tuple[tuple[str, str | None], ...] | None] = {}
            for upstream in self.step.depends_on:
                source = self.sources.get(upstream)
                out[upstream] = out[legacy_view_name(upstream)] = source.columns if source else None
            if len(self.step.depends_on) == 1:  # the driver shows a single input as `input_df` too
                out.setdefault(SINGLE_INPUT_NAME, out[self.step.depends_on[0]])
            return out
        if self.catalog is None:
            return None
        return self.catalog.columns_by_table

    def check_query_names(self, analysis: SqlAnalysis, known: Mapping[str, Any], lines: Sequence[str],
                          scalar: Any, query: str) -> None:
        duckdb = self.spec.name == "duckdb.processor"
        for table in analysis.tables:
            qualified = f"{table.qualifier}.{table.name}" if table.qualifier else table.name
            if qualified in known or table.name in known or (self.catalog and not self.catalog.covers(table.name)):
                continue
            if self.catalog is not None and self.catalog.table(table.name, table.qualifier) is not None:
                continue
            if duckdb and _resolved_by_duckdb(table, query):
                continue
            rng = value_range(lines, scalar, query, table.start, table.end)
            suggestions = _close(table.name, list(known))
            if duckdb and not query[table.start:table.start + 1] == '"':  # SQL text: the quick fix leaves a query that runs
                suggestions = [sql_text(n) for n in suggestions]
            where = self.catalog.connection if self.spec.name != "duckdb.processor" else "the inputs of this step"
            self.ctx.add(Diagnostic(
                "discovery.unknown-table", f"table `{qualified}` does not exist in {where}", rng, Severity.WARNING,
                fix=f"did you mean `{suggestions[0]}`?" if suggestions else "tables: " + ", ".join(sorted(known)[:12]),
                data={"replacement": suggestions[0], "suggestions": suggestions} if suggestions else {},
                doc_url=DOC_URL, source=self.ctx.doc.source))
        for column in analysis.columns:
            table_name = analysis.table_of(column.qualifier)
            columns = known.get(table_name) if table_name else None
            if not columns or any(name == column.name for name, _ in columns):
                continue
            rng = value_range(lines, scalar, query, column.start, column.end)
            names = [name for name, _ in columns]
            suggestions = _close(column.name, names)
            self.ctx.add(Diagnostic(
                "discovery.unknown-column", f"table `{table_name}` has no column `{column.name}`", rng, Severity.WARNING,
                fix=f"did you mean `{suggestions[0]}`?" if suggestions else "columns: " + ", ".join(names[:12]),
                data={"replacement": suggestions[0], "suggestions": suggestions} if suggestions else {},
                doc_url=DOC_URL, source=self.ctx.doc.source))

    def query_output(self, analysis: SqlAnalysis, known: Mapping[str, Any] | None) -> StepSource | None:
        if analysis.output_columns is not None:
            types = {}
            if known and analysis.single_source and analysis.tables:
                types = dict(known.get(analysis.tables[0].name) or ())
            return StepSource(tuple((name, types.get(name)) for name in analysis.output_columns))
        if known and analysis.single_source and analysis.tables:
            columns = known.get(analysis.tables[0].name)
            return StepSource(tuple(columns)) if columns else None
        return None


def _resolved_by_duckdb(table: "SqlName", query: str) -> bool:
    """A name DuckDB finds by itself: qualified (an attached database, `information_schema`), a
    file (`'data.parquet'`), or one of its catalog views (`duckdb_names.SYSTEM_VIEWS`)."""
    from osiris_runtime.oml.duckdb_names import SYSTEM_VIEWS

    return table.qualifier is not None or query[table.start:table.start + 1] == "'" or table.name.lower() in SYSTEM_VIEWS


def _close(name: str, names: Sequence[str]) -> list[str]:
    from osiris_runtime.discovery.model import close_names

    return close_names(name, tuple(names))


_INT_RANGES = {"bool": (0, 1), "int8": (-2**7, 2**7 - 1), "uint8": (0, 2**8 - 1), "int16": (-2**15, 2**15 - 1),
               "uint16": (0, 2**16 - 1), "int32": (-2**31, 2**31 - 1), "uint32": (0, 2**32 - 1),
               "int64": (-2**63, 2**63 - 1), "uint64": (0, 2**64 - 1)}
_DECIMAL = re.compile(r"^decimal(?:\((\d+),\s*(\d+)\))?$")
_HOLDS_ANY_TEXT = {"string", "json"}
_TEMPORAL_WIDENING = {"date": {"datetime", "timestamp"}, "datetime": {"timestamp"}, "timestamp": {"datetime"}}


def can_hold(target: str, source: str) -> bool:
    """Whether a column of logical type `target` holds every value of `source` (docs/types.md)."""
    if target == source or target == "string" and source != "bytes":
        return True
    if source in _INT_RANGES:
        low, high = _INT_RANGES[source]
        if target in _INT_RANGES:
            t_low, t_high = _INT_RANGES[target]
            return t_low <= low and high <= t_high
        m = _DECIMAL.match(target)
        if m:
            return m.group(1) is None or 10 ** (int(m.group(1)) - int(m.group(2))) > max(abs(low), high)
        return target == "float64" and high < 2**53 or target == "float32" and high < 2**24
    m_source, m_target = _DECIMAL.match(source), _DECIMAL.match(target)
    if m_source and m_target:
        if m_target.group(1) is None:
            return True
        if m_source.group(1) is None:
            return False
        p, s = int(m_source.group(1)), int(m_source.group(2))
        tp, ts = int(m_target.group(1)), int(m_target.group(2))
        return tp - ts >= p - s and ts >= s
    if source == "float32":
        return target == "float64"
    if source in _HOLDS_ANY_TEXT and target in _HOLDS_ANY_TEXT:
        return target == "string" or source == target
    return target in _TEMPORAL_WIDENING.get(source, set())
