"""Rules on step configs (through the friendly error mapper) and on their connection references."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Collection

from osiris_runtime.errors import Severity
from osiris_runtime.friendly import CONNECTION_KEY, FriendlyError, did_you_mean, field_name, validate_config
from osiris_runtime.oml.connections import (
    CONNECTIONS_FILENAME,
    AliasProblem,
    ResolvedAlias,
    parse_connection_ref,
    resolve_step_alias,
    shown_ref,
    supplied_fields,
    takes_connection,
)
from osiris_runtime.oml.document import StepView
from osiris_runtime.oml.rules import RuleContext
from osiris_runtime.oml.rules_params import param_values
from osiris_runtime.oml.rules_shape import type_name

if TYPE_CHECKING:
    from osiris_runtime.registry import ComponentSpec


def config_path(step: StepView) -> tuple[Any, ...]:
    return step.path + ((step.config_key or "config"),)


def check_config(ctx: RuleContext, index: int, raw: Any, step: StepView | None) -> None:
    """The step's config against its component spec; every error placed on its key or value."""
    if step is None:
        return
    spec = ctx.spec(step.component)
    if spec is None or step.config is None and step.config_key is not None:
        return  # unknown component or a non-mapping config: reported elsewhere
    if ctx.params_resolved:
        config, unresolved = step.config or {}, []
    else:
        values = ctx.once("param_values", lambda: param_values(ctx))
        config, unresolved = _with_param_defaults(step.config or {}, values)
    chosen = step_alias(ctx, step, spec)
    alias = chosen if isinstance(chosen, ResolvedAlias) else None
    errors = validate_config(spec, config, connection_provided=takes_connection(spec, step.config),
                             connection_fields=supplied_fields(alias.fields) if alias is not None else None)
    base = config_path(step)
    seen: set[tuple[str, tuple[Any, ...], str]] = set()
    for error in [e for found in errors for e in _each_unknown_key(found, config, spec)]:
        if _under_unresolved_param(error, unresolved):
            continue  # `${params.x}` without a default: checked once the value is known (compile)
        if (error.code, error.path, error.problem) in seen:
            continue  # jsonschema reports `required` once per missing key; the mapper lists them all
        seen.add((error.code, error.path, error.problem))
        if alias is not None and error.code == "config.missing-required" and error.data.get("connection_field"):
            error = _missing_from_alias(error, alias)
        _report_friendly(ctx, base, error)


def _each_unknown_key(error: FriendlyError, config: Any, spec: "ComponentSpec") -> list[FriendlyError]:
    """jsonschema reports all unknown keys of a mapping as one error: one diagnostic per key.

    Deprecated spellings (`mode` for `write_mode`) are not unknown: they have their own warning.
    """
    from dataclasses import replace

    if error.code != "config.unknown-key" or not error.path or "allowed" not in error.data:
        return [error]
    parent_path = tuple(error.path[:-1])
    parent: Any = config
    for part in parent_path:
        parent = parent.get(part) if isinstance(parent, dict) else None
    if not isinstance(parent, dict):
        return [error]
    allowed = list(error.data["allowed"])
    extras = [k for k in parent if k not in allowed and not (not parent_path and (k == CONNECTION_KEY or k in spec.config_aliases))]
    out = []
    for key in extras or [error.path[-1]]:
        guess = did_you_mean(str(key), allowed)
        name = field_name((*parent_path, key))
        data = {"key": key, "allowed": allowed, **({"replacement": guess} if guess else {})}
        out.append(replace(error, field=name, path=(*parent_path, key), problem=f"unknown key `{name}`",
                           fix=f"did you mean `{guess}`?" if guess else (f"allowed keys: {', '.join(allowed)}" if allowed else "remove it"),
                           data=data))
    return out


def _missing_from_alias(error: FriendlyError, alias: ResolvedAlias) -> FriendlyError:
    """The step has a connection, but its alias lacks a field: say so, and where to add it."""
    from dataclasses import replace

    return replace(
        error,
        problem=f"missing required `{error.field}`: the connection `{alias.describe()}` does not supply it",
        fix=f"add `{error.field}:` to the alias `{alias.name}` in {CONNECTIONS_FILENAME}",
    )


