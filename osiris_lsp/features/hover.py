"""Hover: documentation of the component, config field, connection alias or param under the cursor.

Like completion, it reads the lines around the cursor (no parse), so it answers right after an
edit and inside documents that do not parse.
"""

from __future__ import annotations

import re
from typing import Sequence

from lsprotocol import types

from osiris_lsp.convert import line_range
from osiris_lsp.cursor import (
    COMPONENT_KEYS,
    CONFIG_KEYS,
    ancestors,
    mapping_keys,
    scalar,
    shape_of,
)
from osiris_lsp.features.completion import (
    OML_MODES,
    STEP_KEYS,
    TOP_LEVEL_KEYS,
    alias_markdown,
    component_markdown,
    declared_params,
    family_secret_fields,
    field_markdown,
    step_ids_in_text,
)
from osiris_lsp.workspace import FolderContext
from osiris_runtime.oml.connections import parse_connection_ref

_PARAM_REF = re.compile(r"\$\{\s*params\.([\w-]+)\s*\}")
_TOKEN = re.compile(r"[^\s,\[\]{}\"']+")


def hover(lines: Sequence[str], line: int, column: int, folder: FolderContext) -> types.Hover | None:
    """Markdown for what sits at (`line`, `column`), or None when there is nothing to say."""
    if line >= len(lines):
        return None
    text = lines[line].rstrip("\r\n")
    shape = shape_of(text)
    if shape is None:
        return None

    for m in _PARAM_REF.finditer(text):
        if m.start() <= column <= m.end():
            return _param_hover(lines, m.group(1), line, m.start(), m.end())

    from osiris_lsp.features.discovery import table_hover

    found = table_hover(lines, line, column, folder)
    if found is not None:
        return found

    frames = ancestors(lines, line, shape.key_col, shape.dash)
    path = tuple(f.name for f in frames)
    in_step = len(path) == 2 and path[0] == "steps" and isinstance(path[1], int)
    in_config = len(path) == 3 and path[0] == "steps" and path[2] in CONFIG_KEYS
    component = None
    step_keys: dict[str, tuple[int, str]] = {}
    if len(frames) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        step_keys = mapping_keys(lines, frames[1].line, frames[1].level)
        component = next((scalar(step_keys[k][1]) for k in COMPONENT_KEYS if k in step_keys), None)
    spec = folder.registry.get(component) if component else None

    if shape.key is not None:
        key_end = text.index(":", shape.key_col)
        if shape.key_col <= column <= key_end:
            rng = line_range(lines, line, shape.key_col, key_end)
            if path == () and shape.key in TOP_LEVEL_KEYS:
                return _markdown(f"**{shape.key}** — {TOP_LEVEL_KEYS[shape.key]}", rng)
            if in_step and shape.key in COMPONENT_KEYS and spec is not None:
                return _markdown(component_markdown(spec) + _default_connection(lines, step_keys, spec, folder), rng)
            if in_step and shape.key in STEP_KEYS:
                return _markdown(f"**{shape.key}** — {STEP_KEYS[shape.key]}", rng)
            if in_config and spec is not None:
                schema = spec.properties.get(shape.key)
                if schema is not None or shape.key == "connection":
                    return _markdown(field_markdown(shape.key, schema or {}, spec), rng)
            if path == ("params",):
                return _param_hover(lines, shape.key, line, shape.key_col, key_end)
            return None
        value_start = text.index(shape.value, key_end) if shape.value else len(text)
    else:
        value_start = shape.key_col

    token = _token_at(text, column, value_start)
    if token is None:
        return None
    word, start, end = token
    rng = line_range(lines, line, start, end)
    key = shape.key
    if in_step and key in COMPONENT_KEYS:
        spec = folder.registry.get(word)
        return _markdown(component_markdown(spec) + _default_connection(lines, step_keys, spec, folder), rng) if spec else None
    if in_step and key == "mode" and word in OML_MODES:
        return _markdown(f"OML mode `{word}` runs the component in mode `{OML_MODES[word]}`", rng)
    if (in_step and key == "needs") or path[-2:-1] == ("needs",):
        return _needs_hover(lines, frames, word, rng)
    if in_config and key == "connection":
        return _connection_hover(word, rng, folder)
    return None


