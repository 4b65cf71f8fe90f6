"""Friendly errors: step config validation and the one JSON Schema error mapper.

`validate_config` checks a step config against its component spec: the config JSON Schema, the
spec's cross-field `constraints` (evaluated here, not decorative) and its deprecated aliases.
Each problem is a `FriendlyError`: which field, what is wrong, how to fix it, an example, a link
to the component's docs, and the data a quick fix needs. The OML validator, the CLI and the
language server all present these; none of them re-derives a rule.

Secret values are never repeated in a message: only field names and allowed values are.
"""

from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Collection, Iterable, Literal, Mapping, Sequence

from osiris_runtime.errors import Diagnostic, Range, Severity

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

    from osiris_runtime.registry import ComponentSpec

PathT = tuple[str | int, ...]
Target = Literal["key", "value", "parent"]

# The OML step's connection reference sits inside `config` and is valid for every component.
CONNECTION_KEY = "connection"

_JSON_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
_PLACEHOLDERS = {"string": "...", "integer": 1, "number": 1.0, "boolean": True, "array": ["..."], "object": {}}


@dataclass(frozen=True)
class FriendlyError:
    code: str
    field: str
    path: PathT
    target: Target
    problem: str
    fix: str | None = None
    example: Any | None = None
    doc_url: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_diagnostic(self, range: Range = Range(), source: str | None = None) -> Diagnostic:  # noqa: A002
        """As a Diagnostic placed at `range` (the caller knows where `path` sits in its document)."""
        data = {"field": self.field, "path": list(self.path), **self.data}
        return Diagnostic(code=self.code, message=self.problem, range=range, severity=self.severity, fix=self.fix,
                          data=data, doc_url=self.doc_url, source=source)

    def render(self) -> str:
        """The block a terminal shows: Field / Problem / Fix / Example / Docs."""
        lines = [f"{self.severity.label} {self.code}", f"   Field: {self.field or '(config)'}", f"   Problem: {self.problem}"]
        if self.fix:
            lines.append(f"   Fix: {self.fix}")
        if self.example is not None:
            lines.append(f"   Example: {example_text(self.example)}")
        if self.doc_url:
            lines.append(f"   Docs: {self.doc_url}")
        return "\n".join(lines)


def example_text(example: Any) -> str:
    """A one-line YAML-ish rendering of an example value (`{table: orders}` -> `table: orders`)."""
    if isinstance(example, Mapping) and len(example) == 1:
        key, value = next(iter(example.items()))
        return f"{key}: {json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}"
    return json.dumps(example, ensure_ascii=False, default=str)


