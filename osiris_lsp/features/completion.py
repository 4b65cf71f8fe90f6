"""Completion: what may be typed at the cursor, from the cursor context, the registry and connections.

Never parses or validates the document: the cursor context comes from the lines around the cursor
(`osiris_lsp.cursor`), step ids and params from a line scan, so completion stays fast right after
an edit and works inside documents that do not parse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from lsprotocol import types

from osiris_lsp.convert import line_range
from osiris_runtime.doclinks import resolve_doc_url
from osiris_lsp.cursor import (
    COMPONENT_KEYS,
    CompletionContext,
    ContextKind,
    child_mapping,
    completion_context,
    mapping_keys,
    scalar,
)
from osiris_lsp.workspace import FolderContext
from osiris_runtime.registry import ComponentSpec

TOP_LEVEL_KEYS: Mapping[str, str] = {
    "oml_version": 'OML version of this document, "0.1.0"',
    "name": "Pipeline name (kebab-case)",
    "description": "What the pipeline does",
    "metadata": "Free-form metadata copied into the manifest",
    "params": "Parameters: `name: {type, default, enum}`, used as `${params.name}`",
    "profiles": "Named sets of param values",
    "steps": "The steps of the pipeline",
}
STEP_KEYS: Mapping[str, str] = {
    "id": "Unique step id (kebab-case)",
    "component": "Component that runs the step, e.g. `mysql.extractor`",
    "mode": "`read`, `write` or `transform` (must be offered by the component)",
    "config": "Component configuration, checked against the component's config schema",
    "needs": "Step ids this step depends on (`[]` for none; default: the previous step)",
}
# OML step mode -> component mode
OML_MODES: Mapping[str, str] = {"read": "extract", "write": "write", "transform": "transform"}
NEEDS_LIMIT = 100  # step ids offered at once in `needs`; typing narrows the list (it is incomplete)
_STEP_ID = r"\n(?:{dash_indent}- +|{indent})id[ \t]*:[ \t]*(?P<id>[^\s#]+)"  # `\n`: far faster than `^` with re.M


@dataclass(frozen=True)
class CompletionOptions:
    snippets: bool = True  # the client accepts snippet insert texts


def complete(lines: Sequence[str], line: int, column: int, folder: FolderContext,
             options: CompletionOptions = CompletionOptions()) -> types.CompletionList:
    """Completion items at (`line`, `column`) (code points) of an OML document's lines."""
    from osiris_lsp.features import discovery

    in_query = discovery.sql_items(lines, line, column, folder) if line < len(lines) else None
    if in_query is not None:
        return in_query
    ctx = completion_context(lines, line, column)
    if ctx.kind in (ContextKind.CONFIG_VALUE, ContextKind.NONE):
        rng = line_range(lines, ctx.line, ctx.start, ctx.end)
        found = (discovery.column_list_items(ctx, lines, rng, folder) if discovery.column_list_item_context(ctx)
                 else discovery.config_value_items(ctx, lines, rng, folder) if ctx.kind is ContextKind.CONFIG_VALUE
                 else None)
        if found is not None:
            return types.CompletionList(is_incomplete=len(found) >= discovery.TABLE_LIMIT, items=found)
    items = list(_items(ctx, lines, folder, options))
    truncated = ctx.kind is ContextKind.NEEDS_ITEM and len(items) >= NEEDS_LIMIT
    return types.CompletionList(is_incomplete=truncated, items=items)