def _token_at(text: str, column: int, value_start: int) -> tuple[str, int, int] | None:
    for m in _TOKEN.finditer(text, value_start):
        if m.start() <= column <= m.end() and not m.group().startswith("#"):
            return m.group(), m.start(), m.end()
    return None


def _needs_hover(lines, frames, word: str, rng: types.Range) -> types.Hover | None:
    if len(frames) < 2:
        return None
    for line_no, step_id in step_ids_in_text(lines, frames[1].level).items():
        if step_id == word:
            keys = mapping_keys(lines, line_no, frames[1].level)
            component = next((scalar(keys[k][1]) for k in COMPONENT_KEYS if k in keys), "?")
            return _markdown(f"**step `{word}`** ({component}), line {line_no + 1}", rng)
    return None


def _connection_hover(word: str, rng: types.Range, folder: FolderContext) -> types.Hover | None:
    parsed = parse_connection_ref(word)
    if parsed is None:
        return None
    family, alias_name = parsed
    connections = folder.connections()
    if connections is None:
        return _markdown(f"`{word}`: no connections file found", rng)
    alias = connections.get(family, alias_name)
    if alias is None:
        return _markdown(f"`{word}`: no such alias in {connections.path}", rng)
    return _markdown(alias_markdown(alias, family_secret_fields(folder.registry, family))
                     + f"\n\nfrom `{connections.path}`", rng)


def _default_connection(lines: Sequence[str], step_keys: dict[str, tuple[int, str]], spec, folder: FolderContext) -> str:
    """For a step that names no connection: which alias it uses (the family default), or why none."""
    from osiris_runtime.oml.connections import ResolvedAlias, resolve_step_alias, takes_connection

    if not takes_connection(spec) or _names_connection(lines, step_keys):
        return ""
    connections = folder.connections()
    if connections is None:
        return f"\n\n**Connection:** the `{spec.family}` default (no connections file found)"
    chosen = resolve_step_alias(connections, spec.family)
    if not isinstance(chosen, ResolvedAlias):
        return f"\n\n**Connection:** {chosen.message}"
    return (f"\n\n**Connection:** {chosen.describe()}\n\n"
            + alias_markdown(chosen.entry, family_secret_fields(folder.registry, spec.family)))


def _names_connection(lines: Sequence[str], step_keys: dict[str, tuple[int, str]]) -> bool:
    """Whether the step's `config` (flow or block mapping) has a `connection` key."""
    config_key = next((k for k in CONFIG_KEYS if k in step_keys), None)
    if config_key is None:
        return False
    line_no, after = step_keys[config_key]
    if after.strip():
        return re.search(r"[{,]\s*['\"]?connection['\"]?\s*:", after) is not None
    indent = len(lines[line_no]) - len(lines[line_no].lstrip())
    child_indent = None
    for text in lines[line_no + 1:]:
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        here = len(text) - len(text.lstrip())
        if here <= indent:
            return False
        child_indent = here if child_indent is None else child_indent
        if here == child_indent and re.match(r"\s*['\"]?connection['\"]?\s*:", text):
            return True
    return False


def _param_hover(lines: Sequence[str], name: str, line: int, start: int, end: int) -> types.Hover | None:
    declared = declared_params(lines)
    rng = line_range(lines, line, start, end)
    if name not in declared:
        return _markdown(f"param `{name}` is not declared under `params:`", rng)
    decl = lines[declared[name]].strip()
    block = [decl]
    indent = len(lines[declared[name]]) - len(lines[declared[name]].lstrip())
    for extra in lines[declared[name] + 1:]:
        if extra.strip() and len(extra) - len(extra.lstrip()) <= indent:
            break
        block.append(extra.rstrip()[indent:] if extra.strip() else "")
    return _markdown(f"**param `{name}`**\n```yaml\n" + "\n".join(block).rstrip() + "\n```", rng)


def _markdown(value: str, rng: types.Range) -> types.Hover:
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value), range=rng)
