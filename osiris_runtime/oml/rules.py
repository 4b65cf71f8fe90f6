"""The OML validator: every problem of a document, with a code, a range, a message and a fix.

`validate` runs the rule families in a fixed order over one parsed document; each family is a
function of a `RuleContext` in its own module (`rules_shape`, `rules_steps`, `rules_config`,
`rules_secrets`, `rules_params`). The registry and the connections file are passed in: nothing
here reads files or the environment, so the CLI, the compiler and the language server get the
same answers for the same inputs.

A rule is a sequence of phases, each either a whole-document check or a check of one step item
(a function of that item and of document-level facts only). Step phases are what an editor can
re-use for the steps an edit did not touch (`rule_reuse.StepRuleResults`): the diagnostics are
then the same, in the same order, as validating from scratch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping

from osiris_runtime.errors import Diagnostic, Range, Severity
from osiris_runtime.oml.document import OmlDocument
from osiris_runtime.oml.yaml_tree import Path

# Past this many problems in one document, more help nobody: show these and count the rest. The cap
# shortens what is shown, never the verdict: errors are kept before warnings.
MAX_DIAGNOSTICS = 500

if TYPE_CHECKING:
    from osiris_runtime.oml.connections import ConnectionsFile
    from osiris_runtime.oml.document import StepView
    from osiris_runtime.oml.rule_reuse import StepRuleResults
    from osiris_runtime.oml.rules_discovery import Catalogs
    from osiris_runtime.registry import ComponentSpec, Registry


@dataclass
class RuleContext:
    """What every rule sees, plus the diagnostics list it appends to."""

    doc: OmlDocument
    registry: "Registry"
    connections: "ConnectionsFile | None"
    # The compiler validates its param-resolved document: placeholders left in it are literal text.
    params_resolved: bool = False
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Up to MAX_DIAGNOSTICS of each kind are kept (errors first when shown); beyond that only counted.
    dropped: dict[Severity, int] = field(default_factory=dict)
    _specs: dict[str, "ComponentSpec | None"] = field(default_factory=dict)
    _secret_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    _suggestions: dict[str, list[str]] = field(default_factory=dict)
    # Values computed once per validation and shared with the per-step contexts (`for_step`).
    _shared: dict[str, Any] = field(default_factory=dict)
    # State of one check across its phases: the document's, or one step item's in `for_step`.
    scratch: dict[str, Any] = field(default_factory=dict)
    # Findings of earlier versions of this document, for checks that re-use them.
    reuse: "StepRuleResults | None" = None
    _kept: dict[bool, int] = field(default_factory=dict)  # is-error -> kept so far
    # A per-step context keeps every finding: the cap is applied when they are gathered in order.
    limit: int | None = MAX_DIAGNOSTICS

    def for_step(self) -> "RuleContext":
        """A context collecting one step's findings (uncapped), sharing this one's look-ups."""
        child = copy.copy(self)
        child.diagnostics, child.dropped, child._kept, child.limit, child.scratch = [], {}, {}, None, {}
        return child

    def once(self, name: str, compute: Callable[[], Any]) -> Any:
        """A value of the whole document, computed on first use and shared by every step's check."""
        if name not in self._shared:
            self._shared[name] = compute()
        return self._shared[name]

    def spec(self, name: str | None) -> "ComponentSpec | None":
        if not name:
            return None
        if name not in self._specs:
            self._specs[name] = self.registry.get(name)
        return self._specs[name]

    # Registry calls re-check spec files on disk; a document asks the same questions many times.
    def suggest(self, name: str) -> list[str]:
        if name not in self._suggestions:
            self._suggestions[name] = self.registry.suggest(name)
        return self._suggestions[name]

    def component_names(self) -> list[str]:
        return self.once("component_names", self.registry.names)

    def secret_keys(self, component: str) -> frozenset[str]:
        """Field names holding secrets for a component (its secret map), looked up once per validation."""
        if component not in self._secret_keys:
            self._secret_keys[component] = self.registry.get_secret_map(component).secret_keys
        return self._secret_keys[component]

    def _room_for(self, severity: Severity) -> bool:
        if self.limit is None:
            return True
        kept = self._kept.get(severity >= Severity.ERROR, 0)
        if kept < self.limit:
            self._kept[severity >= Severity.ERROR] = kept + 1
            return True
        self.dropped[severity] = self.dropped.get(severity, 0) + 1
        return False

    def add(self, diagnostic: Diagnostic) -> None:
        if self._room_for(diagnostic.severity):
            self.diagnostics.append(diagnostic)

    def report(
        self,
        code: str,
        message: str,
        path: Path,
        *,
        key: bool = False,
        severity: Severity = Severity.ERROR,
        fix: str | None = None,
        data: Mapping[str, Any] | None = None,
        doc_url: str | None = None,
    ) -> None:
        """Add a diagnostic placed on the value (or the key) at `path` (counted only past the cap)."""
        if not self._room_for(severity):
            return
        self.diagnostics.append(
            Diagnostic(
                code,
                message,
                self.doc.range_of(path, key=key),
                severity,
                fix=fix,
                data=dict(data or {}),
                doc_url=doc_url,
                source=self.doc.source,
            )
        )