def _items(ctx: CompletionContext, lines: Sequence[str], folder: FolderContext,
           options: CompletionOptions) -> Iterable[types.CompletionItem]:
    rng = line_range(lines, ctx.line, ctx.start, ctx.end)
    kind = ctx.kind
    if kind is ContextKind.TOP_LEVEL_KEY:
        yield from _key_items(TOP_LEVEL_KEYS, ctx, rng, options)
    elif kind is ContextKind.STEP_KEY:
        yield from _key_items(STEP_KEYS, ctx, rng, options)
        if not ctx.present_keys and options.snippets:
            yield _new_step_item(ctx, rng)
    elif kind is ContextKind.COMPONENT:
        yield from _component_items(ctx, rng, folder)
    elif kind is ContextKind.MODE:
        yield from _mode_items(ctx, rng, folder)
    elif kind is ContextKind.CONFIG_KEY:
        spec = folder.registry.get(ctx.component) if ctx.component else None
        if spec is not None:
            yield from _config_key_items(spec, ctx, rng, options, _default_alias(folder, spec.family))
    elif kind is ContextKind.CONFIG_VALUE:
        spec = folder.registry.get(ctx.component) if ctx.component else None
        if spec is not None and ctx.key:
            yield from _config_value_items(spec.properties.get(ctx.key), ctx, rng)
    elif kind is ContextKind.CONNECTION_REF:
        yield from _connection_items(ctx, rng, folder)
    elif kind is ContextKind.NEEDS_ITEM:
        yield from _needs_items(ctx, rng, lines)
    elif kind is ContextKind.PARAMS_REF:
        yield from _params_items(ctx, rng, lines)


def _key_items(keys: Mapping[str, str], ctx: CompletionContext, rng: types.Range,
               options: CompletionOptions) -> Iterable[types.CompletionItem]:
    present = set(ctx.present_keys)
    if ctx.kind is ContextKind.STEP_KEY and present & set(COMPONENT_KEYS):
        present.add("component")
    for n, (key, doc) in enumerate(keys.items()):
        if key in present:
            continue
        yield types.CompletionItem(
            label=key, kind=types.CompletionItemKind.Property, documentation=doc, sort_text=f"{n:03d}",
            text_edit=types.TextEdit(range=rng, new_text=f"{key}: "),
        )


def _new_step_item(ctx: CompletionContext, rng: types.Range) -> types.CompletionItem:
    """A whole step skeleton for an empty `- ` item."""
    pad = "\n" + " " * rng.start.character
    body = pad.join([f"id: ${{1:step-{(ctx.step_index or 0) + 1}}}", "component: ${2}",
                     "mode: ${3|read,write,transform|}", "config:", "  $0"])
    return types.CompletionItem(label="(new step)", kind=types.CompletionItemKind.Snippet, sort_text="0000",
                                detail="id, component, mode, config", insert_text_format=types.InsertTextFormat.Snippet,
                                insert_text_mode=types.InsertTextMode.AsIs,
                                text_edit=types.TextEdit(range=rng, new_text=body))


def _component_items(ctx: CompletionContext, rng: types.Range, folder: FolderContext) -> Iterable[types.CompletionItem]:
    for spec in folder.registry.specs():
        modes = ", ".join(spec.modes)
        yield types.CompletionItem(
            label=spec.name, kind=types.CompletionItemKind.Module,
            detail=f"{spec.title or spec.name} ({modes})",
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=component_markdown(spec)),
            text_edit=types.TextEdit(range=rng, new_text=spec.name),
        )


def _mode_items(ctx: CompletionContext, rng: types.Range, folder: FolderContext) -> Iterable[types.CompletionItem]:
    spec = folder.registry.get(ctx.component) if ctx.component else None
    for oml_mode, component_mode in OML_MODES.items():
        if spec is not None and component_mode not in spec.modes:
            continue
        detail = f"component mode `{component_mode}`" + (f" of {spec.name}" if spec else "")
        yield types.CompletionItem(label=oml_mode, kind=types.CompletionItemKind.EnumMember, detail=detail,
                                   text_edit=types.TextEdit(range=rng, new_text=oml_mode))


def _default_alias(folder: FolderContext, family: str) -> str:
    """The alias a new `connection:` of `family` most likely means: the default one, else the first."""
    connections = folder.connections()
    if connections is None:
        return "default"
    alias = connections.get(family) or next(iter(connections.aliases(family)), None)
    return alias.alias if alias is not None else "default"


