"""The JSON Schema yaml-language-server gets, taken from the project when it offers one.

Order: `osiris oml schema` (the CLI), then `schemas/oml.schema.json`, then a draft-07 schema built
here from the registry's specs, shaped as in the baseline's make_schema.py: closed step and root
objects, and one `if component == C then config: <C's config schema>` block per component (in
draft-07 `additionalProperties` cannot see sibling subschemas, so each `then` is closed itself).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

KEBAB = "^[a-z0-9]+(-[a-z0-9]+)*$"
CONNECTION = {"type": "string", "pattern": "^@[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)?$",
              "description": "Connection `@family.alias` from osiris_connections.yaml."}


def project_schema(repo: Path, osiris: Path) -> tuple[dict[str, Any], str]:
    """(schema, where it came from)."""
    try:
        proc = subprocess.run([str(osiris), "oml", "schema"], cwd=repo, capture_output=True, text=True, timeout=60)
        if proc.returncode == 0 and proc.stdout.lstrip().startswith("{"):
            return json.loads(proc.stdout), "osiris oml schema"
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        pass
    shipped = repo / "schemas" / "oml.schema.json"
    if shipped.exists():
        return json.loads(shipped.read_text()), str(shipped.relative_to(repo))
    return registry_schema(), "generated from the registry (bench/lsp/oml_schema.py)"


def _config_schema(spec: Any) -> dict[str, Any]:
    schema = json.loads(json.dumps(spec.config_schema))      # a deep, plain copy
    schema.pop("$schema", None)
    schema.setdefault("properties", {})["connection"] = CONNECTION
    schema["additionalProperties"] = False
    # Fields a connection supplies are not required in the pipeline (every step here has one).
    supplied = set(spec.connection_fields)
    required = [name for name in schema.get("required", []) if name not in supplied]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)
    return schema


def registry_schema() -> dict[str, Any]:
    from osiris_runtime.registry import Registry

    specs = sorted(Registry().specs(), key=lambda s: s.name)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "OML v0.1.0 pipeline",
        "type": "object",
        "required": ["oml_version", "name", "steps"],
        "additionalProperties": False,
        "properties": {
            "oml_version": {"type": "string", "enum": ["0.1.0"], "description": "OML format version."},
            "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$", "description": "Pipeline name (kebab-case)."},
            "description": {"type": "string", "description": "Free-text description."},
            "metadata": {"type": "object", "description": "Free-form metadata."},
            "params": {"type": "object", "description": "Parameters, referenced as ${params.<name>}.",
                       "additionalProperties": {"$ref": "#/definitions/param"}},
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/step"}},
        },
        "definitions": {
            "param": {"type": "object", "additionalProperties": False,
                      "properties": {"type": {"enum": ["string", "integer", "number", "boolean"]},
                                     "default": {}, "description": {"type": "string"}}},
            "step": {
                "type": "object", "additionalProperties": False, "required": ["id", "component", "mode"],
                "properties": {
                    "id": {"type": "string", "pattern": KEBAB, "description": "Unique step id."},
                    "component": {"type": "string", "enum": [s.name for s in specs],
                                  "enumDescriptions": [s.title or s.description or s.name for s in specs],
                                  "description": "Component that runs this step."},
                    "mode": {"type": "string", "enum": ["read", "write", "transform"], "description": "Step mode."},
                    "needs": {"type": "array", "uniqueItems": True, "items": {"type": "string", "pattern": KEBAB},
                              "description": "Ids of steps that must finish first."},
                    "config": {"type": "object", "description": "Component configuration."},
                },
                "allOf": [{"if": {"required": ["component"], "properties": {"component": {"const": s.name}}},
                           "then": {"properties": {"config": _config_schema(s)}}} for s in specs],
            },
        },
    }