def _report_friendly(ctx: RuleContext, base: tuple[Any, ...], error: FriendlyError) -> None:
    path = base + tuple(error.path)
    diagnostic_data = {"field": error.field, **error.data}
    message = error.problem
    ctx.report(
        error.code,
        message,
        path,
        key=error.target in ("key", "parent"),
        severity=error.severity,
        fix=error.fix or f"check `{error.field or 'config'}` against the component's documentation",
        data=diagnostic_data,
        doc_url=error.doc_url,
    )


def _with_param_defaults(config: Any, values: dict[str, Any]) -> tuple[Any, list[tuple[Any, ...]]]:
    """The config with `${params.x}` replaced by the params' defaults, and where placeholders remain."""
    from osiris_runtime.params import mentions_params, substitute_params

    if not mentions_params(config):  # most configs hold no placeholder: skip the walk and the copy
        return config, []
    substituted, _uses, missing = substitute_params(config, values)
    return substituted, [use.path for use in missing]


def _under_unresolved_param(error: FriendlyError, unresolved: list[tuple[Any, ...]]) -> bool:
    return error.target == "value" and any(tuple(error.path[: len(p)]) == tuple(p) for p in unresolved)


def step_alias(ctx: RuleContext, step: StepView, spec: "ComponentSpec") -> ResolvedAlias | AliasProblem | None:
    """The alias the step uses (`resolve_step_alias`); None when it takes no connection or there is no file to look in."""
    config = step.config if isinstance(step.config, dict) else None
    if not takes_connection(spec, config) or not connections_available(ctx):
        return None
    assert ctx.connections is not None
    ref = config.get(CONNECTION_KEY) if config is not None else None
    return resolve_step_alias(ctx.connections, spec.family, ref)


def connections_available(ctx: RuleContext) -> bool:
    """A connections file was found (without one, `check_connections` warns once per document)."""
    conns = ctx.connections
    return conns is not None and not any(d.code == "connection.no-file" for d in conns.diagnostics)


def check_step_connection(ctx: RuleContext, index: int, raw: Any, step: StepView | None) -> None:
    """`check_connections` of one step, when there is a connections file (no warning to give once)."""
    if step is not None:
        _check_connection(ctx, step, True)


def check_connections(ctx: RuleContext) -> None:
    """`connection: "@family.alias"`: syntax, family, alias existence, and override policy."""
    warned_no_file = False
    for step in ctx.doc.steps():
        warned_no_file = _check_connection(ctx, step, warned_no_file)


def _check_connection(ctx: RuleContext, step: StepView, warned_no_file: bool) -> bool:
    """One step's reference; returns whether the `connection.no-file` warning has been given."""
    spec = ctx.spec(step.component)
    if step.config is None or CONNECTION_KEY not in step.config:
        if spec is not None and takes_connection(spec) and (step.config is not None or step.config_key is None):
            warned_no_file = _check_default(ctx, step, spec, warned_no_file)
            if isinstance(step.config, dict):  # inline fields override the default alias, by the same policy
                _check_overrides(ctx, step, spec, skip=spec.secret_roots)  # secrets: the secret rules say it
        return warned_no_file
    ref = step.config[CONNECTION_KEY]
    path = config_path(step) + (CONNECTION_KEY,)
    parsed = parse_connection_ref(ref) if isinstance(ref, str) else None
    if parsed is None or parsed[1] is None:
        _report_invalid_ref(ctx, path, ref, parsed, spec)
        return warned_no_file
    family, alias = parsed
    if spec is not None:
        _check_overrides(ctx, step, spec)
        if family != spec.family:
            replacement = _default_ref(ctx, spec.family)
            ctx.report(
                "connection.family-mismatch",
                f"`{spec.name}` needs a `{spec.family}` connection, not `{family}`",
                path,
                fix=f'use `connection: "{replacement or "@" + spec.family + ".<alias>"}"`',
                data={"replacement": replacement, "family": spec.family} if replacement else {"family": spec.family},
            )
            return warned_no_file
    if not connections_available(ctx):
        if not warned_no_file:
            warned_no_file = True
            ctx.report(
                "connection.no-file",
                f"no {CONNECTIONS_FILENAME} found, so `{ref}` cannot be checked",
                path,
                severity=Severity.WARNING,
                fix=f"create {CONNECTIONS_FILENAME} next to the pipeline (or pass --connections / set OSIRIS_CONNECTIONS)",
            )
        return warned_no_file
    assert ctx.connections is not None
    if isinstance(resolve_step_alias(ctx.connections, family, ref), AliasProblem):
        known = [a.alias for a in ctx.connections.aliases(family)]
        guess = did_you_mean(alias, known)
        where = f"family `{family}`" if known else f"{CONNECTIONS_FILENAME} (it has no `{family}` family)"
        ctx.report(
            "connection.unknown-alias",
            f"connection alias `{alias}` is not defined in {where}",
            path,
            fix=f'did you mean `"@{family}.{guess}"`?' if guess else (
                f"use one of: {', '.join('@' + family + '.' + a for a in known)}" if known
                else f"add `{family}:` with an alias `{alias}:` under `connections:` in {CONNECTIONS_FILENAME}"),
            data={"replacement": f"@{family}.{guess}", "available": known} if guess else {"available": known},
        )
    return warned_no_file


