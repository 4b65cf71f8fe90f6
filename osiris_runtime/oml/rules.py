"""The OML validator: every problem of a document, with a code, a range, a message and a fix.

`validate` runs the rule families in a fixed order over one parsed document; each family is a
function of a `RuleContext` in its own module (`rules_shape`, `rules_steps`, `rules_config`,
`rules_secrets`, `rules_params`). The registry and the connections file are passed in: nothing
here reads files or the environment, so the CLI, the compiler and the language server get the
same answers for the same inputs.
"""

from __future__ import annotations

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
    _names: list[str] | None = None
    _kept: dict[bool, int] = field(default_factory=dict)  # is-error -> kept so far

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
        if self._names is None:
            self._names = self.registry.names()
        return self._names

    def secret_keys(self, component: str) -> frozenset[str]:
        """Field names holding secrets for a component (its secret map), looked up once per validation."""
        if component not in self._secret_keys:
            self._secret_keys[component] = self.registry.get_secret_map(component).secret_keys
        return self._secret_keys[component]

    def _room_for(self, severity: Severity) -> bool:
        kept = self._kept.get(severity >= Severity.ERROR, 0)
        if kept < MAX_DIAGNOSTICS:
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


def _rules() -> tuple[Rule, ...]:
    from osiris_runtime.oml import rules_config, rules_params, rules_secrets, rules_shape, rules_sql, rules_steps

    return (
        rules_shape.check_document_shape,
        rules_steps.check_steps_shape,
        rules_steps.check_components,
        rules_steps.check_dependencies,
        rules_steps.check_single_input_name,
        rules_config.check_configs,
        rules_config.check_connections,
        rules_sql.check_sql_identifiers,
        rules_sql.check_query_params,
        rules_secrets.check_secrets,
        rules_params.check_params,
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
) -> list[Diagnostic]:
    """All problems of `doc`, syntax first, then in document order.

    `connections`: the connections file found for this document, or None when there is none
    (references then get a `connection.no-file` warning). `strict` turns warnings into errors.
    `discovery`: the discovery caches by (family, alias); when given (even empty), steps are also
    checked against them and SQL queries are parsed (`rules_discovery`).
    `params_resolved`: `doc` holds param values, not placeholders (the compiler's resolved
    document, `OmlDocument.with_data`): configs are checked as they are, and what still looks like
    `${params.x}` is literal text. Never raises on any document.
    """
    ctx = RuleContext(doc, registry, connections, params_resolved)
    rules = _rules()
    if discovery is not None:
        from osiris_runtime.oml.rules_discovery import check_discovery

        def check_against_discovery(ctx: RuleContext) -> None:
            check_discovery(ctx, discovery)

        rules = (*rules, check_against_discovery)
    for rule in rules:
        try:
            rule(ctx)
        except Exception as exc:  # noqa: BLE001 - an editor must never lose all diagnostics to one bug
            ctx.report(
                "oml.internal-error",
                f"a validation rule failed ({rule.__name__}: {type(exc).__name__}); other checks still ran",
                (),
                severity=Severity.WARNING,
                fix="report this as a bug in Osiris",
            )
    result = list(doc.syntax_diagnostics) + capped(ctx.diagnostics, ctx.dropped, doc.source)
    if strict:
        result = [replace(d, severity=Severity.ERROR) if d.severity is Severity.WARNING else d for d in result]
    return result
