"""`osiris.generate`: a new pipeline file from a description, through the runtime's validated loop.

Arguments: `[request text, folder or file URI (optional)]`. The endpoint: the `osiris.ai.baseUrl`,
`osiris.ai.model` and `osiris.ai.timeout` settings, else the `OSIRIS_LLM_*` variables of the
server's environment; the API key only ever from `OSIRIS_LLM_API_KEY` (VS Code passes its stored
key that way). Each attempt is reported as progress ("attempt 2: 3 problem(s), asking again");
the cancel flag stops the loop between attempts and closes the request in flight. Only a valid,
secret-free pipeline is written, as `<folder>/<pipeline name>.oml.yaml` (never over an existing
file), and never after a cancel. The result: `{ok, command, file, uri, attempts, problems, error,
cancelled}`; problems never hold a secret; a `llm.not-configured` error names what is `missing`
(`baseUrl`, `model`, `apiKey`) so that the editor can offer the fix.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from osiris_lsp.capabilities import GENERATE  # noqa: F401 - the command's name, used as generate.GENERATE
from osiris_lsp.features.commands import Reporter
from osiris_lsp.workspace import FolderContext

if TYPE_CHECKING:
    from osiris_runtime.ai.loop import Attempt

TITLE = "Osiris: generating a pipeline"
# A streamed answer's progress ("receiving the answer, 1,200 characters") at most this often.
DELTA_REPORT_S = 0.5
# What the editor calls each endpoint setting, by the variable it stands in for.
EDITOR_NAMES = {"OSIRIS_LLM_BASE_URL": "baseUrl", "OSIRIS_LLM_MODEL": "model", "OSIRIS_LLM_API_KEY": "apiKey"}


class AttemptProgress:
    """Progress lines of one generation: which attempt, waiting or receiving, and its verdict."""

    def __init__(self, reporter: Reporter, attempts: int, model: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.reporter = reporter
        self.attempts = attempts
        self.model = model
        self.clock = clock
        self.number = 0
        self.received = 0
        self.reported_at = 0.0

    def asking(self, number: int) -> None:
        self.number, self.received = number, 0
        self.reported_at = self.clock()
        self.reporter.progress(f"attempt {number} of {self.attempts}: asking {self.model}", None)

    def delta(self, text: str) -> None:
        self.received += len(text)
        now = self.clock()
        if now - self.reported_at >= DELTA_REPORT_S:
            self.reported_at = now
            self.reporter.progress(f"attempt {self.number} of {self.attempts}: receiving the answer ({self.received:,} characters)", None)

    def judged(self, attempt: "Attempt") -> None:
        if attempt.ok:
            verdict = "valid"
        else:
            verdict = f"{len(attempt.problems) or len(attempt.errors)} problem(s)"
            if attempt.number < self.attempts:
                verdict += ", asking again"
        message = f"attempt {attempt.number}: {verdict}"
        self.reporter.progress(message, None)
        self.reporter.log(f"generate: {message}")


def generate_document(request: str, folder: FolderContext, target_dir: Path | None, reporter: Reporter,
                      env: Mapping[str, str]) -> dict[str, Any]:
    """Run the loop for `request` in `folder`; `env`: the server's environment (the key's only source)."""
    from osiris_runtime.ai.llm import EndpointNotConfigured, LlmEndpoint
    from osiris_runtime.ai.session import AssistantSession, attempt_json, save_pipeline
    from osiris_runtime.ai.workspace import AiWorkspace
    from osiris_runtime.errors import OsirisError

    if not request.strip():
        return {"ok": False, "command": "generate", "error": {"code": "ai.empty-request", "message": "describe the pipeline"}}
    settings = folder.settings
    endpoint = LlmEndpoint(settings.ai_base_url, settings.ai_model, settings.ai_timeout)
    root = folder.root or Path.cwd()
    workspace = AiWorkspace(root, folder.registry, folder.connections())
    progress: AttemptProgress | None = None
    try:
        session = AssistantSession.open(workspace, env, endpoint=endpoint, cancel=reporter.cancelled,
                                        on_delta=lambda text: progress.delta(text) if progress else None)
        progress = AttemptProgress(reporter, session.attempts, session.settings.model)
        result = session.ask(request, on_attempt=progress.judged, on_ask=progress.asking)
    except EndpointNotConfigured as exc:
        return {"ok": False, "command": "generate", "error": _not_configured(exc.missing)}
    except OsirisError as exc:
        return {"ok": False, "command": "generate", "error": {"code": exc.code, "message": exc.message, "fix": exc.fix}}
    attempts = [attempt_json(a) for a in result.attempts]
    if result.cancelled or reporter.cancelled.is_set():
        reporter.log("generate: cancelled" + (f" after {len(attempts)} attempt(s)" if attempts else ""))
        return session.redactor.redact({"ok": False, "command": "generate", "cancelled": True, "attempts": attempts})
    best = result.best
    report: dict[str, Any] = {"ok": best.ok, "command": "generate", "attempts": attempts,
                              "problems": [p.__dict__ for p in best.problems] if not best.ok else []}
    if best.ok and best.oml is not None:
        path = save_pipeline(best, _new_file(target_dir or root, best.oml))
        report.update(file=str(path), uri=path.as_uri())
    return session.redactor.redact(report)


def _not_configured(missing: tuple[str, ...]) -> dict[str, Any]:
    """`llm.not-configured` in the editor's terms: its settings and its key command, not the variables."""
    names = [EDITOR_NAMES.get(m, m) for m in missing]
    parts = [("no API key (Osiris: Set AI API key, or OSIRIS_LLM_API_KEY)" if n == "apiKey" else
              f"osiris.ai.{n} is not set (or {m})") for n, m in zip(names, missing)]
    fixes = (["run Osiris: Set AI API key"] if "apiKey" in names else []) + [
        f"set osiris.ai.{n}" for n in names if n != "apiKey"]
    return {"code": "llm.not-configured", "message": "the AI endpoint is not configured: " + "; ".join(parts),
            "fix": ", ".join(fixes) + " (any OpenAI-compatible endpoint)", "missing": names}


def _new_file(directory: Path, oml: str) -> Path:
    match = re.search(r"^name:\s*['\"]?([A-Za-z0-9_.-]+)", oml, re.MULTILINE)
    stem = match.group(1) if match else "pipeline"
    candidate = directory / f"{stem}.oml.yaml"
    n = 2
    while candidate.exists():
        candidate = directory / f"{stem}-{n}.oml.yaml"
        n += 1
    return candidate