def _config_key_items(spec: ComponentSpec, ctx: CompletionContext, rng: types.Range,
                      options: CompletionOptions, alias: str) -> Iterable[types.CompletionItem]:
    """Config keys: `connection` first, then the required keys, then the rest.

    Keys a connection supplies are never required here (the step is meant to take them from its
    `connection`), and secret fields are offered last and never inserted by a snippet: a pipeline
    must not hold a secret.
    """
    present = set(ctx.present_keys)
    secrets = spec.secret_roots
    uses_connection = bool(spec.connection_fields) or "connection" in spec.properties
    required = [k for k in spec.required if k in spec.properties and k not in secrets
                and k not in spec.connection_fields]
    rest = [k for k in spec.properties if k not in required and k not in secrets and k != "connection"]
    ordered = (["connection"] if uses_connection else []) + required + rest + sorted(k for k in spec.properties if k in secrets)
    missing_required = (["connection"] if uses_connection and "connection" not in present else []) + [
        k for k in required if k not in present]
    for n, key in enumerate(ordered):
        if key in present:
            continue
        schema = spec.properties.get(key, {})
        is_required = key in missing_required
        new_text, fmt = f"{key}: ", types.InsertTextFormat.PlainText
        if is_required and options.snippets:
            new_text, fmt = f"{key}: {_snippet_value(key, schema, spec, 1, alias)}", types.InsertTextFormat.Snippet
        if key == "connection":
            detail = "required · @family.alias" if is_required else "@family.alias"
        elif key in secrets:
            detail = "secret · keep it in the connections file"
        else:
            detail = ("required · " if is_required else "") + field_type(schema)
        yield types.CompletionItem(
            label=key, kind=types.CompletionItemKind.Field, detail=detail,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=field_markdown(key, schema, spec)),
            sort_text=f"{0 if is_required else 1 if key not in secrets else 2}{n:03d}", insert_text_format=fmt,
            text_edit=types.TextEdit(range=rng, new_text=new_text),
        )
    if len(missing_required) > 1 and options.snippets:
        indent = " " * rng.start.character
        body = f"\n{indent}".join(f"{k}: {_snippet_value(k, spec.properties.get(k, {}), spec, i, alias)}"
                                  for i, k in enumerate(missing_required, 1))
        yield types.CompletionItem(
            label="(required fields)", kind=types.CompletionItemKind.Snippet,
            detail=", ".join(missing_required), sort_text="0000",
            insert_text_format=types.InsertTextFormat.Snippet, insert_text_mode=types.InsertTextMode.AsIs,
            text_edit=types.TextEdit(range=rng, new_text=body),
        )


def _snippet_value(key: str, schema: Mapping[str, Any], spec: ComponentSpec, tab: int, alias: str) -> str:
    """The snippet placeholder of a key's value; a connection gets `"@family.<alias>"`."""
    if key == "connection":
        return f'"@{spec.family}.${{{tab}:{alias}}}"'
    return f"${{{tab}:{_placeholder(schema)}}}"


def _config_value_items(schema: Any, ctx: CompletionContext, rng: types.Range) -> Iterable[types.CompletionItem]:
    if not isinstance(schema, Mapping):
        return
    values: list[Any] = list(schema.get("enum", ()))
    if not values and "boolean" in _types(schema):
        values = [True, False]
    default = schema.get("default")
    descriptions = schema.get("enumDescriptions") or []
    for n, value in enumerate(values):
        text = _yaml_scalar(value) if ctx.quote is None else str(value)
        yield types.CompletionItem(
            label=text, kind=types.CompletionItemKind.Value if not isinstance(value, bool) else types.CompletionItemKind.Keyword,
            detail="default" if value == default and default is not None else None,
            documentation=str(descriptions[n]) if n < len(descriptions) else None,
            sort_text=f"{n:03d}", preselect=value == default or None,
            text_edit=types.TextEdit(range=rng, new_text=text),
        )


def _connection_items(ctx: CompletionContext, rng: types.Range, folder: FolderContext) -> Iterable[types.CompletionItem]:
    connections = folder.connections()
    if connections is None:
        return
    family = ctx.component.split(".", 1)[0] if ctx.component else None
    families = [family] if family else connections.families()
    for fam in families:
        hidden = family_secret_fields(folder.registry, fam)
        for alias in connections.aliases(fam):
            ref = f"@{alias.family}.{alias.alias}"
            text = ref if ctx.quote else f'"{ref}"'
            yield types.CompletionItem(
                label=ref, kind=types.CompletionItemKind.Reference,
                detail="default connection" if alias.is_default else f"{alias.family} connection",
                documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=alias_markdown(alias, hidden)),
                filter_text=ref if ctx.quote else text, text_edit=types.TextEdit(range=rng, new_text=text),
            )