def field_name(path: Sequence[str | int]) -> str:
    """Human name of a config location: ("primary_key", 0) -> "primary_key[0]", ("filter", "a") -> "filter.a"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    import difflib  # only asked about a misspelt word

    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return close[0] if close else None


# --- the JSON Schema error mapper ---------------------------------------------------------------


def friendly_from_schema_error(
    error: "ValidationError",
    instance_root: Any = None,
    *,
    spec: "ComponentSpec | None" = None,
    secret_roots: Collection[str] = (),
) -> FriendlyError:
    """Map one jsonschema `ValidationError` to a FriendlyError (for spec files and step configs alike)."""
    path: PathT = tuple(error.absolute_path)
    kind = error.validator
    doc_url = spec.doc_url if spec else None
    secret = bool(path) and str(path[0]) in secret_roots
    name = field_name(path)
    shown = f"`{name}`" if name else "the config"

    if kind == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed] if isinstance(error.instance, Mapping) else []
        key = extras[0] if extras else "?"
        key_path = (*path, key)
        guess = did_you_mean(str(key), allowed)
        fix = f"did you mean `{guess}`?" if guess else (f"allowed keys: {', '.join(allowed)}" if allowed else "remove it")
        data: dict[str, Any] = {"key": key, "allowed": allowed}
        if guess:
            data["replacement"] = guess
        return FriendlyError("config.unknown-key", field_name(key_path), key_path, "key", f"unknown key `{field_name(key_path)}`",
                             fix, None, doc_url, data)
    if kind == "required":
        key = _required_property(error)
        key_path = (*path, key)
        example = example_for(spec, key, error.schema.get("properties", {}).get(key, {}))
        fix = f"add `{field_name(key_path)}`" + (f", e.g. `{example_text(example)}`" if example is not None else "")
        return FriendlyError("config.missing-required", field_name(key_path), key_path, "parent",
                             f"missing required `{field_name(key_path)}`", fix, example, doc_url, {"missing": [key]})
    if kind in ("enum", "const"):
        allowed = list(error.validator_value) if kind == "enum" else [error.validator_value]
        guess = did_you_mean(str(error.instance), [str(a) for a in allowed]) if isinstance(error.instance, str) else None
        value = "" if secret else f" ({_brief(error.instance)})"
        fix = f"use one of: {', '.join(str(a) for a in allowed)}" + (f" (did you mean `{guess}`?)" if guess else "")
        data = {"allowed": allowed}
        if guess:
            data["replacement"] = guess
        return FriendlyError("config.invalid-enum", name, path, "value", f"{shown} has an unsupported value{value}", fix,
                             None, doc_url, data)
    if kind == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        wanted = " or ".join(_JSON_TYPE_NAMES.get(t, t) for t in expected)
        got = json_type_name(error.instance)
        fix = f"write {wanted}"
        if isinstance(error.instance, str) and any(t in ("integer", "number") for t in expected) and _looks_numeric(error.instance):
            fix = "remove the quotes: write the number as a number"
        example = example_for(spec, path[-1], error.schema) if spec and path and isinstance(path[-1], str) else None
        return FriendlyError("config.invalid-type", name, path, "value", f"{shown} must be {wanted}, not {_JSON_TYPE_NAMES.get(got, got)}",
                             fix, example, doc_url, {"expected": expected})
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
                "minProperties", "maxProperties"):
        problem = f"{shown} {_RANGE_WORDS[kind].format(error.validator_value)}"
        return FriendlyError("config.out-of-range", name, path, "value", problem, _range_fix(error.schema), None, doc_url,
                             {"limit": error.validator_value, "rule": kind})
    if kind in ("pattern", "format"):
        if kind == "format":
            what = f"the {error.validator_value} format"
        elif len(str(error.validator_value)) <= 40:
            what = f"the pattern `{error.validator_value}`"
        else:
            what = "the expected format"
        samples = error.schema.get("examples")
        fix = f"write a value like `{samples[0]}`" if samples else f"write a value matching {what}"
        return FriendlyError("config.pattern", name, path, "value", f"{shown} does not match {what}", fix, None, doc_url,
                             {kind: error.validator_value})
    if kind in ("oneOf", "anyOf"):
        branches = error.validator_value
        types = [b.get("type") for b in branches if isinstance(b, Mapping)]
        if all(types) and not any(t == json_type_name(error.instance) for t in types):
            wanted = " or ".join(_describe_branch(b) for b in branches)
            return FriendlyError("config.invalid-type", name, path, "value", f"{shown} must be {wanted}",
                                 f"write {wanted}", None, doc_url, {"expected": types})
        if error.context and all(e.validator == "required" for e in error.context):
            options = list(dict.fromkeys(_required_property(e) for e in error.context))
            return FriendlyError("config.missing-required", name, path, "value" if path else "parent",
                                 f"{shown} needs one of: {', '.join(options)}", f"add `{options[0]}`" if options else None,
                                 None, doc_url, {"missing": options, "any_of": True})
        if error.context:
            # The branch that got furthest into the value is the one the author meant.
            inner = max(error.context, key=lambda e: len(e.absolute_path))
            return friendly_from_schema_error(inner, instance_root, spec=spec, secret_roots=secret_roots)
    if kind == "uniqueItems":
        return FriendlyError("config.invalid-value", name, path, "value", f"{shown} has duplicate items", "remove the repeated items",
                             None, doc_url, {})
    reason = error.message if not secret else f"failed the `{kind}` rule"
    return FriendlyError("config.invalid-value", name, path, "value", f"{shown}: {reason}", None, None, doc_url, {"rule": kind})


def _required_property(error: "ValidationError") -> str:
    """The one missing property a `required` error is about (jsonschema yields one error per property)."""
    suffix = " is a required property"
    if error.message.endswith(suffix):
        try:
            value = ast.literal_eval(error.message[: -len(suffix)])
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, str):
            return value
    missing = [r for r in error.validator_value if not isinstance(error.instance, Mapping) or r not in error.instance]
    return str(missing[0]) if missing else "?"


_RANGE_WORDS = {
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "minItems": "must have at least {} item(s)",
    "maxItems": "must have at most {} item(s)",
    "minProperties": "must have at least {} entries",
    "maxProperties": "must have at most {} entries",
}


def _range_fix(schema: Mapping[str, Any]) -> str:
    low = schema.get("minimum", schema.get("minLength", schema.get("minItems")))
    high = schema.get("maximum", schema.get("maxLength", schema.get("maxItems")))
    if low is not None and high is not None:
        return f"use a value between {low} and {high}"
    if low is not None:
        return f"use a value of at least {low}"
    if high is not None:
        return f"use a value of at most {high}"
    return "use a value within the allowed range"


def _describe_branch(branch: Mapping[str, Any]) -> str:
    if branch.get("type") == "array" and isinstance(branch.get("items"), Mapping) and "type" in branch["items"]:
        return f"a list of {_JSON_TYPE_NAMES.get(branch['items']['type'], branch['items']['type'])}s".replace("a strings", "strings")
    return _JSON_TYPE_NAMES.get(branch.get("type", ""), str(branch.get("type")))


def json_type_name(value: Any) -> str:
    """The JSON Schema type of a parsed YAML/JSON value (`integer`, `object`, ...; `null` for None)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def example_for(spec: "ComponentSpec | None", key: str | int, prop_schema: Mapping[str, Any]) -> Any | None:
    """`{key: value}` from the spec's examples, else the default, else a placeholder of the right type."""
    if not isinstance(key, str):
        return None
    if spec is not None:
        if key in spec.secret_roots:
            return {key: "${" + f"{spec.family}_{key}".upper() + "}"}
        for example in spec.examples:
            config = example.get("config", {})
            if key in config:
                return {key: config[key]}
    if "default" in prop_schema and prop_schema["default"] is not None:
        return {key: prop_schema["default"]}
    if "enum" in prop_schema and prop_schema["enum"]:
        return {key: prop_schema["enum"][0]}
    json_type = prop_schema.get("type")
    if isinstance(json_type, str) and json_type in _PLACEHOLDERS:
        return {key: _PLACEHOLDERS[json_type]}
    return None


