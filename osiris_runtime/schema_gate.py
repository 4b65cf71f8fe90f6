"""A fast yes to "does this value pass this JSON Schema?", so valid configs never import jsonschema.

jsonschema (Draft 2020-12) is the validator whose errors we explain, but importing it costs about
100 ms: three times a short CLI's whole budget. Most configs are valid, so a code-generating
validator (fastjsonschema, about 8 ms to import) answers first. Its "valid" is trusted only for
schemas made of keywords that mean the same in draft-07 and 2020-12 and whose enums hold no
numbers or booleans (`True == 1` in Python); anything else, and every "invalid", goes to
jsonschema, which has the last word and the messages. So a config can only be slower, never judged
differently.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

# Keywords with the same meaning in draft-07 and 2020-12 (annotations included). Not here on
# purpose: `items` as a list, `$ref`/`$defs`/`$dynamicRef`, `unevaluated*`, `dependent*`,
# `prefixItems`, `format` (asserted by fastjsonschema, annotation-only elsewhere).
_SAME_MEANING = frozenset({
    "type", "properties", "required", "additionalProperties", "enum", "const", "items", "minItems", "maxItems",
    "uniqueItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "oneOf", "anyOf", "allOf", "not", "minProperties", "maxProperties", "patternProperties",
    "propertyNames", "if", "then", "else",
    "description", "title", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment",
})
# Every other keyword some draft gives a meaning: a schema using one is jsonschema's to judge. Keys in
# neither set (`enumDescriptions`, `x-*`) are annotations that both validators ignore.
_OTHER_KEYWORDS = frozenset({
    "$ref", "$defs", "definitions", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor", "$anchor",
    "$id", "$schema", "$vocabulary", "id", "format", "dependencies", "dependentRequired", "dependentSchemas",
    "prefixItems", "additionalItems", "contains", "minContains", "maxContains", "unevaluatedItems",
    "unevaluatedProperties", "contentEncoding", "contentMediaType", "contentSchema", "divisibleBy", "disallow",
    "extends",
})
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties"})
_SUBSCHEMA_LISTS = frozenset({"oneOf", "anyOf", "allOf"})
_SUBSCHEMAS = frozenset({"additionalProperties", "items", "not", "propertyNames", "if", "then", "else"})
_ANNOTATIONS = frozenset({"default", "examples", "description", "title"})


def _plain_values(values: Any) -> bool:
    items = values if isinstance(values, list) else [values]
    return all(v is None or isinstance(v, str) for v in items)


def _gateable(schema: Any) -> bool:
    """True if fastjsonschema's "valid" means jsonschema 2020-12's "valid" for this schema."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping):
        return False
    for key, value in schema.items():
        if key in _OTHER_KEYWORDS:
            return False
        if key not in _SAME_MEANING or key in _ANNOTATIONS:
            continue  # an annotation (a key no draft asserts anything with)
        if key in ("enum", "const") and not _plain_values(value):
            return False
        if key in _SUBSCHEMA_MAPS and not (isinstance(value, Mapping) and all(_gateable(s) for s in value.values())):
            return False
        if key in _SUBSCHEMA_LISTS and not (isinstance(value, list) and all(_gateable(s) for s in value)):
            return False
        if key in _SUBSCHEMAS and not _gateable(value):
            return False
    return True


Gate = Callable[[Any], bool]


def _never(instance: Any) -> bool:
    return False


# The options every gate is generated with. use_default=False: fastjsonschema would otherwise write
# defaults into the checked value.
_OPTIONS = {"use_default": False, "use_formats": False, "detailed_exceptions": False}


