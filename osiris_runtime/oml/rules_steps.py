"""Rules on steps: their shape and ids, their component and mode, and their dependencies."""

from __future__ import annotations

import functools
import re
from typing import Any

from osiris_runtime.errors import Severity
from osiris_runtime.friendly import did_you_mean
from osiris_runtime.oml.document import COMPONENT_KEYS, CONFIG_KEYS, MODE_TO_COMPONENT_MODE, StepView
from osiris_runtime.oml.duckdb_names import SINGLE_INPUT_NAME
from osiris_runtime.oml.rules import RuleContext
from osiris_runtime.oml.rules_shape import check_type, kebab_case, type_name

STEP_ID_FORMAT = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# What an id may be at all: it becomes a file name (cfg/<id>.json, written through `.<name>.tmp`)
# and a log key. Starting with a letter or digit, so it is never read as an option (`-rf`); short
# enough that the file name fits every file system's 255-byte limit. The compiler checks the same.
STEP_ID_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_STEP_ID_BYTES = 200


def unsafe_step_id(raw_id: str) -> str | None:
    """Why `raw_id` cannot be a step id (None when it can): the one rule for the validator and compiler."""
    if not STEP_ID_SAFE.fullmatch(raw_id):
        return "holds characters an id cannot (letters, digits, `-`, `_` and `.`, starting with a letter or digit)"
    if len(raw_id.encode("utf-8")) > MAX_STEP_ID_BYTES:
        return f"is longer than {MAX_STEP_ID_BYTES} bytes (it names the cfg file)"
    return None
REQUIRED_STEP_KEYS = ("id", "component", "mode")
STEP_KEYS = frozenset({"id", "component", "mode", "config", "needs", "description"})
# Reserved by the OML v0.1.0 format but not implemented: accepted, ignored, and said so.
RESERVED_STEP_KEYS = frozenset(
    {
        "inputs", "outputs", "when", "branch", "fan_out", "retry", "timeout", "idempotency_key",
        "labels", "tags", "resources", "privacy", "approval_required", "annotations", "artifacts", "metrics",
    }
)
LEGACY_STEP_KEYS = {"type": "component", "uses": "component", "with": "config"}
# Component modes back to the OML spelling (for messages and did-you-mean).
COMPONENT_MODE_TO_OML = {"extract": "read", "write": "write", "load": "write", "transform": "transform"}


def check_step_shape(ctx: RuleContext, index: int, raw: Any, step: StepView | None) -> None:
    """A step item is a mapping of known keys."""
    path = ("steps", index)
    if not isinstance(raw, dict):
        ctx.report(
            "oml.invalid-type",
            f"step {index + 1} must be a mapping with `id`, `component` and `mode`, not {type_name(raw)}",
            path,
            fix="write the step as `- id: ...` with `component:` and `mode:` below it",
            data={"expected": "a mapping"},
        )
        return
    _check_step_keys(ctx, path, raw)


def check_step_ids(ctx: RuleContext) -> None:
    """Ids are strings, unique (also ignoring case) and kebab-case."""
    from osiris_runtime.oml.rule_reuse import reuse_unless_read

    reuse_unless_read(ctx, "check_step_ids", _id_reads, _check_step_ids)


def _id_reads(doc: Any, index: int) -> Any:
    raw = doc.get(("steps", index))
    if not isinstance(raw, dict):
        return _typed(raw)
    return ("id" in raw, _typed(raw.get("id")), doc.span_of(("steps", index, "id")))


def _check_step_ids(ctx: RuleContext) -> None:
    seen: dict[str, int] = {}
    seen_folded: dict[str, int] = {}
    for step in ctx.doc.steps():
        if "id" in step.raw:
            _check_step_id(ctx, step, seen, seen_folded)


