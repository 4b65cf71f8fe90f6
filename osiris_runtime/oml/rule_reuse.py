"""Re-using what validating the previous version of a document found, for the unchanged steps.

An edit in a large pipeline changes one step; checking the thousands of others again is most of
the cost of re-validating. The incremental parse (`incremental.parse_oml_reusing`) gives every
unchanged step item the very data object it had before, so a step check's findings can be kept
by item: they are taken again while the item is the same object at the same index and every
document-level fact a step check may read is unchanged (`document_facts`); ranges are moved
when the item moved up or down. Checks that read other steps keep their own entries, keyed by
exactly what they read (`reuse_step`, `reuse_unless_read`).

Nothing here changes what is found: validating with a `StepRuleResults` gives the same list as
validating from scratch (tests/oml/test_rule_reuse.py checks it on random edits).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

from osiris_runtime.errors import Diagnostic, Position, Range

if TYPE_CHECKING:
    from osiris_runtime.oml.document import OmlDocument, StepView
    from osiris_runtime.oml.rules import Phase, RuleContext, StepFindings

T = TypeVar("T")
_ITEMS = "steps"  # the table of `findings_reusing` (its results hold diagnostics)


@dataclass(frozen=True)
class Kept:
    """What one check found for one step item (or the whole document), and what it read."""

    raw: Any  # the step item the findings are of (held, so identity stays meaningful)
    key: Any  # what else the check read
    first_line: int  # where the item started then
    diagnostics: tuple[Diagnostic, ...]
    result: Any


@dataclass
class StepRuleResults:
    """Findings of the last validation of one document, owned by its caller (one per document)."""

    facts: Any = None
    # Indices of the step items that are not the objects they were last time, when nothing else
    # changed (the same facts, as many items, each on its line): checks then look at these only.
    delta: list[int] | None = None
    previous_doc: "OmlDocument | None" = None
    _doc: "OmlDocument | None" = None
    _items: list[Any] = field(default_factory=list)
    _first_lines: list[int] = field(default_factory=list)
    _previous: dict[str, dict[Any, Kept]] = field(default_factory=dict)
    current: dict[str, dict[Any, Kept]] = field(default_factory=dict)
    _findings: "list[StepFindings] | None" = None  # of every item, by `findings_reusing`
    facts_of_phases: Any = None  # the step phases `_findings` are of
    last_findings: "list[StepFindings] | None" = None
    # What checks keep of the whole document (`reuse_unless_read`) or for themselves (`scratch`).
    _documents: dict[str, tuple[Diagnostic, ...]] = field(default_factory=dict)
    last_documents: dict[str, tuple[Diagnostic, ...]] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)
    last_scratch: dict[str, Any] = field(default_factory=dict)

    def begin(self, facts: Any, doc: "OmlDocument") -> None:
        """Start a validation: keep the last one's entries to look in (none when `facts` changed)."""
        items = doc.get(("steps",))
        items = list(items) if isinstance(items, list) else []
        first_lines = doc.step_first_lines()
        same = facts == self.facts
        if same and self._doc is not None and len(items) == len(self._items) and first_lines == self._first_lines:
            self.delta = [index for index, (old, new) in enumerate(zip(self._items, items)) if old is not new]
        else:
            self.delta = None
        self._previous = self.current if same else {}
        # With a delta every entry of an unchanged item stands: start from all of them.
        self.current = {table: dict(entries) for table, entries in self._previous.items()} if self.delta is not None else {}
        # What the last validation found as a whole (never older: a check it skipped starts over).
        self.last_findings, self._findings = (self._findings if self.delta is not None else None), None
        self.last_scratch, self.scratch = (self.scratch if self.delta is not None else {}), {}
        self.last_documents, self._documents = (self._documents if self.delta is not None else {}), {}
        self.facts, self.previous_doc, self._doc, self._items, self._first_lines = facts, self._doc, doc, items, first_lines

    def take(self, table: str, slot: Any, raw: Any, key: Any, first_line: int) -> Kept | None:
        """The last validation's findings of `table` for the item at `slot`, when it is the same
        object read with the same `key`; moved to `first_line` (kept for the next validation)."""
        entry = self._previous.get(table, {}).get(slot)
        if entry is None or entry.raw is not raw or entry.key != key:
            return None
        if entry.first_line != first_line:
            delta = first_line - entry.first_line
            moved = lambda found: tuple(_moved(d, delta) for d in found)  # noqa: E731
            result = entry.result
            if table == _ITEMS:
                result = tuple((position, moved(found), failed) for position, found, failed in result)
            entry = Kept(entry.raw, key, first_line, moved(entry.diagnostics), result)
        self.current.setdefault(table, {})[slot] = entry
        return entry

    def keep(self, table: str, slot: Any, entry: Kept) -> None:
        """Findings for the next validation to take."""
        self.current.setdefault(table, {})[slot] = entry

    def unchanged_for(self, doc: "OmlDocument", reads: Callable[["OmlDocument", int], Any]) -> bool:
        """Whether nothing a check reads of each step item (`reads(doc, index)`) changed since the
        last validation: only the delta's items are looked at."""
        before = self.previous_doc
        if self.delta is None or before is None:
            return False
        return all(reads(before, index) == reads(doc, index) for index in self.delta)


