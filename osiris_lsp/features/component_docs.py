"""`osiris.componentDoc`: the documentation page of the component under the cursor, as Markdown.

The page is the one `osiris components docs` writes (`specdocs.render_spec_doc`), so the editor
shows what docs/components/<name>.md says, for the registry the document actually uses
(workspace components included).
"""

from __future__ import annotations

from typing import Any

from osiris_lsp.capabilities import COMPONENT_DOC  # noqa: F401 - the command's name, used as component_docs.COMPONENT_DOC
from osiris_lsp.workspace import DocumentSnapshot, FolderContext
from osiris_runtime.errors import Position


def component_at(snap: DocumentSnapshot, pos: Position) -> str | None:
    """The component of the step the cursor is in (None outside steps)."""
    for step in snap.document().steps():
        if step.component and step.range.contains(pos):
            return step.component
    return None


def component_doc(snap: DocumentSnapshot, folder: FolderContext, pos: Position | None,
                  name: str | None = None) -> dict[str, Any]:
    """{component, markdown} of `name`, else of the component under `pos`; {error} when there is none."""
    from osiris_runtime.specdocs import render_spec_doc

    name = name or (component_at(snap, pos) if pos is not None else None)
    if name is None:
        return {"error": "the cursor is not in a step with a `component`"}
    spec = folder.registry.get(name)
    if spec is None:
        return {"component": name, "error": f"unknown component `{name}`"}
    return {"component": name, "markdown": render_spec_doc(spec)}