def _check_step_keys(ctx: RuleContext, path: tuple[Any, ...], raw: dict[Any, Any]) -> None:
    present = set(raw)
    for required in REQUIRED_STEP_KEYS:
        spellings = COMPONENT_KEYS if required == "component" else (required,)
        if not present & set(spellings):
            ctx.report(
                "oml.missing-key",
                f"step is missing `{required}`",
                path + ("id",) if required != "id" and "id" in raw else path,
                fix={"id": "add `id: <kebab-case-id>`", "component": "add `component: <family.role>`, e.g. `mysql.extractor`",
                     "mode": "add `mode: read`, `write` or `transform`"}[required],
                data={"missing": [required]},
            )
    for key in raw:
        if not isinstance(key, str):
            ctx.report("oml.invalid-type", f"step key `{key}` must be a string", path + (key,), key=True,
                       fix="use a plain name such as `id` or `config`")
        elif key in LEGACY_STEP_KEYS:
            new = LEGACY_STEP_KEYS[key]
            both = new in raw or (new == "component" and len(present & set(COMPONENT_KEYS)) > 1) or (
                new == "config" and len(present & set(CONFIG_KEYS)) > 1
            )
            ctx.report(
                "oml.deprecated-key",
                f"`{key}` is the legacy spelling of `{new}`" + ("; it is ignored because `" + new + "` is also set" if both else ""),
                path + (key,),
                key=True,
                severity=Severity.WARNING,
                fix=f"rename `{key}` to `{new}`",
                data={"legacy": key, "replacement": new},
            )
        elif key in RESERVED_STEP_KEYS:
            ctx.report(
                "oml.unsupported-key",
                f"`{key}` is reserved by OML v0.1.0 but not supported yet; it is ignored",
                path + (key,),
                key=True,
                severity=Severity.WARNING,
                fix=f"remove `{key}`",
            )
        elif key not in STEP_KEYS and not key.startswith("x-"):
            guess = did_you_mean(key, STEP_KEYS)
            ctx.report(
                "oml.unknown-key",
                f"unknown step key `{key}`",
                path + (key,),
                key=True,
                severity=Severity.WARNING,
                fix=f"did you mean `{guess}`?" if guess else "custom data goes under an `x-` prefixed key",
                data={"replacement": guess} if guess else {},
            )
    config_key = next((k for k in CONFIG_KEYS if k in raw), None)
    if config_key and raw[config_key] is not None:
        check_type(ctx, path + (config_key,), raw[config_key], dict, f"`{config_key}`")


@functools.lru_cache(maxsize=65536)  # pure; an editor asks about the same ids on every keystroke
def _id_verdict(raw_id: str) -> tuple[str | None, bool]:
    """Why the id cannot be one (`unsafe_step_id`), and whether it is kebab-case."""
    return unsafe_step_id(raw_id), STEP_ID_FORMAT.match(raw_id) is not None


def _check_step_id(ctx: RuleContext, step: StepView, seen: dict[str, int], seen_folded: dict[str, int]) -> None:
    raw_id = step.raw["id"]
    id_path = step.path + ("id",)
    if not isinstance(raw_id, str) or not raw_id:
        ctx.report(
            "oml.invalid-type",
            f"step `id` must be a non-empty string, not {type_name(raw_id)}",
            id_path,
            fix="use a kebab-case id such as `pull-orders`",
            data={"expected": "a string"},
        )
        return
    if raw_id in seen:
        ctx.report(
            "oml.duplicate-step-id",
            f"step id `{raw_id}` is already used by step {seen[raw_id] + 1}",
            id_path,
            fix="give every step a unique id",
            data={"first_step": seen[raw_id]},
        )
    elif raw_id.lower() in seen_folded:
        ctx.report(
            "oml.duplicate-step-id",
            f"step id `{raw_id}` differs only in case from step {seen_folded[raw_id.lower()] + 1} "
            "(their cfg files would be one on a case-insensitive file system)",
            id_path,
            fix="give every step a distinct id",
            data={"first_step": seen_folded[raw_id.lower()]},
        )
    else:
        seen[raw_id] = step.index
    seen_folded.setdefault(raw_id.lower(), step.index)
    unsafe, kebab = _id_verdict(raw_id)
    if unsafe or not kebab:
        suggestion = kebab_case(raw_id)[:MAX_STEP_ID_BYTES].strip("-")
        shown = raw_id if len(raw_id) <= 60 else raw_id[:57] + "..."
        ctx.report(
            "oml.step-id-format",
            f"step id `{shown}` " + (unsafe if unsafe else "is not kebab-case"),
            id_path,
            severity=Severity.ERROR if unsafe else Severity.WARNING,
            fix=f"rename it to `{suggestion}`" if suggestion else "use lower-case letters, digits and dashes",
            data={"replacement": suggestion} if suggestion else {},
        )


def check_component(ctx: RuleContext, index: int, raw: Any, step: StepView | None) -> None:
    """The component exists and runs in the step's mode."""
    if step is not None:
        _check_component(ctx, step)


