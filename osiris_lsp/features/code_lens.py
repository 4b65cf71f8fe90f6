"""Code lenses: Compile and Run (and Discover tables of each connection) above `steps:`; Preview on each step."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from osiris_lsp.features.commands import COMPILE, DISCOVER, PREVIEW, RUN
from osiris_lsp.workspace import DocumentSnapshot

if TYPE_CHECKING:
    from osiris_lsp.workspace import FolderContext

_STEPS_KEY = re.compile(r"^steps[ \t]*:")
_STEP_ID = re.compile(r"^(?P<indent>[ \t]*)-[ \t]+id[ \t]*:[ \t]*(?P<id>\"[^\"]+\"|'[^']+'|[^\s#]+)")
_CONNECTION_REF = re.compile(r"connection[\"']?[ \t]*:[ \t]*[\"']?@(?P<family>[\w-]+)\.(?P<alias>[\w-]+)")
_FAMILY_OF_COMPONENT = re.compile(r"(?:component|type|uses)[ \t]*:[ \t]*[\"']?(?P<family>mysql|supabase)\.")


def code_lenses(snap: DocumentSnapshot, folder: "FolderContext | None" = None) -> list[types.CodeLens]:
    lenses: list[types.CodeLens] = []
    for n, line in enumerate(snap.lines):
        if line.startswith("steps") and _STEPS_KEY.match(line):
            rng = types.Range(start=types.Position(n, 0), end=types.Position(n, 5))
            lenses += [
                types.CodeLens(range=rng, command=types.Command(title="▶ Compile", command=COMPILE, arguments=[snap.uri])),
                types.CodeLens(range=rng, command=types.Command(title="▶ Run", command=RUN, arguments=[snap.uri])),
            ]
            if folder is not None:
                lenses += _discover_lenses(snap, folder, rng)
            break
    for n, line in enumerate(snap.lines):
        m = _STEP_ID.match(line)
        if m:
            step_id = m["id"].strip("\"'")
            rng = types.Range(start=types.Position(n, len(m["indent"])), end=types.Position(n, m.end()))
            lenses.append(types.CodeLens(range=rng, command=types.Command(
                title="▶ Preview", command=PREVIEW, arguments=[snap.uri, step_id, 100])))
    return lenses


def _discover_lenses(snap: DocumentSnapshot, folder: "FolderContext", rng: types.Range) -> list[types.CodeLens]:
    """One "Discover tables of @family.alias" per connection the steps use (named, or a family's default)."""
    from osiris_runtime.discovery.cache import age_seconds, describe_age

    connections = folder.connections()
    if connections is None:
        return []
    refs: dict[tuple[str, str], None] = {}
    for chunk in _step_chunks(snap.lines):
        named = [(m["family"], m["alias"]) for m in _CONNECTION_REF.finditer(chunk)]
        refs.update(dict.fromkeys(named))
        family = _FAMILY_OF_COMPONENT.search(chunk)
        default = connections.get(family["family"], None) if family and not named else None
        if default is not None:  # a step without `connection:` uses its family's default alias
            refs.setdefault((default.family, default.alias))
    catalogs = folder.catalogs()
    lenses = []
    for family, alias in refs:
        if connections.get(family, alias) is None:
            continue
        label = f"@{family}.{alias}"
        cached = catalogs.get((family, alias))
        title = (f"Discover tables of {label}" if cached is None
                 else f"Refresh tables of {label} (discovered {describe_age(age_seconds(cached))} ago)")
        lenses.append(types.CodeLens(range=rng, command=types.Command(title=title, command=DISCOVER,
                                                                      arguments=[snap.uri, label])))
    return lenses


def _step_chunks(lines: list[str]) -> list[str]:
    starts = [n for n, line in enumerate(lines) if _STEP_ID.match(line)]
    return ["\n".join(lines[a:b]) for a, b in zip(starts, starts[1:] + [len(lines)])]