# --- step config validation ---------------------------------------------------------------------


def validate_config(
    spec: "ComponentSpec",
    config: Mapping[str, Any],
    *,
    connection_provided: bool = False,
    connection_fields: Collection[str] | None = None,
) -> list[FriendlyError]:
    """Problems of one step config, errors and warnings, sorted by location.

    `connection_provided`: the step uses a connection (a `connection` key in `config` implies it).
    `connection_fields`: the fields that connection is known to supply; None means "unknown", in
    which case every `x-connection-fields` field is assumed supplied (no false alarms in editors).
    Passing `connection_fields` implies `connection_provided`. A required field the connection
    supplies is not required in the step; a constraint is satisfied by a field the connection supplies.
    """
    if not isinstance(config, Mapping):
        return [FriendlyError("config.invalid-type", "config", (), "value", "the config must be a mapping", "write key: value pairs",
                              None, spec.doc_url, {"expected": ["object"]})]
    try:
        # Editors re-validate a whole file after each keystroke while nearly every step is unchanged:
        # identical (spec version, config, connection) inputs give identical answers.
        config_key = json.dumps(config, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys of mixed types: not worth a cache entry
        return _validate_config(spec, config, connection_provided, connection_fields)
    fields_key = None if connection_fields is None else frozenset(connection_fields)
    return list(_validate_config_memo(spec.fingerprint, config_key, connection_provided, fields_key, _Carry((spec, config))))


class _Carry:
    """Passes a value through an lru_cache without taking part in its key: all carries are equal.

    A plain class: a dataclass costs about 1 ms to define, on every CLI start."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Carry)

    def __hash__(self) -> int:
        return 0


@functools.lru_cache(maxsize=16384)
def _validate_config_memo(spec_fingerprint: str, config_key: str, connection_provided: bool,
                          connection_fields: frozenset[str] | None, carried: _Carry) -> tuple[FriendlyError, ...]:
    spec, config = carried.value
    return tuple(_validate_config(spec, config, connection_provided, connection_fields))


def _validate_config(spec: "ComponentSpec", config: Mapping[str, Any], connection_provided: bool,
                     connection_fields: Collection[str] | None) -> list[FriendlyError]:
    if connection_fields is not None or (CONNECTION_KEY in config and config[CONNECTION_KEY] is not None):
        connection_provided = True
    body = {k: v for k, v in config.items() if k != CONNECTION_KEY}
    body, renamed, errors = _apply_aliases(spec, body)
    supplied = _supplied_by_connection(spec, connection_provided, connection_fields)
    errors += _schema_errors(spec, body, supplied, renamed)
    errors += _constraint_errors(spec, body, supplied)
    errors += _ignored_keys(spec, body)
    return sorted(errors, key=lambda e: ([str(p) for p in e.path], e.code))


# A config property whose schema says `x-ignored: <why>` is accepted (configs written for the
# original Osiris carry it) but has no effect here: a warning says why.
IGNORED_MARK = "x-ignored"


def _ignored_keys(spec: "ComponentSpec", config: Mapping[str, Any]) -> list[FriendlyError]:
    out = []
    for key in config:
        why = spec.properties.get(key, {}).get(IGNORED_MARK) if isinstance(spec.properties.get(key), Mapping) else None
        if why:
            out.append(FriendlyError("config.ignored-key", str(key), (key,), "key", f"`{key}` has no effect here: {why}",
                                     f"remove `{key}`", None, spec.doc_url, {"remove": key}, Severity.WARNING))
    return out


def resolve_aliases(spec: "ComponentSpec", config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with deprecated keys renamed to their new spelling (new spelling wins on conflict)."""
    return _apply_aliases(spec, config)[0]


def _apply_aliases(spec: "ComponentSpec", config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[FriendlyError]]:
    """Rename deprecated keys; returns (config, new -> old key, warnings/errors about them)."""
    out = dict(config)
    renamed: dict[str, str] = {}
    errors: list[FriendlyError] = []
    for old, new in spec.config_aliases.items():
        if old not in config:
            continue
        if new in config:
            errors.append(FriendlyError("config.conflicting-alias", old, (old,), "key",
                                        f"`{old}` and `{new}` are both set; `{old}` is the deprecated spelling of `{new}`",
                                        f"remove `{old}`", None, spec.doc_url, {"replacement": new, "remove": old}))
            del out[old]
            continue
        errors.append(FriendlyError("config.deprecated-key", old, (old,), "key", f"`{old}` is deprecated: use `{new}`",
                                    f"rename `{old}` to `{new}`", {new: config[old]} if old not in spec.secret_roots else None,
                                    spec.doc_url, {"replacement": new}, Severity.WARNING))
        out[new] = out.pop(old)
        renamed[new] = old
    return out, renamed, errors


def _supplied_by_connection(spec: "ComponentSpec", connection_provided: bool, connection_fields: Collection[str] | None) -> frozenset[str]:
    if not connection_provided:
        return frozenset()
    if connection_fields is None:
        return frozenset(spec.connection_fields)
    return frozenset(connection_fields)


def _schema_errors(spec: "ComponentSpec", config: Mapping[str, Any], supplied: frozenset[str], renamed: Mapping[str, str]) -> list[FriendlyError]:
    key = _ValidatorKey(spec.fingerprint, supplied, spec.config_schema, spec.gates)
    if _config_gate(key)(config):
        return []  # valid: jsonschema (and its import) is needed only to explain problems
    validator = _config_validator(key)
    secret_roots = spec.secret_roots
    out = []
    for error in validator.iter_errors(config):
        friendly = friendly_from_schema_error(error, config, spec=spec, secret_roots=secret_roots)
        if friendly.code == "config.missing-required" and friendly.field in spec.connection_fields:
            friendly = _missing_connection_field(spec, friendly)
        out.append(_unrename(friendly, renamed))
    return out


@dataclass(frozen=True)
class _ValidatorKey:
    """A spec's config schema, identified by the spec fingerprint and the connection-supplied fields."""

    fingerprint: str
    supplied: frozenset[str]
    schema: Mapping[str, Any] = field(compare=False, hash=False)
    gates: Any = field(default=None, compare=False, hash=False)  # the spec's GateStore: where compiled gates are kept


def _config_schema(key: _ValidatorKey) -> dict[str, Any]:
    schema = dict(key.schema)
    if key.supplied and "required" in schema:
        schema["required"] = [r for r in schema["required"] if r not in key.supplied]
    return schema


@functools.lru_cache(maxsize=512)
def _config_validator(key: _ValidatorKey) -> Any:
    """Building a jsonschema validator costs more than running it: memoised per spec version (pure)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_config_schema(key), format_checker=Draft202012Validator.FORMAT_CHECKER)


@functools.lru_cache(maxsize=512)
def _config_gate(key: _ValidatorKey) -> Any:
    """The fast "certainly valid" check of the same schema (see schema_gate); memoised likewise."""
    from osiris_runtime.schema_gate import gate_for

    return gate_for(_config_schema(key), key.gates)


def _missing_connection_field(spec: "ComponentSpec", error: FriendlyError) -> FriendlyError:
    ref = f'"@{spec.family}.<alias>"'
    return FriendlyError(error.code, error.field, error.path, error.target,
                         f"missing required `{error.field}` (the step has no connection that supplies it)",
                         f"add `connection: {ref}` (a connection from osiris_connections.yaml)",
                         {CONNECTION_KEY: f"@{spec.family}.default"}, error.doc_url,
                         {**error.data, "connection_field": True})


def _unrename(error: FriendlyError, renamed: Mapping[str, str]) -> FriendlyError:
    """Point an error on a renamed key back at the spelling the user wrote."""
    if not error.path or error.path[0] not in renamed:
        return error
    path = (renamed[str(error.path[0])], *error.path[1:])
    return FriendlyError(error.code, field_name(path), path, error.target,
                         error.problem.replace(f"`{error.field}`", f"`{field_name(path)}`"), error.fix, error.example,
                         error.doc_url, error.data, error.severity)


def _fragment_valid(fragment: Mapping[str, Any], value: Any) -> bool:
    from osiris_runtime.schema_gate import certainly_valid

    if certainly_valid(fragment, value):
        return True
    from jsonschema import Draft202012Validator

    return Draft202012Validator(fragment).is_valid(value)


def _constraint_errors(spec: "ComponentSpec", config: Mapping[str, Any], supplied: frozenset[str]) -> list[FriendlyError]:
    def present(name: str) -> bool:
        return config.get(name) is not None or name in supplied

    out: list[FriendlyError] = []
    for rule in spec.constraints.get("required", ()):
        if not _rule_applies(rule, config, present):
            continue
        if rule.get("severity") == "warning":
            out += [replace(e, severity=Severity.WARNING) for e in _rule_errors(spec, rule, config, present)]
        else:
            out += _rule_errors(spec, rule, config, present)
    return out


def _rule_errors(spec: "ComponentSpec", rule: Mapping[str, Any], config: Mapping[str, Any], present: Any) -> list[FriendlyError]:
    """What one applicable rule finds wrong (as errors; the caller applies the rule's severity)."""
    out: list[FriendlyError] = []
    fix = rule.get("fix")
    # A missing field sits on the key that asked for it (`write_mode: upsert`, a `whenPresent` key the
    # step sets), else on `config:`.
    trigger = next((k for k, v in (rule.get("when") or {}).items() if v is not None and k in config),
                   next((k for k in rule.get("whenPresent", ()) if config.get(k) is not None), None))
    anchor, target = ((trigger,), "key") if trigger else ((), "parent")
    any_of = rule.get("mustAnyOf")
    if any_of and not any(present(f) for f in any_of):
        # A field only the connection may set (`dsn`) is no quick fix in the step: no `missing` then.
        on_alias = any(getattr(spec.connection_fields.get(f), "override", None) == "forbidden" for f in any_of)
        out.append(FriendlyError("config.constraint", " or ".join(any_of), anchor, target, rule["error"],
                                 fix or "add " + " or ".join(f"`{f}`" for f in any_of),
                                 example_for(spec, any_of[0], spec.properties.get(any_of[0], {})), spec.doc_url,
                                 {"any_of": True, "connection": True} if on_alias else {"missing": list(any_of), "any_of": True}))
    for name, fragment in (rule.get("must") or {}).items():
        if not isinstance(fragment, Mapping):  # a plain value (Osiris v0.1.0 specs): must equal it
            value = config.get(name, spec.properties.get(name, {}).get("default"))
            if value != fragment:
                out.append(FriendlyError("config.constraint", name, (name,) if name in config else (),
                                         "value" if name in config else "parent", rule["error"],
                                         fix or f"set `{name}: {example_text(fragment)}`", {name: fragment},
                                         spec.doc_url, {"expected": fragment, "replacement": fragment}))
            continue
        if not present(name):
            out.append(FriendlyError("config.constraint", name, anchor, target, rule["error"], fix or f"add `{name}`",
                                     example_for(spec, name, spec.properties.get(name, {})), spec.doc_url,
                                     {"missing": [name]}))
        elif name in config and not _fragment_valid(fragment, config[name]):
            out.append(FriendlyError("config.constraint", name, (name,), "value", rule["error"], fix,
                                     example_for(spec, name, spec.properties.get(name, {})), spec.doc_url, {}))
    return out


def _rule_applies(rule: Mapping[str, Any], config: Mapping[str, Any], present: Any) -> bool:
    for name, expected in (rule.get("when") or {}).items():
        if expected is None:
            if present(name):
                return False
        elif config.get(name) != expected:
            return False
    return all(present(name) for name in rule.get("whenPresent", ()))
