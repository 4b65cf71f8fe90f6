"""The system prompt: a short template that carries the context, shipped in the package.

A user may replace it with their own file (`--system-prompt FILE` or `$OSIRIS_SYSTEM_PROMPT`);
`{{context}}` in the file marks where the context goes, and is appended when missing.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Mapping

from osiris_runtime.errors import ConfigError

CONTEXT_PLACEHOLDER = "{{context}}"
SYSTEM_PROMPT_ENV = "OSIRIS_SYSTEM_PROMPT"


def default_template() -> str:
    return resources.files("osiris_runtime.ai").joinpath("system_prompt.md").read_text(encoding="utf-8")


def load_template(path: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """The template from `path`, else `$OSIRIS_SYSTEM_PROMPT`, else the packaged one (ConfigError if unreadable)."""
    chosen = path if path is not None else (Path(env[SYSTEM_PROMPT_ENV]) if env and env.get(SYSTEM_PROMPT_ENV) else None)
    if chosen is None:
        return default_template()
    try:
        return chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the system prompt template {chosen}: {exc.strerror or exc}",
                          code="ai.prompt-unreadable", fix=f"check the path, or unset {SYSTEM_PROMPT_ENV}") from None


def render_system_prompt(context_text: str, template: str | None = None) -> str:
    """The template with the context in place of `{{context}}` (appended when the template has none)."""
    template = default_template() if template is None else template
    if CONTEXT_PLACEHOLDER in template:
        return template.replace(CONTEXT_PLACEHOLDER, context_text)
    return template.rstrip("\n") + "\n\n" + context_text + "\n"
