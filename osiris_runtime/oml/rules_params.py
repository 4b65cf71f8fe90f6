"""Rules on params: declarations, defaults, profiles, and `${params.x}` uses.

The declarations and their coercion rules are `osiris_runtime.params` (shared with the compiler);
this module only places their problems in the document.
"""

from __future__ import annotations

import re
from typing import Any

from osiris_runtime.errors import Position, Range
from osiris_runtime.friendly import did_you_mean
from osiris_runtime.oml.rules import RuleContext, top_level_around_steps


def param_values(ctx: RuleContext) -> dict[str, Any]:
    """Each declared param's default value (typed), for checking configs that use them."""
    from osiris_runtime.params import declared_params, resolve_params

    decls, _ = declared_params(ctx.doc.data)
    return dict(resolve_params(decls, data=ctx.doc.data, cli={}, env={}, profile=None).values)


def _placeholder_uses(value: Any, path: tuple[Any, ...]) -> list[Any]:
    """Every `${params.x}` in `value` (at `path`), in document order; most values are skipped cheaply."""
    from osiris_runtime.params import mentions_params, substitute_params

    return substitute_params(value, {}, path)[1] if mentions_params(value) else []


def check_param_declarations(ctx: RuleContext) -> None:
    """Declarations, their defaults, and the values profiles give them."""
    from osiris_runtime.params import declared_params, resolve_params

    data = ctx.doc.data
    if not isinstance(data, dict):
        return
    decls, problems = declared_params(data)
    for problem in problems:
        ctx.report(problem.code, problem.message, problem.path, key=problem.key, fix=problem.fix)
    for problem in resolve_params(decls, data=data, cli={}, env={}, profile=None).problems:
        code = "params.bad-default" if problem.code == "params.invalid-value" else problem.code
        ctx.report(code, problem.message.replace("from its default", "default"), problem.path, key=problem.key,
                   fix=problem.fix, data={"param": problem.name})
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        for profile in profiles:
            if not isinstance(profiles[profile], dict):
                continue
            for problem in resolve_params(decls, data=data, cli={}, env={}, profile=profile).problems:
                if problem.code == "params.unknown":
                    ctx.report("params.unknown-profile-param", problem.message, problem.path, key=True, fix=problem.fix,
                               data=_replacement(problem.name, decls))
                elif problem.code == "params.invalid-value" and problem.path[:1] == ("profiles",):
                    ctx.report("params.bad-profile-value", problem.message, problem.path, fix=problem.fix,
                               data={"param": problem.name})


# Uses of undeclared params outside `params` and `profiles`, in document order: the top-level keys
# before the steps, each step item, the keys after them. None in a param-resolved document: every
# use was resolved, and what looks like one is literal (`$${params.x}`) text.
def check_uses_before_steps(ctx: RuleContext) -> None:
    before, _after = top_level_around_steps(ctx.doc.data)
    for key, value in before:
        _check_uses(ctx, value, (key,), key)


def check_uses_in_step(ctx: RuleContext, index: int, raw: Any, step: Any) -> None:
    _check_uses(ctx, raw, ("steps", index), "steps")


def check_uses_after_steps(ctx: RuleContext) -> None:
    _before, after = top_level_around_steps(ctx.doc.data)
    for key, value in after:
        _check_uses(ctx, value, (key,), key)


def _check_uses(ctx: RuleContext, value: Any, path: tuple[Any, ...], key: Any) -> None:
    if ctx.params_resolved or key in ("params", "profiles") or not isinstance(ctx.doc.data, dict):
        return
    decls = ctx.once("param_declarations", lambda: _declared(ctx))
    for use in _placeholder_uses(value, path):
        if use.name in decls:
            continue
        guess = did_you_mean(use.name, decls)
        ctx.add(_placeholder_diagnostic(ctx, use.path, use.name, guess))


def _declared(ctx: RuleContext) -> Any:
    from osiris_runtime.params import declared_params

    return declared_params(ctx.doc.data)[0]


def _replacement(name: str, decls: Any) -> dict[str, Any]:
    guess = did_you_mean(name, decls)
    return {"replacement": guess} if guess else {}


def _placeholder_diagnostic(ctx: RuleContext, path: tuple[Any, ...], name: str, guess: str | None) -> Any:
    from osiris_runtime.errors import Diagnostic, Severity

    return Diagnostic(
        "params.undeclared",
        f"`${{params.{name}}}` refers to a param that is not declared",
        _placeholder_range(ctx, path, name),
        Severity.ERROR,
        fix=f"did you mean `{guess}`?" if guess else f"declare it under `params:` (e.g. `{name}: {{type: string}}`)",
        data={"param": name, "replacement": guess} if guess else {"param": name},
        source=ctx.doc.source,
    )


def _placeholder_range(ctx: RuleContext, path: tuple[Any, ...], name: str) -> Range:
    """The placeholder itself when it sits on the value's first line, else the whole value."""
    value_range = ctx.doc.range_of(path)
    line = ctx.doc.line_text(value_range.start.line)
    match = re.compile(r"\$\{params\." + re.escape(name) + r"\}").search(line, value_range.start.column)
    if match is None:
        return value_range
    return Range(Position(value_range.start.line, match.start()), Position(value_range.start.line, match.end()))
