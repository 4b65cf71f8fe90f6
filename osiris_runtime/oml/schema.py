"""JSON Schema (2020-12) export of OML v0.1.0, generated from the registry.

For generic YAML tooling (editors without our language server, CI linters): the document shape,
and each step's `config` constrained by its `component` through `if`/`then`. The validator in
`rules.py` stays the source of truth (it also checks what a schema cannot: cycles, secrets,
connection aliases); this is a faithful approximation, regenerated whenever a spec changes.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any, Mapping

from osiris_runtime.oml.document import MODE_TO_COMPONENT_MODE
from osiris_runtime.oml.rules_shape import OML_VERSION
from osiris_runtime.oml.rules_steps import COMPONENT_MODE_TO_OML, RESERVED_STEP_KEYS, STEP_ID_FORMAT

if TYPE_CHECKING:
    from osiris_runtime.registry import ComponentSpec, Registry

SCHEMA_ID = "urn:osiris:schema:oml:0.1.0"
CONNECTION_REF_PATTERN = r"^@[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
_EXTENSIONS = {"^x-": {}}


def _config_def(spec: "ComponentSpec") -> dict[str, Any]:
    """The component's config schema, plus `connection`, with required fields relaxed by a connection."""
    body = {k: copy.deepcopy(v) for k, v in spec.config_schema.items() if k not in ("$schema", "$id", "required")}
    properties = body.setdefault("properties", {})
    properties["connection"] = {
        "type": "string",
        "pattern": CONNECTION_REF_PATTERN,
        "description": f'A `{spec.family}` connection from osiris_connections.yaml: "@{spec.family}.<alias>"',
    }
    for old, new in sorted(spec.config_aliases.items()):
        if old not in properties and new in properties:
            properties[old] = {**copy.deepcopy(properties[new]), "deprecated": True, "description": f"Deprecated: use `{new}`."}
    required = list(spec.required)
    from_connection = [r for r in required if r not in spec.connection_fields]
    if not required:
        return body
    return {
        "allOf": [
            body,
            {
                "if": {"required": ["connection"]},
                "then": {"required": from_connection} if from_connection else {},
                "else": {"required": required},
            },
        ]
    }


def _step_def(specs: list["ComponentSpec"]) -> dict[str, Any]:
    names = [s.name for s in specs]
    component = {"type": "string", "enum": names} if names else {"type": "string"}
    step: dict[str, Any] = {
        "type": "object",
        "required": ["id", "mode"],
        "anyOf": [{"required": ["component"]}, {"required": ["type"]}, {"required": ["uses"]}],
        "properties": {
            "id": {"type": "string", "pattern": STEP_ID_FORMAT.pattern, "description": "Unique kebab-case step id."},
            "component": {**component, "description": "The component that runs this step."},
            "type": {**component, "deprecated": True, "description": "Deprecated: use `component`."},
            "uses": {**component, "deprecated": True, "description": "Deprecated: use `component`."},
            "mode": {"enum": list(MODE_TO_COMPONENT_MODE), "description": "read (extract), write or transform."},
            "config": {"type": "object"},
            "with": {"type": "object", "deprecated": True, "description": "Deprecated: use `config`."},
            "needs": {"anyOf": [{"type": "array", "items": {"type": "string"}, "uniqueItems": True}, {"type": "string"}],
                      "description": "Ids of the steps this one depends on (a list, or one id); absent = the previous step."},
            "description": {"type": "string"},
            **{key: {"description": "Reserved by OML v0.1.0; not supported yet (ignored)."} for key in sorted(RESERVED_STEP_KEYS)},
        },
        "patternProperties": _EXTENSIONS,
        "additionalProperties": False,
    }
    branches = []
    for spec in specs:
        modes = sorted({COMPONENT_MODE_TO_OML[m] for m in spec.modes if m in COMPONENT_MODE_TO_OML})
        ref = {"$ref": f"#/$defs/config/{spec.name}"}
        for key in ("component", "type", "uses"):
            branches.append(
                {
                    "if": {"required": [key], "properties": {key: {"const": spec.name}}},
                    "then": {"properties": {"mode": {"enum": modes}, "config": ref, "with": ref}},
                }
            )
    if branches:
        step["allOf"] = branches
    return step


def oml_json_schema(registry: "Registry") -> dict[str, Any]:
    """The OML v0.1.0 JSON Schema for the components this registry knows."""
    specs = sorted(registry.specs(), key=lambda s: s.name)
    param: dict[str, Any] = {
        "description": "`name: {type, default, enum, description}` or `name: <default>`.",
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "type": {"enum": ["string", "integer", "number", "boolean", "array", "object"]},
                    "default": {},
                    "enum": {"type": "array"},
                    "description": {"type": "string"},
                    "required": {"type": "boolean"},
                },
                "additionalProperties": False,
            },
            {"type": ["string", "number", "boolean", "array", "null"]},
        ],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"OML v{OML_VERSION} pipeline",
        "description": "Generated by `osiris oml schema` from the component registry; do not edit.",
        "type": "object",
        "required": ["oml_version", "name", "steps"],
        "properties": {
            "oml_version": {"const": OML_VERSION},
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "metadata": {"type": "object"},
            "params": {"type": "object", "additionalProperties": {"$ref": "#/$defs/param"}},
            "profiles": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"params": {"type": "object"}},
                },
            },
            "run": {"type": "object", "description": "Reserved by OML v0.1.0; ignored."},
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}},
        },
        "patternProperties": _EXTENSIONS,
        "additionalProperties": False,
        "$defs": {
            "param": param,
            "step": _step_def(specs),
            "config": {spec.name: _config_def(spec) for spec in specs},
        },
    }


def schema_text(schema: Mapping[str, Any]) -> str:
    """Canonical text of the committed schema file: 2-space JSON, LF, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