def _needs_items(ctx: CompletionContext, rng: types.Range, lines: Sequence[str]) -> Iterable[types.CompletionItem]:
    """Step ids, nearest earlier steps first; at most NEEDS_LIMIT (the list is then incomplete)."""
    if len(ctx.frames) < 2:
        return
    step = ctx.frames[1]
    own = mapping_keys(lines, step.line, step.level).get("id")
    seen = set(ctx.present_keys) | ({scalar(own[1])} if own else set())
    prefix = ctx.prefix.lower()
    candidates = [(line_no, step_id) for line_no, step_id in step_ids_in_text(lines, step.level).items()
                  if step_id not in seen and prefix in step_id.lower()]
    # earlier steps (what a step usually needs) by distance, then later ones
    candidates.sort(key=lambda c: (c[0] > step.line, abs(step.line - c[0])))
    for rank, (line_no, step_id) in enumerate(candidates[:NEEDS_LIMIT]):
        yield types.CompletionItem(label=step_id, kind=types.CompletionItemKind.Reference,
                                   detail=f"step on line {line_no + 1}", sort_text=f"{rank:05d}",
                                   text_edit=types.TextEdit(range=rng, new_text=step_id))


def step_ids_in_text(lines: Sequence[str], step_level: int) -> dict[int, str]:
    """Step ids by line, read from `id:` keys at the steps' key column (one regex pass in C)."""
    dash_indent = " " * max(step_level - 2, 0)
    pattern = re.compile(_STEP_ID.format(dash_indent=dash_indent, indent=" " * step_level))
    text = "\n" + "\n".join(lines)
    ids: dict[int, str] = {}
    line_no, last = -1, 0
    for m in pattern.finditer(text):
        line_no += text.count("\n", last, m.start() + 1)
        last = m.start() + 1
        ids[line_no] = scalar(m["id"])
    return ids


def declared_params(lines: Sequence[str]) -> dict[str, int]:
    """Param names declared under the top-level `params:` mapping, with their lines."""
    for n, text in enumerate(lines):
        if text.startswith("params") and re.match(r"^params[ \t]*:", text):
            rest = text.split(":", 1)[1].strip()
            if rest.startswith("{"):
                return {scalar(m.group(1)): n for m in re.finditer(r"[{,]\s*([\w.-]+)\s*:", rest)}
            block = child_mapping(lines, n)
            if block is None:
                return {}
            return {key: line for key, (line, _) in mapping_keys(lines, block[0], block[1]).items()}
    return {}


def _params_items(ctx: CompletionContext, rng: types.Range, lines: Sequence[str]) -> Iterable[types.CompletionItem]:
    for name, line_no in declared_params(lines).items():
        closing = "" if ctx.end < len(lines[ctx.line]) and lines[ctx.line][ctx.end:ctx.end + 1] == "}" else "}"
        yield types.CompletionItem(label=name, kind=types.CompletionItemKind.Variable,
                                   detail=f"param declared on line {line_no + 1}",
                                   text_edit=types.TextEdit(range=rng, new_text=name + closing))


# --- documentation shared with hover ------------------------------------------------------------


def _types(schema: Mapping[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str)]
    out: list[str] = []
    for branch in list(schema.get("oneOf", ())) + list(schema.get("anyOf", ())):
        if isinstance(branch, Mapping):
            out += _types(branch)
    return out


def field_type(schema: Mapping[str, Any]) -> str:
    types_ = _types(schema)
    if "array" in types_ and isinstance(schema.get("items"), Mapping):
        item = "|".join(_types(schema["items"])) or "any"
        types_ = [t if t != "array" else f"{item}[]" for t in types_]
    return " | ".join(dict.fromkeys(types_)) or "any"


