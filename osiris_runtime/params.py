"""Pipeline params: declarations, precedence, type coercion and `${params.x}` substitution.

Pure functions of their inputs (the OML data, the `--param` values, an environment mapping and
the active profile); the compiler places the problems in the document. Precedence, highest
first: `--param` > `OSIRIS_PARAM_<NAME>` env > the active profile's `params` > the declared
default. A placeholder that is a whole scalar (`limit: ${params.limit}`) takes the param's typed
value; one inside a longer string is spliced in as text.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, Literal

from osiris_runtime.canonical import scalar_text
from osiris_runtime.friendly import json_type_name

__all__ = [
    "ENV_PREFIX",
    "ParamDecl",
    "ParamProblem",
    "ParamUse",
    "ResolvedParams",
    "declared_params",
    "env_name",
    "resolve_params",
    "substitute_params",
]

ENV_PREFIX = "OSIRIS_PARAM_"
Origin = Literal["cli", "env", "profile", "default"]
Path = tuple[str | int, ...]

PLACEHOLDER = re.compile(r"\$\{params\.([A-Za-z_][A-Za-z0-9_-]*)\}")
_TYPE_NAMES = {
    "string": "string", "str": "string",
    "integer": "integer", "int": "integer",
    "number": "number", "float": "number",
    "boolean": "boolean", "bool": "boolean",
    "array": "array", "list": "array",
    "object": "object", "dict": "object",
}
_DECL_KEYS = frozenset({"type", "default", "enum", "description", "required"})
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_INTEGER_TEXT = re.compile(r"[-+]?[0-9]+\Z")


@dataclass(frozen=True)
class ParamDecl:
    name: str
    type: str                       # normalized: string|integer|number|boolean|array|object
    has_default: bool
    default: Any
    enum: tuple[Any, ...] | None
    path: Path                      # ("params", name) in the OML
    long_form: bool                 # `name: {type, default, ...}` rather than `name: <default>`


@dataclass(frozen=True)
class ParamProblem:
    code: str                       # params.*
    name: str
    message: str
    path: Path                      # where to place it in the OML
    fix: str | None = None
    key: bool = False               # place it on the key rather than the value
    warning: bool = False           # worth saying, not worth failing for


@dataclass(frozen=True)
class ParamUse:
    name: str
    path: Path                      # the string that holds the placeholder


@dataclass(frozen=True)
class ResolvedParams:
    values: Mapping[str, Any]
    origins: Mapping[str, Origin]
    problems: tuple[ParamProblem, ...] = field(default=())


def env_name(param: str) -> str:
    """`OSIRIS_PARAM_<NAME>`: upper case, `-` becomes `_`."""
    return ENV_PREFIX + param.upper().replace("-", "_")


def declared_params(data: Any) -> tuple[dict[str, ParamDecl], list[ParamProblem]]:
    """The `params:` block: `name: {type, default, enum}` or `name: <default>` shorthand."""
    block = data.get("params") if isinstance(data, Mapping) else None
    decls: dict[str, ParamDecl] = {}
    problems: list[ParamProblem] = []
    if not isinstance(block, Mapping):
        return decls, problems
    for name, raw in block.items():
        name = str(name)
        path: Path = ("params", name)
        is_decl = isinstance(raw, Mapping) and bool(raw) and set(raw) <= _DECL_KEYS
        has_default = not is_decl or "default" in raw
        default = raw.get("default") if is_decl else raw
        declared_type = raw.get("type") if is_decl else None
        enum_raw = raw.get("enum") if is_decl else None
        enum = tuple(enum_raw) if isinstance(enum_raw, (list, tuple)) else None
        if declared_type is None:
            example = default if has_default and default is not None else (enum[0] if enum else None)
            type_name = _infer_type(example) if example is not None else "string"
        else:
            type_name = _TYPE_NAMES.get(str(declared_type).lower(), "")
            if not type_name:
                problems.append(ParamProblem(
                    "params.invalid-declaration", name,
                    f"param `{name}` has unknown type `{declared_type}`",
                    path + ("type",), fix="use one of: string, integer, number, boolean, array, object"))
                type_name = "string"
        if has_default and default is None:
            has_default = False  # `default: null` declares no default
        decls[name] = ParamDecl(name, type_name, has_default, default, enum, path, is_decl)
    return decls, problems


def resolve_params(
    decls: Mapping[str, ParamDecl],
    *,
    data: Any,
    cli: Mapping[str, str],
    env: Mapping[str, str],
    profile: str | None,
) -> ResolvedParams:
    """Each declared param's value by precedence, coerced to its type and checked against its enum."""
    problems: list[ParamProblem] = []
    profile_values: Mapping[str, Any] = {}
    profile_path: Path = ()
    if profile is not None:
        profiles = data.get("profiles") if isinstance(data, Mapping) else None
        chosen = profiles.get(profile) if isinstance(profiles, Mapping) else None
        if not isinstance(chosen, Mapping):
            # A pipeline without profiles runs under any profile (it may only pick output folders);
            # a pipeline with profiles but not this one is most likely a typo.
            known = sorted(str(p) for p in profiles) if isinstance(profiles, Mapping) else []
            problems.append(ParamProblem(
                "params.unknown-profile", profile,
                f"profile `{profile}` is not defined in this pipeline"
                + ("" if known else "; its params are the declared defaults"),
                ("profiles",) if known else (),
                fix=f"use one of: {', '.join(known)}" if known else "add a `profiles:` block or drop --profile",
                warning=not known))
        else:
            raw = chosen.get("params")
            profile_values = raw if isinstance(raw, Mapping) else {}
            profile_path = ("profiles", profile, "params")

    for name in cli:
        if name not in decls:
            problems.append(ParamProblem(
                "params.unknown", name, f"--param {name}: no param `{name}` is declared in this pipeline",
                ("params",) if isinstance(data, Mapping) and "params" in data else (),
                fix=_did_you_mean(name, decls)))
    for name in profile_values:
        if str(name) not in decls:
            problems.append(ParamProblem(
                "params.unknown", str(name), f"profile `{profile}` sets `{name}`, which is not a declared param",
                profile_path + (name,), fix=_did_you_mean(str(name), decls), key=True))

    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for name in sorted(decls):
        decl = decls[name]
        raw, origin, where = _pick(decl, cli, env, profile_values, profile_path)
        if origin is None:
            continue  # unresolved: an error only where it is used (see substitute_params)
        value, error = _coerce(decl, raw)
        if error is None and decl.enum is not None and value not in decl.enum:
            error = f"must be one of: {', '.join(scalar_text(v) for v in decl.enum)}"
        if error is not None:
            problems.append(ParamProblem(
                "params.invalid-value", name,
                f"param `{name}` from {_ORIGIN_TEXT[origin]}: {error}", where,
                fix=f"give `{name}` a {decl.type} value"))
            continue
        values[name] = value
        origins[name] = origin
    return ResolvedParams(values, origins, tuple(problems))