class GateStore:
    """Compiled gates on disk, so a short-lived CLI neither generates nor compiles their code.

    An entry is the marshalled code object of `fastjsonschema.compile_to_code(schema)`, keyed by
    the schema, the options and the interpreter's bytecode magic (marshal is version-specific);
    fastjsonschema's own version is checked when the code runs. Unreadable, stale or unwritable
    entries are ignored: a miss only costs generating the gate again. `directory` None: read-only,
    only `shipped` (the built-in specs' gates written by `make install`, beside their spec cache).
    A plain class, not a dataclass: defining one costs about 1 ms at import, on every CLI start.
    """

    def __init__(self, directory: Path | None, shipped: Path | None = None) -> None:
        self.directory = directory
        self.shipped = shipped

    def __repr__(self) -> str:
        return f"GateStore({self.directory!r}, {self.shipped!r})"

    def key(self, schema_text: str) -> str:
        from osiris_runtime.sha256 import sha256
        from importlib.util import MAGIC_NUMBER

        return sha256(f"{MAGIC_NUMBER.hex()}\0{sorted(_OPTIONS.items())}\0{schema_text}".encode()).hexdigest()

    def get(self, key: str) -> Any | None:
        code = self._read(self.directory, key)
        if code is None:
            code = self._read(self.shipped, key)
            if code is not None:
                self.put(key, code)  # the user's store holds every gate it used, shipped or not
        return code

    @staticmethod
    def _read(directory: Path | None, key: str) -> Any | None:
        if directory is None:
            return None
        import marshal

        try:
            code = marshal.loads((directory / f"{key}.gate").read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return None
        return code if hasattr(code, "co_code") else None

    def put(self, key: str, code: Any) -> None:
        if self.directory is None:
            return
        import marshal

        from osiris_runtime.atomic_files import write_atomically

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self.directory / f"{key}.gate", marshal.dumps(code))
        except (OSError, ValueError):
            pass


def gate_for(schema: Mapping[str, Any] | bool, store: GateStore | None = None) -> Gate:
    """A function answering `certainly_valid` for one schema; callers memoise it per schema version.

    `store`: where compiled gates are kept between processes (see `GateStore`); None compiles here.
    """
    if not _gateable(schema):
        return _never
    key = None
    if store is not None:
        try:
            key = store.key(json.dumps(schema, sort_keys=True))
        except (TypeError, ValueError):
            key = None
    code = store.get(key) if store is not None and key is not None else None
    check = _run_gate_code(code) if code is not None else None
    if check is None:
        import fastjsonschema

        try:
            code = compile(fastjsonschema.compile_to_code(schema, **_OPTIONS), "<schema gate>", "exec")
        except Exception:  # noqa: BLE001 - a schema it cannot compile is jsonschema's to judge
            return _never
        check = _run_gate_code(code)
        if check is None:
            return _never
        if store is not None and key is not None:
            store.put(key, code)

    def gate(instance: Any) -> bool:
        try:
            check(instance)
        except Exception:  # noqa: BLE001 - JsonSchemaValueException, or a value it cannot handle
            return False
        return True

    return gate


def _run_gate_code(code: Any) -> Callable[[Any], Any] | None:
    """The `validate` function that `compile_to_code`'s module defines, if generated by the installed fastjsonschema."""
    namespace: dict[str, Any] = {}
    try:
        exec(code, namespace)  # noqa: S102 - code fastjsonschema generated from one of our schemas
    except Exception:  # noqa: BLE001 - a stale or broken entry: generate the gate again
        return None
    installed = sys.modules.get("fastjsonschema")  # the generated module imports it
    if installed is None or namespace.get("VERSION") != getattr(installed, "VERSION", None):
        return None
    check = namespace.get("validate")
    return check if callable(check) else None


@functools.lru_cache(maxsize=256)
def _gate_by_text(schema_json: str) -> Gate:
    return gate_for(json.loads(schema_json))


def certainly_valid(schema: Mapping[str, Any] | bool, instance: Any) -> bool:
    """True only if `instance` passes `schema` under Draft 2020-12; False means "ask jsonschema"."""
    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError):
        return False
    return _gate_by_text(key)(instance)
