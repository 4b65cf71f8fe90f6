"""Quick fixes, driven by the `data` the validator attached to each diagnostic.

Nothing is re-derived here: a diagnostic says what would fix it (`replacement`, `missing`,
`remove`), and this module turns that into text edits. Moving an inline secret edits two files:
the OML step (the literal becomes a `connection: "@family.alias"` reference) and the
connections file (the value moves under that alias).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from lsprotocol import types
from pygls.uris import from_fs_path

from osiris_lsp.convert import lsp_position, lsp_range, runtime_range
from osiris_lsp.workspace import CONNECTIONS_FILE_NAME, DocumentSnapshot, FolderContext
from osiris_runtime.errors import Position, Range


def quick_fixes(snap: DocumentSnapshot, folder: FolderContext,
                diagnostics: Sequence[types.Diagnostic]) -> list[types.CodeAction]:
    actions: list[types.CodeAction] = []
    for diag in diagnostics:
        if diag.source not in (None, "osiris") or not isinstance(diag.data, Mapping):
            continue
        data = diag.data
        code = str(diag.code or data.get("code") or "")
        rng = runtime_range(snap.lines, diag.range)
        if code.startswith("secret."):
            action = _move_secret(snap, folder, diag, rng)
            if action is not None:
                actions.append(action)
                continue
        if isinstance(data.get("replacement"), str) and "remove" not in data:
            actions.append(_replace(snap, diag, rng, data["replacement"], code))
        elif isinstance(data.get("remove"), str):
            action = _remove(snap, diag, rng, data["remove"], data.get("replacement"))
            if action is not None:
                actions.append(action)
        if isinstance(data.get("missing"), list) and data["missing"]:
            action = _add_missing(snap, folder, diag, rng, [str(m) for m in data["missing"]])
            if action is not None:
                actions.append(action)
    return actions


def _edit(uri: str, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    return types.WorkspaceEdit(changes={uri: edits})


def _action(title: str, diag: types.Diagnostic, edit: types.WorkspaceEdit, preferred: bool = True) -> types.CodeAction:
    return types.CodeAction(title=title, kind=types.CodeActionKind.QuickFix, diagnostics=[diag],
                            is_preferred=preferred, edit=edit)


def _text_in(lines: Sequence[str], rng: Range) -> str:
    if rng.start.line != rng.end.line:
        return ""
    return lines[rng.start.line][rng.start.column:rng.end.column] if rng.start.line < len(lines) else ""


def _replace(snap: DocumentSnapshot, diag: types.Diagnostic, rng: Range, replacement: str, code: str) -> types.CodeAction:
    current = _text_in(snap.lines, rng)
    new_text = replacement
    if current[:1] in ("'", '"') and current[-1:] == current[:1]:
        new_text = current[0] + replacement + current[0]  # keep the user's quoting
    elif replacement.startswith(("@", "*", "&", "!", "%", "{", "[")) or ": " in replacement:
        new_text = json.dumps(replacement)  # would not be a plain YAML scalar
    shown = current.strip(chr(34) + chr(39)) or "…"
    if "key" in code or "legacy" in str(diag.data):
        title = f"Rename `{shown}` to `{replacement}`"
    else:
        title = f"Replace `{shown}` with `{replacement}`"
    return _action(title, diag, _edit(snap.uri, [types.TextEdit(range=lsp_range(snap.lines, rng), new_text=new_text)]))


def _block_end(lines: Sequence[str], line: int) -> int:
    """The line after the block that starts at `line` (its deeper-indented continuation included)."""
    indent = _indent(lines[line])
    end = line + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        if not lines[end].strip():
            # a blank line ends the block unless deeper content follows
            nxt = next((n for n in range(end, len(lines)) if lines[n].strip()), None)
            if nxt is None or _indent(lines[nxt]) <= indent:
                break
        end += 1
    return end


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _remove(snap: DocumentSnapshot, diag: types.Diagnostic, rng: Range, key: str, keep: Any) -> types.CodeAction | None:
    lines = snap.lines
    line = rng.start.line
    if line >= len(lines):
        return None
    text = lines[line]
    if re.match(rf"^\s*(-\s+)?{re.escape(key)}\s*:", text):
        end = _block_end(lines, line)
        edit = types.TextEdit(range=lsp_range(lines, Range.at(line, 0, end, 0)), new_text="")
        return _action(f"Remove `{key}`", diag, _edit(snap.uri, [edit]))
    # an item of a flow sequence (`needs: [a, b]`): drop it with one neighbouring comma
    start, end = rng.start.column, rng.end.column
    after = text[end:]
    before = text[:start]
    m_after = re.match(r"\s*,\s*", after)
    m_before = re.search(r",\s*$", before)
    if m_after:
        end += m_after.end()
    elif m_before:
        start -= len(m_before.group())
    edit = types.TextEdit(range=lsp_range(lines, Range.at(line, start, line, end)), new_text="")
    return _action(f"Remove `{key}`", diag, _edit(snap.uri, [edit]))


def _add_missing(snap: DocumentSnapshot, folder: FolderContext, diag: types.Diagnostic, rng: Range,
                 missing: list[str]) -> types.CodeAction | None:
    """Insert `key: placeholder` lines for missing keys into the mapping the diagnostic sits on."""
    doc = snap.document()
    path, _ = doc.path_at(rng.start)
    target = doc.get(path)
    while path and not isinstance(target, dict):  # a key of the mapping: the mapping is its parent
        path = path[:-1]
        target = doc.get(path)
    if not isinstance(target, dict):
        return None
    schema_of = _schema_lookup(doc, folder, path)
    missing = [m for m in missing if m not in target]
    if not missing:
        return None
    lines = snap.lines
    if target:
        first_key = next(iter(target))
        indent = doc.range_of(path + (first_key,), key=True).start.column
        last = doc.range_of(path + (list(target)[-1],))
        insert_line = _block_end(lines, doc.range_of(path + (list(target)[-1],), key=True).start.line)
        insert_line = max(insert_line, last.end.line + 1)
    else:
        key_range = doc.range_of(path, key=True)
        if key_range.start.line < len(lines) and "{" in lines[key_range.start.line][key_range.end.column:]:
            return None  # a flow mapping: leave it to the user
        indent = key_range.start.column + 2
        insert_line = key_range.start.line + 1
    text = "".join(f"{' ' * indent}{key}: {_placeholder(schema_of(key))}\n" for key in missing)
    position = lsp_position(lines, Position(min(insert_line, len(lines)), 0))
    if insert_line >= len(lines) and lines and lines[-1] != "":
        text = "\n" + text
    edit = types.TextEdit(range=types.Range(start=position, end=position), new_text=text)
    names = ", ".join(f"`{m}`" for m in missing)
    return _action(f"Add missing {names}", diag, _edit(snap.uri, [edit]))


def _schema_lookup(doc: Any, folder: FolderContext, path: tuple[Any, ...]):
    spec = None
    if len(path) >= 3 and path[0] == "steps" and isinstance(path[1], int):
        steps = [s for s in doc.steps() if s.index == path[1]]
        if steps and steps[0].component:
            spec = folder.registry.get(steps[0].component)

    def schema_of(key: str) -> Mapping[str, Any]:
        if spec is None:
            return {}
        value = spec.properties.get(key)
        return value if isinstance(value, Mapping) else {}

    return schema_of


def _placeholder(schema: Mapping[str, Any]) -> str:
    """A value that satisfies the field's schema: its default, first enum value or example, else by type."""
    for value in (schema.get("default"), (schema.get("enum") or [None])[0], (schema.get("examples") or [None])[0]):
        if value is not None:
            return value if isinstance(value, str) else json.dumps(value)
    branches = [b for b in schema.get("oneOf", ()) if isinstance(b, Mapping)]
    if branches and "type" not in schema:
        return _placeholder(branches[0])
    kind = schema.get("type")
    return {"integer": str(schema.get("minimum", 0)), "number": "0", "boolean": "false",
            "array": "[]", "object": "{}"}.get(kind if isinstance(kind, str) else "", '""')