def mentions_params(value: Any) -> bool:
    """Whether any string inside `value` may hold a `${params.` placeholder (a cheap pre-check)."""
    try:
        return "${params." in json.dumps(value, default=str)
    except (TypeError, ValueError):  # keys json cannot write: assume it does, the walk will tell
        return True


def substitute_params(value: Any, values: Mapping[str, Any], path: Path = ()) -> tuple[Any, list[ParamUse], list[ParamUse]]:
    """Replace `${params.x}` in every string of `value`.

    Returns (new value, every use, uses whose param has no value). `$${params.x}` stays literal
    as `${params.x}`.
    """
    uses: list[ParamUse] = []
    missing: list[ParamUse] = []

    def walk(item: Any, where: Path) -> Any:
        if isinstance(item, str):
            return _substitute_string(item, values, where, uses, missing)
        if isinstance(item, Mapping):
            return {key: walk(sub, where + (key,)) for key, sub in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(sub, where + (index,)) for index, sub in enumerate(item)]
        return item

    return walk(value, path), uses, missing


# --- internals ----------------------------------------------------------------------------------

_ORIGIN_TEXT = {"cli": "--param", "env": "the environment", "profile": "the profile", "default": "its default"}


def _substitute_string(text: str, values: Mapping[str, Any], where: Path,
                       uses: list[ParamUse], missing: list[ParamUse]) -> Any:
    if "${params." not in text:
        return text
    whole = PLACEHOLDER.fullmatch(text)
    if whole is not None:
        name = whole.group(1)
        uses.append(ParamUse(name, where))
        if name in values:
            return values[name]
        missing.append(ParamUse(name, where))
        return text

    def splice(match: re.Match[str]) -> str:
        start = match.start()
        if start > 0 and text[start - 1] == "$":  # escaped: $${params.x}
            return match.group(0)
        name = match.group(1)
        uses.append(ParamUse(name, where))
        if name in values:
            return scalar_text(values[name])
        missing.append(ParamUse(name, where))
        return match.group(0)

    spliced = PLACEHOLDER.sub(splice, text)
    return spliced.replace("$${params.", "${params.")