def _check_default(ctx: RuleContext, step: StepView, spec: "ComponentSpec", warned_no_file: bool) -> bool:
    """A step without `connection:` uses its family's default alias: there must be one. Returns `warned_no_file`."""
    where = config_path(step) if step.config_key is not None else step.path + (step.component_key or "component",)
    if not connections_available(ctx):
        if not warned_no_file:
            ctx.report(
                "connection.no-file",
                f"no {CONNECTIONS_FILENAME} found, so the default `{spec.family}` connection cannot be checked",
                where, key=step.config_key is not None, severity=Severity.WARNING,
                fix=f"create {CONNECTIONS_FILENAME} next to the pipeline (or pass --connections / set OSIRIS_CONNECTIONS)",
            )
        return True
    chosen = step_alias(ctx, step, spec)
    if isinstance(chosen, AliasProblem):
        ctx.report(chosen.code, chosen.message, where, key=step.config_key is not None, fix=chosen.fix,
                   data={"family": spec.family, "available": list(chosen.available)})
    return warned_no_file


def _default_ref(ctx: RuleContext, family: str) -> str | None:
    if ctx.connections is None:
        return None
    alias = ctx.connections.get(family)
    return alias.ref if alias is not None else None


def _report_invalid_ref(ctx: RuleContext, path: tuple[Any, ...], ref: Any, parsed: tuple[str, str | None] | None,
                        spec: "ComponentSpec | None") -> None:
    family = parsed[0] if parsed else (spec.family if spec else None)
    replacement: str | None = None
    if isinstance(ref, str) and parsed is None and parse_connection_ref("@" + ref.strip()) is not None:
        candidate = "@" + ref.strip()
        if parse_connection_ref(candidate)[1] is not None:  # type: ignore[index]
            replacement = candidate  # `mysql.shop` -> `@mysql.shop`
    if replacement is None and family:
        replacement = _default_ref(ctx, family)
    shown = shown_ref(ref) if isinstance(ref, str) else type_name(ref)
    ctx.report(
        "connection.invalid-ref",
        f"connection reference {shown} must be written `\"@family.alias\"`",
        path,
        fix=f'write `connection: "{replacement}"`' if replacement else 'write `connection: "@<family>.<alias>"` (quoted: YAML cannot start a plain value with @)',
        data={"replacement": replacement} if replacement else {},
    )


def _check_overrides(ctx: RuleContext, step: StepView, spec: "ComponentSpec", skip: Collection[str] = ()) -> None:
    """A config field the connection supplies, set in the step too: forbidden, warned, or allowed
    (allowed and warned ones are applied over the alias at run time: `with_step_overrides`)."""
    assert step.config is not None
    for key in step.config:
        field = spec.connection_fields.get(key) if isinstance(key, str) and key not in skip else None
        if field is None or field.override == "allowed":
            continue
        path = config_path(step) + (key,)
        if field.override == "forbidden":
            ctx.report(
                "connection.forbidden-override",
                f"`{key}` comes from the connection and cannot be set in the step",
                path,
                key=True,
                fix=f"remove `{key}` here; set it on the alias in {CONNECTIONS_FILENAME}",
                data={"remove": key, "field": key},
            )
        else:
            ctx.report(
                "connection.override-warning",
                f"`{key}` overrides the value from the connection",
                path,
                key=True,
                severity=Severity.WARNING,
                fix=f"prefer setting `{key}` on the alias in {CONNECTIONS_FILENAME}",
                data={"field": key},
            )
