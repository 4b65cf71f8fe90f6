"""Code lens: Compile and Run above the `steps:` key."""

from __future__ import annotations

import re

from lsprotocol import types

from osiris_lsp.features.commands import COMPILE, RUN
from osiris_lsp.workspace import DocumentSnapshot

_STEPS_KEY = re.compile(r"^steps[ \t]*:")


def code_lenses(snap: DocumentSnapshot) -> list[types.CodeLens]:
    for n, line in enumerate(snap.lines):
        if line.startswith("steps") and _STEPS_KEY.match(line):
            rng = types.Range(start=types.Position(n, 0), end=types.Position(n, 5))
            return [
                types.CodeLens(range=rng, command=types.Command(title="▶ Compile", command=COMPILE, arguments=[snap.uri])),
                types.CodeLens(range=rng, command=types.Command(title="▶ Run", command=RUN, arguments=[snap.uri])),
            ]
    return []
