"""Typed server settings, read from `initializationOptions` and `workspace/configuration`.

Clients send camelCase keys (`componentsPath`, `connectionsFile`, `runEngine`, `secretsFile`,
`e2bTemplate`, `e2bTimeout`, `docsBaseUrl`, and `ai: {baseUrl, model, timeout}` for Generate),
either at the top level or under an `osiris` section; unknown keys are ignored and a wrong type
falls back to the default, so a bad setting never stops the server.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Mapping

RunEngine = Literal["local", "e2b"]


@dataclass(frozen=True)
class ServerSettings:
    components_path: tuple[Path, ...] = ()
    connections_file: Path | None = None
    run_engine: RunEngine = "local"
    secrets_file: Path | None = None
    e2b_template: str | None = None  # the e2b engine's sandbox template (None: OSIRIS_E2B_TEMPLATE, else `base`)
    e2b_timeout: float | None = None  # the e2b sandbox lifetime in seconds (None: OSIRIS_E2B_TIMEOUT, else 900)
    # The documentation site diagnostics link to (osiris_runtime.doclinks); None: the repository's docs/.
    docs_base_url: str | None = None
    # Generate's endpoint (osiris.ai.*); None: the server's OSIRIS_LLM_* variables. The key is never a setting.
    ai_base_url: str | None = None
    ai_model: str | None = None
    ai_timeout: float | None = None  # seconds

    def merged(self, options: Any) -> "ServerSettings":
        """These settings overridden by whatever `options` (a client mapping) sets."""
        if not isinstance(options, Mapping):
            return self
        section = options.get("osiris")
        if isinstance(section, Mapping):
            options = {**options, **section}
        out = self
        components = options.get("componentsPath")
        if isinstance(components, str) and components:
            out = replace(out, components_path=(Path(components).expanduser(),))
        elif isinstance(components, list):
            out = replace(out, components_path=tuple(Path(p).expanduser() for p in components if isinstance(p, str) and p))
        for key, attr in (("connectionsFile", "connections_file"), ("secretsFile", "secrets_file")):
            value = options.get(key)
            if isinstance(value, str):
                out = replace(out, **{attr: Path(value).expanduser() if value else None})
        docs_url = options.get("docsBaseUrl")
        if isinstance(docs_url, str):
            out = replace(out, docs_base_url=docs_url or None)
        engine = options.get("runEngine")
        if engine in ("local", "e2b"):
            out = replace(out, run_engine=engine)
        template = options.get("e2bTemplate")
        if isinstance(template, str):
            out = replace(out, e2b_template=template or None)
        timeout = options.get("e2bTimeout")
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            out = replace(out, e2b_timeout=float(timeout) if timeout >= 1 else None)
        ai = options.get("ai")
        if isinstance(ai, Mapping):
            for key, attr in (("baseUrl", "ai_base_url"), ("model", "ai_model")):
                value = ai.get(key)
                if isinstance(value, str):
                    out = replace(out, **{attr: value.strip() or None})
            ai_timeout = ai.get("timeout")
            if isinstance(ai_timeout, (int, float)) and not isinstance(ai_timeout, bool):
                out = replace(out, ai_timeout=float(ai_timeout) if ai_timeout > 0 else None)
        return out

    def resolved(self, folder: Path | None) -> "ServerSettings":
        """Relative paths taken relative to the workspace folder."""
        if folder is None:
            return self

        def absolute(path: Path | None) -> Path | None:
            return path if path is None or path.is_absolute() else folder / path

        return replace(
            self,
            components_path=tuple(p if p.is_absolute() else folder / p for p in self.components_path),
            connections_file=absolute(self.connections_file),
            secrets_file=absolute(self.secrets_file),
        )
