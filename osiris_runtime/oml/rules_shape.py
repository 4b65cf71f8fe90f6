"""Rules on the document's top level: required keys, forbidden legacy keys, types, version, name."""

from __future__ import annotations

import re
from typing import Any

from osiris_runtime.errors import Severity
from osiris_runtime.friendly import did_you_mean
from osiris_runtime.oml.rules import RuleContext

OML_VERSION = "0.1.0"
REQUIRED_KEYS = ("oml_version", "name", "steps")
# Top-level keys of OML v0.1.0 (`run` is reserved by the format and ignored by the compiler).
KNOWN_KEYS = frozenset({"oml_version", "name", "description", "metadata", "params", "profiles", "steps", "run"})
# Keys of older drafts that v0.1.0 forbids, with the v0.1.0 way to say the same thing.
FORBIDDEN_KEYS: dict[str, tuple[str, str | None]] = {
    "version": ('OML v0.1.0 spells the format version `oml_version: "0.1.0"`', "oml_version"),
    "connectors": (
        "connections live in osiris_connections.yaml; a step refers to one with "
        '`connection: "@family.alias"` in its config',
        None,
    ),
    "tasks": ("OML v0.1.0 lists the work under `steps:`", "steps"),
    "outputs": ("outputs are writer steps in `steps:` (e.g. a `mode: write` step)", None),
}
NAME_FORMAT = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TYPE_NAMES = {str: "a string", dict: "a mapping", list: "a list"}


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return TYPE_NAMES.get(type(value), type(value).__name__)


def check_type(ctx: RuleContext, path: tuple[Any, ...], value: Any, expected: type, what: str) -> bool:
    """Report `oml.invalid-type` unless `value` is an `expected`; True when it is."""
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return True
    ctx.report(
        "oml.invalid-type",
        f"{what} must be {TYPE_NAMES.get(expected, expected.__name__)}, not {type_name(value)}",
        path,
        fix=f"write {what} as {TYPE_NAMES.get(expected, expected.__name__)}",
        data={"expected": TYPE_NAMES.get(expected, expected.__name__)},
    )
    return False


def check_document_shape(ctx: RuleContext) -> None:
    data = ctx.doc.data
    if data is None and any(d.code in ("yaml.too-large", "yaml.too-deep") for d in ctx.doc.syntax_diagnostics):
        return  # refused as hostile: the YAML diagnostic says why
    if not isinstance(data, dict):
        if data is not None or not ctx.doc.syntax_diagnostics:
            ctx.report(
                "oml.invalid-type",
                f"an OML document must be a mapping of keys, not {type_name(data)}",
                (),
                fix='start with `oml_version: "0.1.0"`, `name:` and `steps:`',
                data={"expected": "a mapping", "missing": list(REQUIRED_KEYS)},
            )
        return
    for key in data:
        if not isinstance(key, str):
            ctx.report("oml.invalid-type", f"top-level key `{key}` must be a string", (key,), key=True,
                       fix="use a plain name such as `name` or `x-owner`")
        elif key in FORBIDDEN_KEYS:
            why, replacement = FORBIDDEN_KEYS[key]
            ctx.report(
                "oml.forbidden-key",
                f"`{key}` is not an OML v0.1.0 key",
                (key,),
                key=True,
                fix=why,
                data={"legacy": key, "replacement": replacement} if replacement else {"legacy": key},
            )
        elif key not in KNOWN_KEYS and not key.startswith("x-"):
            guess = did_you_mean(key, KNOWN_KEYS)
            ctx.report(
                "oml.unknown-key",
                f"unknown top-level key `{key}`",
                (key,),
                key=True,
                severity=Severity.WARNING,
                fix=f"did you mean `{guess}`?" if guess else "custom data goes under an `x-` prefixed key",
                data={"replacement": guess} if guess else {},
            )
    missing = [key for key in REQUIRED_KEYS if key not in data]
    for key in missing:
        ctx.report(
            "oml.missing-key",
            f"missing required top-level key `{key}`",
            (),
            fix={"oml_version": 'add `oml_version: "0.1.0"`', "name": "add `name: <pipeline-name>`", "steps": "add `steps:` with at least one step"}[key],
            data={"missing": [key]},
        )
    _check_version(ctx, data)
    _check_name(ctx, data)
    for key, expected in (("description", str), ("metadata", dict), ("params", dict), ("profiles", dict)):
        if key in data and data[key] is not None:
            check_type(ctx, (key,), data[key], expected, f"`{key}`")
    steps = data.get("steps")
    if "steps" in data:
        if steps is None or steps == []:
            ctx.report(
                "oml.empty-steps",
                "the pipeline has no steps",
                ("steps",),
                key=True,
                fix="add at least one step with `id`, `component` and `mode`",
            )
        else:
            check_type(ctx, ("steps",), steps, list, "`steps`")


def _check_version(ctx: RuleContext, data: dict[str, Any]) -> None:
    if "oml_version" not in data:
        return
    version = data["oml_version"]
    if not isinstance(version, str):
        ctx.report(
            "oml.invalid-type",
            f"`oml_version` must be a string, not {type_name(version)}",
            ("oml_version",),
            fix='quote it: `oml_version: "0.1.0"`',
            data={"expected": "a string", "replacement": OML_VERSION},
        )
    elif version != OML_VERSION:
        ctx.report(
            "oml.unsupported-version",
            f"OML version `{version}` is not supported; this tool reads {OML_VERSION}",
            ("oml_version",),
            severity=Severity.WARNING,
            fix=f'use `oml_version: "{OML_VERSION}"`',
            data={"replacement": OML_VERSION},
        )


def _check_name(ctx: RuleContext, data: dict[str, Any]) -> None:
    if "name" not in data:
        return
    name = data["name"]
    if not check_type(ctx, ("name",), name, str, "`name`"):
        return
    if not name.strip():
        ctx.report("oml.empty-name", "`name` is empty", ("name",), fix="give the pipeline a kebab-case name")
    elif not NAME_FORMAT.match(name):
        suggestion = kebab_case(name)
        ctx.report(
            "oml.name-format",
            f"pipeline name `{name}` is not kebab-case",
            ("name",),
            severity=Severity.WARNING,
            fix=f"use lower-case letters, digits and dashes, e.g. `{suggestion}`" if suggestion else "use lower-case letters, digits and dashes",
            data={"replacement": suggestion} if suggestion else {},
        )


def kebab_case(text: str) -> str:
    """`Pull_Orders v2` -> `pull-orders-v2` (empty when nothing usable is left)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", text)
    return re.sub(r"[^a-z0-9]+", "-", spaced.lower()).strip("-")
