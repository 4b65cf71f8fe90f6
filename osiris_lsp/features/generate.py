"""`osiris.generate`: a new pipeline file from a description, through the runtime's validated loop.

Arguments: `[request text, folder or file URI (optional)]`. The endpoint settings are the ones
`osiris generate` reads (`OSIRIS_LLM_*` in the server's environment). Only a valid, secret-free
pipeline is written, as `<folder>/<pipeline name>.oml.yaml` (never over an existing file). The
result: `{ok, command, file, uri, attempts, problems, error}`; problems never hold a secret.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

from osiris_lsp.workspace import FolderContext

GENERATE = "osiris.generate"


def generate_document(request: str, folder: FolderContext, target_dir: Path | None,
                      progress: Callable[[str], None]) -> dict[str, Any]:
    from osiris_runtime.ai.session import AssistantSession, attempt_json, save_pipeline
    from osiris_runtime.ai.workspace import AiWorkspace
    from osiris_runtime.errors import OsirisError

    if not request.strip():
        return {"ok": False, "command": "generate", "error": {"code": "ai.empty-request", "message": "describe the pipeline"}}
    root = folder.root or Path.cwd()
    workspace = AiWorkspace(root, folder.registry, folder.connections())
    try:
        session = AssistantSession.open(workspace, os.environ)
        result = session.ask(request, on_attempt=lambda a: progress(
            f"attempt {a.number}: " + ("valid" if a.ok else f"{len(a.problems)} problem(s)")))
    except OsirisError as exc:
        return {"ok": False, "command": "generate", "error": {"code": exc.code, "message": exc.message, "fix": exc.fix}}
    best = result.best
    report: dict[str, Any] = {"ok": best.ok, "command": "generate", "attempts": [attempt_json(a) for a in result.attempts],
                              "problems": [p.__dict__ for p in best.problems] if not best.ok else []}
    if best.ok and best.oml is not None:
        path = save_pipeline(best, _new_file(target_dir or root, best.oml))
        report.update(file=str(path), uri=path.as_uri())
    return session.redactor.redact(report)


def _new_file(directory: Path, oml: str) -> Path:
    match = re.search(r"^name:\s*['\"]?([A-Za-z0-9_.-]+)", oml, re.MULTILINE)
    stem = match.group(1) if match else "pipeline"
    candidate = directory / f"{stem}.oml.yaml"
    n = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{n}.oml.yaml"
        n += 1
    return candidate