Rule = Callable[[RuleContext], None]
# A check of one step item: (ctx, index, the item as written, its view when it is a mapping).
StepRule = Callable[[RuleContext, int, Any, "StepView | None"], None]


@dataclass(frozen=True)
class Phase:
    """One part of a rule, run in order: a whole-document check or a check of each step item.

    A step check may read the item and document-level facts (the registry, the connections file,
    the top-level keys other than `steps`, the source), never another step: that is what lets an
    editor re-use its findings while the step's text is unchanged. `whole_document_when`: the
    document check to run instead when the step check cannot stand alone (state across steps).
    """

    rule: str  # the rule's name, for `oml.internal-error` (a failing phase skips the rule's later ones)
    document: Rule | None = None
    step: StepRule | None = None
    whole_document_when: Callable[[RuleContext], bool] | None = None

    def runs_per_step(self, ctx: RuleContext) -> bool:
        return self.step is not None and not (self.whole_document_when is not None and self.whole_document_when(ctx))


def _phases() -> tuple[Phase, ...]:
    from osiris_runtime.oml import rules_config, rules_params, rules_secrets, rules_shape, rules_sql, rules_steps

    return (
        Phase("check_document_shape", document=rules_shape.check_document_shape),
        Phase("check_steps_shape", step=rules_steps.check_step_shape),
        Phase("check_steps_shape", document=rules_steps.check_step_ids),
        Phase("check_components", step=rules_steps.check_component),
        Phase("check_dependencies", document=rules_steps.check_dependencies),
        Phase("check_single_input_name", document=rules_steps.check_single_input_name),
        Phase("check_configs", step=rules_config.check_config),
        Phase("check_connections", step=rules_config.check_step_connection, document=rules_config.check_connections,
              whole_document_when=lambda ctx: not rules_config.connections_available(ctx)),
        Phase("check_sql_identifiers", step=rules_sql.check_sql_identifiers),
        Phase("check_query_params", step=rules_sql.check_query_params),
        Phase("check_secrets", document=rules_secrets.check_metadata_secrets),
        Phase("check_secrets", step=rules_secrets.check_step_secrets),
        Phase("check_secrets", document=rules_secrets.check_suspicious_before_steps),
        Phase("check_secrets", step=rules_secrets.check_suspicious_in_step),
        Phase("check_secrets", document=rules_secrets.check_suspicious_after_steps),
        Phase("check_params", document=rules_params.check_param_declarations),
        Phase("check_params", document=rules_params.check_uses_before_steps),
        Phase("check_params", step=rules_params.check_uses_in_step),
        Phase("check_params", document=rules_params.check_uses_after_steps),
    )


def step_items(doc: OmlDocument) -> list[tuple[int, Any, "StepView | None"]]:
    """(index, item, view) of every item of a `steps` list (views for the mapping ones)."""
    steps = doc.get(("steps",))
    if not isinstance(steps, list):
        return []
    views = {view.index: view for view in doc.steps()}
    return [(index, raw, views.get(index)) for index, raw in enumerate(steps)]


def top_level_around_steps(data: Any) -> tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]]:
    """The top-level (key, value) pairs before and after a `steps` list, in order; all of them
    before when there is no such list (its items are then checked by no step phase)."""
    if not isinstance(data, dict):
        return [], []
    pairs = list(data.items())
    if not isinstance(data.get("steps"), list):
        return pairs, []
    at = list(data).index("steps")
    return pairs[:at], pairs[at + 1:]


# What one step item's checks found: (position among the step phases, diagnostics, the name of the
# exception that stopped the check, if one did).
StepFindings = tuple[tuple[int, tuple[Diagnostic, ...], "str | None"], ...]


def find_in_step(ctx: RuleContext, phases: list[Phase], index: int, raw: Any, view: "StepView | None") -> StepFindings:
    """Every step phase on one item, in a context of its own (uncapped: the cap is applied in order later)."""
    ctx.diagnostics, ctx.scratch = [], {}
    found = []
    for position, phase in enumerate(phases):
        before = len(ctx.diagnostics)
        failed = None
        try:
            assert phase.step is not None
            phase.step(ctx, index, raw, view)
        except Exception as exc:  # noqa: BLE001 - reported once for the rule when the findings are gathered
            failed = type(exc).__name__
        if failed or len(ctx.diagnostics) > before:
            found.append((position, tuple(ctx.diagnostics[before:]), failed))
    return tuple(found)