def field_markdown(key: str, schema: Mapping[str, Any], spec: ComponentSpec) -> str:
    """Type, default, enum, constraints and description of one config field."""
    parts = [f"**{key}** `{field_type(schema)}`" + (" — required" if key in spec.required else "")]
    if key == "connection":
        parts.append("A connection reference `@family.alias` from the connections file.")
    if schema.get("description"):
        parts.append(str(schema["description"]))
    facts = []
    if "default" in schema:
        facts.append(f"default: `{json.dumps(schema['default'])}`")
    if schema.get("enum"):
        facts.append("one of: " + ", ".join(f"`{v}`" for v in schema["enum"]))
    for word, label in (("minimum", "min"), ("maximum", "max"), ("minLength", "min length"),
                        ("maxLength", "max length"), ("pattern", "pattern"), ("minItems", "min items")):
        if word in schema:
            facts.append(f"{label}: `{schema[word]}`")
    if key in spec.connection_fields:
        facts.append(f"can come from the connection (override {spec.connection_fields[key].override})")
    if any(p.lstrip("/").split("/")[0] == key for p in spec.secrets):
        facts.append("secret: keep it in the connections file")
    if facts:
        parts.append("\n".join(f"- {f}" for f in facts))
    href = resolve_doc_url(spec.doc_url)
    if href:
        parts.append(f"[{spec.name} docs]({href})")
    return "\n\n".join(parts)


def component_markdown(spec: ComponentSpec) -> str:
    """Title, description, modes, required fields and an example of a component."""
    parts = [f"### {spec.title or spec.name}", f"`{spec.name}` {spec.version}"]
    if spec.description:
        parts.append(spec.description)
    oml = [m for m, c in OML_MODES.items() if c in spec.modes]
    parts.append("**Modes:** " + ", ".join(f"`{m}`" for m in spec.modes) + (f" (OML: {', '.join(oml)})" if oml else ""))
    if spec.required:
        parts.append("**Required config:** " + ", ".join(f"`{k}`" for k in spec.required))
    if spec.examples:
        example = spec.examples[0]
        config = example.get("config", example) if isinstance(example, Mapping) else example
        parts.append("**Example:**\n```yaml\n" + _yaml_block(config) + "```")
    href = resolve_doc_url(spec.doc_url)
    if href:
        parts.append(f"[Documentation]({href})")
    return "\n\n".join(parts)


def alias_markdown(alias: Any, secret_fields: frozenset[str] = frozenset()) -> str:
    """A connection alias's fields through the one redactor: secret values never leave the server."""
    from osiris_runtime.secrets import MASK, Redactor

    shown = Redactor(secret_keys=secret_fields).redact({k: v for k, v in alias.fields.items() if k != "default"})
    lines = [f"**@{alias.family}.{alias.alias}**" + (" (default)" if alias.is_default else "")]
    for key, value in shown.items():
        lines.append(f"- {key}: *(secret, hidden)*" if value == MASK else f"- {key}: `{value}`")
    return "\n".join(lines)


def family_secret_fields(registry: Any, family: str) -> frozenset[str]:
    """Field names any component of `family` declares secret (a connection supplies them)."""
    out: set[str] = set()
    for spec in registry.specs():
        if spec.family == family:
            out |= registry.get_secret_map(spec.name).secret_keys
    return frozenset(out)


def _placeholder(schema: Mapping[str, Any]) -> str:
    if "default" in schema and schema["default"] is not None:
        return _yaml_scalar(schema["default"]).replace("}", "\\}").replace("$", "\\$")
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("examples"):
        return _yaml_scalar(schema["examples"][0]).replace("}", "\\}").replace("$", "\\$")
    return field_type(schema)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][\w./-]*", text) and text.lower() not in ("true", "false", "null", "yes", "no", "on", "off"):
        return text
    return json.dumps(text)


def _yaml_block(data: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(data, Mapping):
        out = ""
        for k, v in data.items():
            if isinstance(v, (Mapping, list)) and v:
                out += f"{pad}{k}:\n" + _yaml_block(v, indent + 1)
            else:
                out += f"{pad}{k}: {json.dumps(v) if not isinstance(v, str) else _yaml_scalar(v)}\n"
        return out
    if isinstance(data, list):
        return "".join(f"{pad}- {json.dumps(v) if not isinstance(v, str) else _yaml_scalar(v)}\n" for v in data)
    return f"{pad}{_yaml_scalar(data)}\n"
