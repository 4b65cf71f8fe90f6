"""One assistant session: context + system prompt + endpoint + loop, as `generate`, `chat` and the editor use it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from osiris_runtime.ai.context import cached_context, default_context_cache_dir
from osiris_runtime.ai.llm import ChatModel, Conversation, LlmEndpoint, LlmSettings
from osiris_runtime.ai.loop import DEFAULT_ATTEMPTS, Attempt, GenerationLoop, GenerationResult
from osiris_runtime.ai.prompt import load_template, render_system_prompt
from osiris_runtime.ai.workspace import AiWorkspace
from osiris_runtime.atomic_files import write_atomically
from osiris_runtime.errors import ValidationFailed
from osiris_runtime.secrets import Redactor


@dataclass
class AssistantSession:
    workspace: AiWorkspace
    conversation: Conversation
    redactor: Redactor        # knows the API key and every secret the model wrote
    settings: LlmSettings
    attempts: int = DEFAULT_ATTEMPTS
    cancel: threading.Event | None = None

    @classmethod
    def open(cls, workspace: AiWorkspace, env: Mapping[str, str], *, attempts: int = DEFAULT_ATTEMPTS,
             template_path: Path | None = None, stream: bool = True,
             on_delta: Callable[[str], None] | None = None, endpoint: LlmEndpoint | None = None,
             cancel: threading.Event | None = None) -> "AssistantSession":
        """Settings first: `endpoint`'s values, else `env`'s variables (ConfigError, exit 5, when the
        endpoint is not configured). `cancel` stops `ask` at the next attempt or in the request."""
        chosen = endpoint or LlmEndpoint()
        settings = LlmSettings.from_env(env, base_url=chosen.base_url, model=chosen.model, timeout_s=chosen.timeout_s)
        catalogs = workspace.catalogs()
        discovery = None
        if catalogs:  # `osiris discover` ran here: the model sees real tables and columns
            from osiris_runtime.ai.context import count_tokens
            from osiris_runtime.discovery.context import discovery_section

            discovery = discovery_section(catalogs.values(), count_tokens=count_tokens)
        context = cached_context(workspace.registry, workspace.connections, default_context_cache_dir(env), discovery)
        system_prompt = render_system_prompt(context.text, load_template(template_path, env))
        model = ChatModel(settings, stream=stream, on_delta=on_delta, cancel=cancel)
        return cls(workspace, Conversation(model.complete, system_prompt), model.redactor, settings, attempts, cancel)

    def ask(self, request: str, on_attempt: Callable[[Attempt], None] | None = None,
            on_ask: Callable[[int], None] | None = None) -> GenerationResult:
        """One request through the loop; the final answer becomes part of the conversation
        (a cancelled request does not)."""
        loop = GenerationLoop(self.workspace.registry, self.workspace.connections, self.attempts,
                              on_attempt=on_attempt, redactor=self.redactor,
                              discovery=self.workspace.catalogs() or None, cancel=self.cancel, on_ask=on_ask)
        result = loop.run(request, self.conversation.generator())
        if not result.cancelled:
            self.conversation.remember(request, result.best.oml)
        return result


def save_pipeline(attempt: Attempt, path: Path) -> Path:
    """Write an accepted attempt (atomically); anything else is refused with ValidationFailed."""
    if not attempt.ok or attempt.oml is None:
        reason = "it holds a secret" if attempt.holds_secret else f"it has {len(attempt.errors)} error(s)"
        raise ValidationFailed(f"not writing {path}: {reason}", code="ai.invalid-pipeline",
                               diagnostics=[d for d in attempt.errors], fix="ask again, or fix the problems above")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, attempt.oml)
    return path


def attempt_json(attempt: Attempt) -> dict[str, object]:
    return {
        "number": attempt.number, "ok": attempt.ok, "errors": len(attempt.errors), "warnings": len(attempt.warnings),
        "holds_secret": attempt.holds_secret, "model_ms": round(attempt.model_ms, 1),
        "validation_ms": round(attempt.validation_ms, 2),
        "problems": [p.__dict__ for p in attempt.problems],
    }