def _run_phases(ctx: RuleContext, phases: tuple[Phase, ...], reuse: "StepRuleResults | None") -> None:
    step_phases = [p for p in phases if p.runs_per_step(ctx)]
    if reuse is not None and step_phases:
        from osiris_runtime.oml.rule_reuse import findings_reusing

        per_item = findings_reusing(ctx, step_phases, lambda: step_items(ctx.doc), reuse)
    elif step_phases:
        child = ctx.for_step()
        per_item = [find_in_step(child, step_phases, index, raw, view) for index, raw, view in step_items(ctx.doc)]
    else:
        per_item = []
    by_phase: dict[int, list[tuple[tuple[Diagnostic, ...], str | None]]] = {}
    for findings in per_item:
        for position, diagnostics, failed in findings:
            by_phase.setdefault(position, []).append((diagnostics, failed))
    positions = {id(phase): position for position, phase in enumerate(step_phases)}
    failed_rules: set[str] = set()
    for phase in phases:
        if phase.rule in failed_rules:
            continue  # as if the rule had stopped at its first failure
        if id(phase) in positions:
            for diagnostics, failed in by_phase.get(positions[id(phase)], ()):
                for diagnostic in diagnostics:
                    ctx.add(diagnostic)
                if failed:
                    failed_rules.add(phase.rule)
                    _report_failure(ctx, phase.rule, failed)
                    break
            continue
        check = phase.document
        if check is None:
            continue
        try:
            check(ctx)
        except Exception as exc:  # noqa: BLE001 - an editor must never lose all diagnostics to one bug
            failed_rules.add(phase.rule)
            _report_failure(ctx, phase.rule, type(exc).__name__)


def _report_failure(ctx: RuleContext, rule: str, what: str) -> None:
    ctx.report(
        "oml.internal-error",
        f"a validation rule failed ({rule}: {what}); other checks still ran",
        (),
        severity=Severity.WARNING,
        fix="report this as a bug in Osiris",
    )


def capped(found: list[Diagnostic], dropped: Mapping[Severity, int], source: str | None) -> list[Diagnostic]:
    """At most MAX_DIAGNOSTICS in document order, errors kept before warnings, then one
    `oml.too-many-problems` line counting the rest (an error itself when it hides errors)."""
    hidden = dict(dropped)
    if len(found) > MAX_DIAGNOSTICS:
        by_weight = sorted(found, key=lambda d: -d.severity)
        for d in by_weight[MAX_DIAGNOSTICS:]:
            hidden[d.severity] = hidden.get(d.severity, 0) + 1
        found = by_weight[:MAX_DIAGNOSTICS]
    shown = sorted(found, key=lambda d: (d.range.start, d.code))
    total = sum(hidden.values())
    if total:
        errors = sum(n for severity, n in hidden.items() if severity >= Severity.ERROR)
        warnings = hidden.get(Severity.WARNING, 0)
        kinds = f" ({errors} error{'s' if errors != 1 else ''})" if errors else ""
        shown.append(
            Diagnostic(
                "oml.too-many-problems",
                f"{total} more problem{'s' if total != 1 else ''}{kinds} not shown",
                Range(),
                max(hidden),
                fix="fix the problems above and validate again",
                data={"not_shown": total, "errors_not_shown": errors, "warnings_not_shown": warnings},
                source=source,
            )
        )
    return shown


def validate(
    doc: OmlDocument,
    registry: "Registry",
    *,
    connections: "ConnectionsFile | None" = None,
    strict: bool = False,
    discovery: "Catalogs | None" = None,
    params_resolved: bool = False,
    reuse: "StepRuleResults | None" = None,
) -> list[Diagnostic]:
    """All problems of `doc`, syntax first, then in document order.

    `connections`: the connections file found for this document, or None when there is none
    (references then get a `connection.no-file` warning). `strict` turns warnings into errors.
    `discovery`: the discovery caches by (family, alias); when given (even empty), steps are also
    checked against them and SQL queries are parsed (`rules_discovery`).
    `params_resolved`: `doc` holds param values, not placeholders (the compiler's resolved
    document, `OmlDocument.with_data`): configs are checked as they are, and what still looks like
    `${params.x}` is literal text. `reuse`: what validating earlier versions of this document
    found, owned by the caller (an editor keeps one per document): the findings of steps whose
    text is unchanged are taken from it, and it is updated. Never raises on any document.
    """
    ctx = RuleContext(doc, registry, connections, params_resolved, reuse=reuse)
    phases = _phases()
    if discovery is not None:
        from osiris_runtime.oml.rules_discovery import check_discovery

        def check_against_discovery(ctx: RuleContext) -> None:
            check_discovery(ctx, discovery)

        phases = (*phases, Phase("check_against_discovery", document=check_against_discovery))
    else:  # with caches, `check_discovery` checks a DuckDB query's tables itself (and their columns)
        from osiris_runtime.oml.rules_sql import check_duckdb_tables

        phases = (*phases, Phase("check_duckdb_tables", document=check_duckdb_tables))
    if reuse is not None:
        from osiris_runtime.oml.rule_reuse import document_facts

        reuse.begin(document_facts(ctx), doc)
    _run_phases(ctx, phases, reuse)
    result = list(doc.syntax_diagnostics) + capped(ctx.diagnostics, ctx.dropped, doc.source)
    if strict:
        result = [replace(d, severity=Severity.ERROR) if d.severity is Severity.WARNING else d for d in result]
    return result