# --- moving a secret to the connections file -----------------------------------------------------


def _move_secret(snap: DocumentSnapshot, folder: FolderContext, diag: types.Diagnostic,
                 rng: Range) -> types.CodeAction | None:
    doc = snap.document()
    path, _ = doc.path_at(rng.start)
    if len(path) < 4 or path[0] != "steps" or not isinstance(path[1], int) or not isinstance(path[3], str):
        return None
    field = path[3]
    step = next((s for s in doc.steps() if s.index == path[1]), None)
    if step is None or not step.component or not isinstance(step.config, Mapping):
        return None
    value = step.config.get(field)
    if not isinstance(value, (str, int, float)):
        return None
    family = step.component.split(".", 1)[0]
    alias_name, has_ref = _alias_for(step)
    connections_path = folder.connections_path()
    if connections_path is None:
        connections_path = (folder.root or (snap.path.parent if snap.path else Path.cwd())) / CONNECTIONS_FILE_NAME

    lines = snap.lines
    key_line = doc.range_of(path, key=True).start.line
    end = _block_end(lines, key_line)
    indent = " " * _indent(lines[key_line])
    replacement = "" if has_ref else f'{indent}connection: "@{family}.{alias_name}"\n'
    oml_edit = types.TextEdit(range=lsp_range(lines, Range.at(key_line, 0, end, 0)), new_text=replacement)

    env_name = re.sub(r"[^A-Z0-9_]", "_", f"{family}_{alias_name}_{field}".upper())
    secrets_file = folder.settings.secrets_file
    # With a secrets file the value goes there and the connections file gets a `${VAR}`
    # placeholder (the connections file is meant to hold no literal secrets); without one the
    # value itself moves, so the pipeline keeps working.
    stored = f"${{{env_name}}}" if secrets_file is not None else value
    connections_edit = _connections_insert(folder, connections_path, family, alias_name, field, stored)
    if connections_edit is None:
        if not has_ref:
            return None
        # the step's alias already holds this field: the inline copy only has to go
        remove = types.TextEdit(range=lsp_range(lines, Range.at(key_line, 0, end, 0)), new_text="")
        return _action(f"Remove `{field}`: @{family}.{alias_name} supplies it", diag, _edit(snap.uri, [remove]))
    changes: list[Any] = []
    if secrets_file is not None:
        changes += _file_edit(secrets_file, _secrets_line(secrets_file, env_name, value))
    changes += _file_edit(connections_path, connections_edit)
    changes.append(types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=snap.uri, version=snap.version),
        edits=[oml_edit]))
    title = f"Move `{field}` to the connections file as @{family}.{alias_name}"
    return _action(title, diag, types.WorkspaceEdit(document_changes=changes))