def _check_component(ctx: RuleContext, step: StepView) -> None:
    component_path = step.path + ((step.component_key or "component"),)
    if step.component_key is not None and step.component is None:
        ctx.report(
            "oml.invalid-type",
            f"`{step.component_key}` must be a component name such as `mysql.extractor`, not {type_name(step.raw[step.component_key])}",
            component_path,
            fix="write the component's name, e.g. `mysql.extractor`",
            data={"expected": "a string"},
        )
    if "mode" in step.raw:
        _check_mode_value(ctx, step)
    if step.component is None:
        return
    spec = ctx.spec(step.component)
    if spec is None:
        suggestions = ctx.suggest(step.component)
        ctx.report(
            "oml.unknown-component",
            f"unknown component `{step.component}`",
            component_path,
            fix=f"did you mean `{suggestions[0]}`?" if suggestions else f"use one of: {', '.join(ctx.component_names())}",
            data={"replacement": suggestions[0], "suggestions": suggestions} if suggestions else {"suggestions": []},
        )
        return
    component_mode = step.component_mode
    if component_mode is None or component_mode in spec.modes:
        return
    if component_mode == "write" and "load" in spec.modes:
        return  # `load` is the deprecated spelling of `write` in older specs
    offered = sorted({COMPONENT_MODE_TO_OML[m] for m in spec.modes if m in COMPONENT_MODE_TO_OML})
    ctx.report(
        "oml.incompatible-mode",
        f"`{spec.name}` cannot run in mode `{step.mode}` (it offers: {', '.join(offered) or 'no runnable mode'})",
        step.path + ("mode",),
        fix=f"use `mode: {offered[0]}`" if len(offered) == 1 else f"use one of: {', '.join(offered)}",
        data={"replacement": offered[0], "allowed": offered} if len(offered) == 1 else {"allowed": offered},
    )


def _check_mode_value(ctx: RuleContext, step: StepView) -> None:
    mode = step.raw["mode"]
    allowed = list(MODE_TO_COMPONENT_MODE)
    if isinstance(mode, str) and mode in MODE_TO_COMPONENT_MODE:
        return
    guess = COMPONENT_MODE_TO_OML.get(mode) if isinstance(mode, str) else None
    guess = guess or (did_you_mean(mode, allowed) if isinstance(mode, str) else None)
    ctx.report(
        "oml.invalid-mode",
        f"step mode must be one of read, write, transform, not `{mode}`" if isinstance(mode, str) else
        f"step mode must be one of read, write, transform, not {type_name(mode)}",
        step.path + ("mode",),
        fix=f"did you mean `{guess}`?" if guess else "use read, write or transform",
        data={"replacement": guess, "allowed": allowed} if guess else {"allowed": allowed},
    )


def check_dependencies(ctx: RuleContext) -> None:
    """`needs` names other steps of the pipeline, and no dependencies go round in a cycle."""
    from osiris_runtime.oml.rule_reuse import reuse_unless_read

    reuse_unless_read(ctx, "check_dependencies", _dependency_reads, _check_dependencies)


def _typed(value: Any) -> Any:
    """A scalar with its type (`1`, `1.0` and `True` are equal values, not equal spellings)."""
    return (type(value), value) if not isinstance(value, (list, dict)) else type(value)


def _dependency_reads(doc: Any, index: int) -> Any:
    """What `check_dependencies` reads of one step item: its id, `needs` as written, and where they are."""
    step = doc.step(index)
    if step is None:
        return _typed(doc.get(("steps", index)))
    needs = step.raw.get("needs", _ABSENT)
    needs_path = step.path + ("needs",)
    if isinstance(needs, list):
        written: Any = tuple(item if isinstance(item, str) else type(item) for item in needs)
        spans: Any = tuple(doc.span_of(needs_path + (i,)) for i in range(len(needs)))
    else:
        written, spans = needs if needs is None or isinstance(needs, str) or needs is _ABSENT else type(needs), ()
    return (step.id, written, spans, doc.span_of(needs_path), doc.span_of(needs_path, key=True),
            doc.span_of(step.path + ("id",)), step.depends_on)


_ABSENT = object()