def _pick(decl: ParamDecl, cli: Mapping[str, str], env: Mapping[str, str],
          profile_values: Mapping[str, Any], profile_path: Path) -> tuple[Any, Origin | None, Path]:
    if decl.name in cli:
        return cli[decl.name], "cli", decl.path
    env_key = env_name(decl.name)
    if env_key in env:
        return env[env_key], "env", decl.path
    if decl.name in profile_values and profile_values[decl.name] is not None:
        return profile_values[decl.name], "profile", profile_path + (decl.name,)
    if decl.has_default:
        return decl.default, "default", decl.path + (("default",) if decl.long_form else ())
    return None, None, decl.path


def _infer_type(value: Any) -> str:
    """The declared type a param gets from its example value; anything unusual is a string."""
    kind = json_type_name(value)
    return kind if kind in ("boolean", "integer", "number", "array", "object") else "string"


def _coerce(decl: ParamDecl, raw: Any) -> tuple[Any, str | None]:
    """(value, None) or (None, why not); text from --param/env is parsed, typed YAML is checked."""
    kind = decl.type
    if isinstance(raw, str) and kind != "string":
        return _parse_text(kind, raw)
    if kind == "string":
        if isinstance(raw, str):
            return raw, None
        if isinstance(raw, (_dt.date, _dt.datetime)):
            return raw.isoformat(), None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return scalar_text(raw), None
        return None, f"expected a string, got {_describe(raw)}"
    if kind == "integer":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return int(raw), None
        if isinstance(raw, float) and raw.is_integer():
            return int(raw), None
        return None, f"expected an integer, got {_describe(raw)}"
    if kind == "number":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return raw, None
        return None, f"expected a number, got {_describe(raw)}"
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw, None
        return None, f"expected true or false, got {_describe(raw)}"
    if kind == "array":
        if isinstance(raw, (list, tuple)):
            return list(raw), None
        return None, f"expected a list, got {_describe(raw)}"
    if isinstance(raw, Mapping):
        return dict(raw), None
    return None, f"expected a mapping, got {_describe(raw)}"


def _parse_text(kind: str, text: str) -> tuple[Any, str | None]:
    stripped = text.strip()
    if kind == "integer":
        if _INTEGER_TEXT.match(stripped):
            return int(stripped), None
        return None, f"`{text}` is not an integer"
    if kind == "number":
        if _INTEGER_TEXT.match(stripped):
            return int(stripped), None
        try:
            number = float(stripped)
        except ValueError:
            return None, f"`{text}` is not a number"
        if number != number or number in (float("inf"), float("-inf")):
            return None, f"`{text}` is not a finite number"
        return number, None
    if kind == "boolean":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True, None
        if lowered in _FALSE:
            return False, None
        return None, f"`{text}` is not a boolean (use true or false)"
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None, f"`{text}` is not JSON"
    wanted = list if kind == "array" else dict
    if not isinstance(parsed, wanted):
        return None, f"`{text}` is not a JSON {'list' if kind == 'array' else 'object'}"
    return parsed, None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {scalar_text(value)}"
    if isinstance(value, (int, float)):
        return f"number {scalar_text(value)}"
    if isinstance(value, str):
        return f"string `{value}`"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _did_you_mean(name: str, decls: Mapping[str, ParamDecl]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, sorted(decls), n=1)
    if close:
        return f"did you mean `{close[0]}`?"
    if decls:
        return f"declared params: {', '.join(sorted(decls))}"
    return "declare it under `params:`"