def _file_edit(path: Path, edit: types.TextEdit) -> list[Any]:
    uri = from_fs_path(str(path)) or path.as_uri()
    out: list[Any] = []
    if not path.exists():
        out.append(types.CreateFile(uri=uri, kind="create", options=types.CreateFileOptions(ignore_if_exists=True)))
    out.append(types.TextDocumentEdit(text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                                      edits=[edit]))
    return out


def _secrets_line(path: Path, name: str, value: Any) -> types.TextEdit:
    """`NAME='value'` (dotenv) or `NAME: "value"` (YAML) appended to the secrets file, written so
    that it reads back as exactly the value (no escapes left in, no interpolation)."""
    from osiris_runtime.secrets import dotenv_line

    yaml_like = path.suffix in (".yaml", ".yml", ".json")
    line = f"{name}: {json.dumps(str(value), ensure_ascii=False)}\n" if yaml_like else dotenv_line(name, str(value))
    lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else [""]
    return _insert_at(lines, len(lines), line)


def _alias_for(step: Any) -> tuple[str, bool]:
    """The alias the secret goes under: the step's own connection alias, else one named after the step."""
    ref = step.config.get("connection") if isinstance(step.config, Mapping) else None
    if isinstance(ref, str) and ref.startswith("@") and "." in ref:
        return ref.split(".", 1)[1], True
    return re.sub(r"[^A-Za-z0-9_]+", "_", step.id or "main").strip("_") or "main", False


def _connections_insert(folder: FolderContext, path: Path, family: str, alias: str, field: str,
                        value: Any) -> types.TextEdit | None:
    """Where and what to insert into the connections file so that `family.alias.field` holds `value`."""
    rendered = json.dumps(value) if isinstance(value, str) else str(value)
    if not path.exists():
        text = f"connections:\n  {family}:\n    {alias}:\n      {field}: {rendered}\n"
        return types.TextEdit(range=types.Range(start=types.Position(0, 0), end=types.Position(0, 0)), new_text=text)
    lines = path.read_text(encoding="utf-8").split("\n")
    connections = folder.connections()
    existing = connections.get(family, alias) if connections is not None and connections.path == path else None
    if existing is not None:
        if field in existing.fields:
            return None  # the alias already has a value: nothing to move into
        anchor = existing.range.start.line
        indent = _child_indent(lines, anchor)
        at = _block_end(lines, anchor)
        return _insert_at(lines, at, f"{' ' * indent}{field}: {rendered}\n")
    family_range = connections.family_ranges.get(family) if connections is not None and connections.path == path else None
    if family_range is not None:
        anchor = family_range.start.line
        indent = _child_indent(lines, anchor)
        at = _block_end(lines, anchor)
        return _insert_at(lines, at, f"{' ' * indent}{alias}:\n{' ' * (indent + 2)}{field}: {rendered}\n")
    if not any(re.match(r"^connections\s*:", line) for line in lines):
        return _insert_at(lines, len(lines), f"connections:\n  {family}:\n    {alias}:\n      {field}: {rendered}\n")
    return _insert_at(lines, len(lines), f"  {family}:\n    {alias}:\n      {field}: {rendered}\n")


def _child_indent(lines: Sequence[str], key_line: int) -> int:
    for line in lines[key_line + 1:]:
        if line.strip() and not line.lstrip().startswith("#"):
            return max(_indent(line), _indent(lines[key_line]) + 2)
    return _indent(lines[key_line]) + 2


def _insert_at(lines: Sequence[str], line: int, text: str) -> types.TextEdit:
    """Insert whole lines before `line`, or at the end of the file (adding a missing final newline)."""
    if line < len(lines):
        pos, new_text = types.Position(line=line, character=0), text
    elif not lines or lines[-1] == "":
        pos, new_text = types.Position(line=max(len(lines) - 1, 0), character=0), text
    else:
        pos, new_text = types.Position(line=len(lines) - 1, character=len(lines[-1])), "\n" + text
    return types.TextEdit(range=types.Range(start=pos, end=pos), new_text=new_text)