def _check_dependencies(ctx: RuleContext) -> None:
    steps = ctx.doc.steps()
    ids = {s.id for s in steps if s.id}
    for step in steps:
        if "needs" not in step.raw:
            continue
        needs = step.raw["needs"]
        needs_path = step.path + ("needs",)
        if needs is None:
            continue
        if isinstance(needs, str):
            items: list[tuple[Any, tuple[Any, ...]]] = [(needs, needs_path)]
        elif isinstance(needs, list):
            items = [(item, needs_path + (i,)) for i, item in enumerate(needs)]
        else:
            check_type(ctx, needs_path, needs, list, "`needs`")
            continue
        for item, path in items:
            if not isinstance(item, str):
                ctx.report("oml.invalid-type", f"`needs` lists step ids (strings), not {type_name(item)}", path,
                           fix="write the id of a step of this pipeline")
            elif item == step.id:
                ctx.report("needs.self", f"step `{item}` cannot depend on itself", path, fix=f"remove `{item}` from `needs`",
                           data={"remove": item})
            elif item not in ids:
                guess = did_you_mean(item, ids)
                ctx.report(
                    "needs.unknown-step",
                    f"`needs` refers to `{item}`, which is not a step of this pipeline",
                    path,
                    fix=f"did you mean `{guess}`?" if guess else f"use one of: {', '.join(sorted(ids))}" if ids else "remove it",
                    data={"replacement": guess} if guess else {},
                )
    _check_cycles(ctx, steps)


def _check_cycles(ctx: RuleContext, steps: list[StepView]) -> None:
    """Report each cycle once, on the `needs` of its first step in document order."""
    by_id: dict[str, StepView] = {}
    for step in steps:
        if step.id and step.id not in by_id:
            by_id[step.id] = step
    edges = {sid: [d for d in s.depends_on if d in by_id and d != sid] for sid, s in by_id.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    reported: set[frozenset[str]] = set()
    for root in by_id:
        if state.get(root):
            continue
        # Iterative DFS: a 1,000-step chain must not hit the recursion limit.
        path: list[str] = [root]
        iters = [iter(edges[root])]
        state[root] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    _report_cycle(ctx, [by_id[s] for s in cycle])
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(edges[nxt]))


def _report_cycle(ctx: RuleContext, cycle: list[StepView]) -> None:
    # The cycle as found follows "depends on" edges; say it in the order data flows.
    ordered = list(reversed(cycle))
    first = min(cycle, key=lambda s: s.index)
    start = ordered.index(first)
    ordered = ordered[start:] + ordered[:start]
    names = [s.id or "?" for s in ordered] + [ordered[0].id or "?"]
    implicit = [s.id for s in cycle if s.needs is None]
    ctx.report(
        "needs.cycle",
        f"dependency cycle: {' -> '.join(names)}"
        + (f" (steps without `needs` depend on the step before them: {', '.join(i or '?' for i in implicit)})" if implicit else ""),
        first.path + ("needs",) if "needs" in first.raw else first.path + ("id",),
        fix="remove one of these dependencies",
        data={"cycle": names},
    )


def check_single_input_name(ctx: RuleContext) -> None:
    """`input_df` in a DuckDB query means "the one input": with none or several it names nothing."""
    from osiris_runtime.oml.rule_reuse import reuse_unless_read

    reuse_unless_read(ctx, "check_single_input_name", _single_input_reads, _check_single_input_name)


def _single_input_reads(doc: Any, index: int) -> Any:
    step = doc.step(index)
    if step is None:
        return _typed(doc.get(("steps", index)))
    query = step.config.get("query") if step.component == "duckdb.processor" and step.config else None
    if not isinstance(query, str) or not _MENTION.search(query):
        return (step.id, step.mode, step.depends_on)  # a query that does not say `input_df`: only its id and mode matter
    query_path = step.path + (step.config_key or "config", "query")
    return (step.id, step.mode, step.depends_on, step.config_key, doc.span_of(query_path),
            doc.span_of(query_path, key=True), doc.span_of(step.path))


_MENTION = re.compile(rf"\b{SINGLE_INPUT_NAME}\b", re.IGNORECASE)


def _check_single_input_name(ctx: RuleContext) -> None:
    steps = ctx.doc.steps()
    by_id = {s.id: s for s in steps if s.id}
    for step in steps:
        query = step.config.get("query") if step.component == "duckdb.processor" and step.config else None
        if not isinstance(query, str) or not _MENTION.search(query) or SINGLE_INPUT_NAME in by_id:
            continue
        inputs = [n for n in step.depends_on if n in by_id and by_id[n].mode != "write"]
        if len(inputs) == 1:
            continue
        listed = ", ".join(f"`{n}`" for n in inputs)
        ctx.report(
            "config.ambiguous-input",
            f"`{SINGLE_INPUT_NAME}` names the single input of a DuckDB step, but this step reads "
            + (f"{len(inputs)} inputs: {listed}" if inputs else "no input"),
            step.path + (step.config_key or "config", "query"),
            fix=(f"query each input by its step id ({listed}) instead of `{SINGLE_INPUT_NAME}`" if inputs
                 else "add the step to read to `needs`"),
            data={"inputs": inputs},
        )