def document_facts(ctx: "RuleContext") -> tuple[Any, ...]:
    """Everything outside a step item that a step check may read: the registry's specs, the
    connections file, the top-level keys other than `steps` (params, profiles, metadata...), the
    source, and whether params are resolved."""
    data = ctx.doc.data
    header = repr([(k, v) for k, v in data.items() if k != "steps"]) if isinstance(data, dict) else repr(data)
    specs = tuple((spec.name, spec.fingerprint, str(spec.path)) for spec in ctx.registry.specs())
    return (specs, ctx.connections, header, ctx.doc.source, ctx.params_resolved)


def findings_reusing(ctx: "RuleContext", phases: "list[Phase]", items: Callable[[], list[tuple[int, Any, "StepView | None"]]],
                     reuse: StepRuleResults) -> "list[StepFindings]":
    """Each item's findings of the step `phases`: kept ones for unchanged items, found for the others."""
    from osiris_runtime.oml.rules import find_in_step

    key = tuple(phase.rule for phase in phases)
    child = ctx.for_step()
    if reuse.delta is not None and reuse.last_findings is not None and reuse.facts_of_phases == key:
        out = list(reuse.last_findings)
        steps = ctx.doc.get(("steps",))
        for index in reuse.delta:
            raw = steps[index]
            out[index] = findings = find_in_step(child, phases, index, raw, ctx.doc.step(index))
            lines = ctx.doc.lines_of(("steps", index))
            if isinstance(raw, dict) and lines is not None and moves_with_item(lines, (d for _, found, _ in findings for d in found)):
                reuse.keep(_ITEMS, index, Kept(raw, key, lines[0], (), findings))
        reuse._findings = out
        return out
    out = []
    for index, raw, view in items():
        lines = ctx.doc.lines_of(("steps", index))
        if not isinstance(raw, dict) or lines is None:  # scalars have no identity worth keeping
            out.append(find_in_step(child, phases, index, raw, view))
            continue
        entry = reuse.take(_ITEMS, index, raw, key, lines[0])
        if entry is not None:
            out.append(entry.result)
            continue
        findings = find_in_step(child, phases, index, raw, view)
        if moves_with_item(lines, (d for _, diagnostics, _ in findings for d in diagnostics)):
            reuse.keep(_ITEMS, index, Kept(raw, key, lines[0], (), findings))
        out.append(findings)
    reuse._findings, reuse.facts_of_phases = out, key
    return out


def reuse_step(ctx: "RuleContext", table: str, step: "StepView", key: Any, check: Callable[["RuleContext"], T]) -> T:
    """`check(context)` of one step of a check that reads other steps too (`key`: all it reads
    besides the item and the document facts), or its result for the same item and key last time;
    its diagnostics are added to `ctx` either way."""
    reuse = ctx.reuse
    if reuse is None:
        return check(ctx)
    lines = ctx.doc.lines_of(step.path)
    if lines is not None:
        entry = reuse.take(table, step.index, step.raw, key, lines[0])
        if entry is not None:
            for diagnostic in entry.diagnostics:
                ctx.add(diagnostic)
            return entry.result  # type: ignore[no-any-return]
    child = ctx.for_step()
    try:
        result = check(child)
    finally:
        for diagnostic in child.diagnostics:
            ctx.add(diagnostic)
    if lines is not None and moves_with_item(lines, child.diagnostics):
        reuse.keep(table, step.index, Kept(step.raw, key, lines[0], tuple(child.diagnostics), result))
    return result


def reuse_unless_read(ctx: "RuleContext", table: str, reads: Callable[["OmlDocument", int], Any],
                      check: Callable[["RuleContext"], None]) -> None:
    """`check(context)` over the whole document, or its diagnostics of last time when only some
    step items changed and nothing `reads(doc, index)` gives of them (positions included) did."""
    reuse = ctx.reuse
    if reuse is None:
        check(ctx)
        return
    last = reuse.last_documents.get(table)
    if last is not None and reuse.unchanged_for(ctx.doc, reads):
        for diagnostic in last:
            ctx.add(diagnostic)
        reuse._documents[table] = last
        return
    child = ctx.for_step()
    try:
        check(child)
    finally:
        for diagnostic in child.diagnostics:
            ctx.add(diagnostic)
    reuse._documents[table] = tuple(child.diagnostics)


def moves_with_item(lines: tuple[int, int], diagnostics: Iterable[Diagnostic]) -> bool:
    """Every range lies on the item's lines (so it moves with the item)."""
    first, last = lines
    return all(first <= d.range.start.line and d.range.end.line <= last for d in diagnostics)


def _moved(diagnostic: Diagnostic, lines: int) -> Diagnostic:
    start, end = diagnostic.range.start, diagnostic.range.end
    return replace(diagnostic, range=Range(Position(start.line + lines, start.column), Position(end.line + lines, end.column)))
