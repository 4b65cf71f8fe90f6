"""`osiris mcp`: Osiris as tools for AI assistants, over the Model Context Protocol (stdio).

Built on the official `mcp` SDK (2.x: `MCPServer`, formerly `FastMCP`). Every tool calls the
same registry, validator and compiler as the CLI; `run_pipeline` starts `osiris-run` in a child
process (a crashing driver cannot take the server down, and nothing it prints can reach the
protocol on stdout). Results pass through the one redactor; diagnostics are shaped like the
language server's (code, message, severity, 1-based line and column, fix).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from osiris_runtime.errors import Diagnostic
from osiris_runtime.secrets import Redactor

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from osiris_runtime.oml.connections import ConnectionsFile
    from osiris_runtime.registry import Registry

SERVER_NAME = "osiris"
RUN_TIMEOUT_S = 3600
COMPONENT_URI = "osiris://components/{name}"
INSTRUCTIONS = (
    "Osiris validates, compiles and runs OML data pipelines. Call get_context before writing OML, "
    "validate_pipeline after, and fix every error it reports (code, line, column, fix) before compile_pipeline "
    "or run_pipeline. Never put secrets in a pipeline: steps name a connection alias (\"@family.alias\")."
)


def diagnostic_json(diag: Diagnostic) -> dict[str, Any]:
    """A diagnostic as the language server reports it, with 1-based line and column."""
    out: dict[str, Any] = {
        "code": diag.code, "message": diag.message, "severity": diag.severity.label,
        "line": diag.range.start.line + 1, "column": diag.range.start.column + 1,
        "end_line": diag.range.end.line + 1, "end_column": diag.range.end.column + 1, "source": "osiris",
    }
    if diag.fix:
        out["fix"] = diag.fix
    if diag.data:
        out["data"] = dict(diag.data)
    return out


@dataclass
class OsirisTools:
    """The tools as plain methods (the MCP wiring below only registers them): a folder, its registry."""

    root: Path
    registry: "Registry"
    env: Mapping[str, str]

    def connections(self, path: str | None = None) -> "ConnectionsFile | None":
        from osiris_runtime.oml.connections import find_connections_file, load_connections

        found = find_connections_file(self.resolve(path) if path else self.root, self.env)
        return load_connections(found) if found is not None else None

    def resolve(self, path: str) -> Path:
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.root / candidate

    def list_components(self, mode: str | None = None) -> list[dict[str, Any]]:
        from osiris_runtime.oml.document import MODE_TO_COMPONENT_MODE

        wanted = MODE_TO_COMPONENT_MODE.get(mode, mode) if mode else None
        out = []
        for spec in self.registry.specs():
            if wanted and wanted not in spec.modes:
                continue
            out.append({"name": spec.name, "version": spec.version, "title": spec.title,
                        "description": spec.description, "modes": list(spec.modes), "runnable": spec.runnable})
        return out

    def get_component(self, name: str) -> dict[str, Any]:
        from osiris_runtime.canonical import normalize

        spec = self.registry.require(name)  # UnknownComponent carries did-you-mean
        return {"name": spec.name, "version": spec.version, "spec": normalize(spec.raw)}

    def get_context(self) -> dict[str, Any]:
        from osiris_runtime.ai.context import TOKENIZER_ENCODING, build_context, count_tokens

        context = build_context(self.registry, self.connections())
        return {"fingerprint": context.fingerprint, "bytes": context.size_bytes,
                "tokens": count_tokens(context.text), "tokenizer": TOKENIZER_ENCODING, "context": context.data}

    def validate_pipeline(self, oml: str, path: str | None = None) -> dict[str, Any]:
        from osiris_runtime.ai.loop import check_oml

        _, diagnostics = check_oml(oml, self.registry, self.connections(path), source=path)
        errors = sum(1 for d in diagnostics if d.is_error)
        return {"valid": errors == 0, "errors": errors, "warnings": sum(1 for d in diagnostics if not d.is_error),
                "diagnostics": [diagnostic_json(d) for d in diagnostics]}

    def compile_pipeline(self, oml: str, path: str | None = None, params: dict[str, str] | None = None,
                         profile: str | None = None) -> dict[str, Any]:
        from osiris_runtime.compiler import compile_pipeline

        result = compile_pipeline(oml, self.registry, params=params or {}, env=dict(self.env), profile=profile,
                                  connections=self.connections(path), source=path)
        out: dict[str, Any] = {"ok": result.pipeline is not None, "exit_code": int(result.exit_code),
                               "diagnostics": [diagnostic_json(d) for d in result.diagnostics]}
        if result.pipeline is not None:
            out["manifest"] = dict(result.pipeline.manifest)
            out["cfgs"] = {k: dict(v) for k, v in result.pipeline.cfgs.items()}
        return out

    def run_pipeline(self, oml: str | None = None, path: str | None = None, params: dict[str, str] | None = None,
                     secrets_file: str | None = None) -> dict[str, Any]:
        """Run with the local engine in a child `osiris-run`; the JSON summary, redacted."""
        from osiris_runtime.runner.child import last_json_object, osiris_run_command

        if (oml is None) == (path is None):
            raise ValueError("pass either `oml` (the pipeline text) or `path` (a pipeline file), not both")
        with tempfile.TemporaryDirectory(prefix="osiris-mcp-") as scratch:
            if oml is not None:
                target = Path(scratch) / "pipeline.yaml"
                target.write_text(oml, encoding="utf-8")
            else:
                target = self.resolve(path or "")
                if not target.is_file():
                    raise ValueError(f"no pipeline file at {path}")
            argv = [*osiris_run_command(), str(target), "--json", "--engine", "local", "--work-dir", str(self.root)]
            connections = self.connections(path)
            if connections is not None and connections.path is not None:
                argv += ["--connections", str(connections.path)]
            if secrets_file:
                argv += ["--secrets-file", str(self.resolve(secrets_file))]
            for name, value in (params or {}).items():
                argv += ["--param", f"{name}={value}"]
            proc = subprocess.run(argv, cwd=self.root, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                                  env={**self.env, "NO_COLOR": "1"}, stdin=subprocess.DEVNULL)
        summary = last_json_object(proc.stdout)
        redactor = Redactor(secret_values=_secret_values(self.resolve(secrets_file)) if secrets_file else ())
        log_tail = [line for line in proc.stderr.splitlines() if line.strip()][-20:]
        return redactor.redact({"ok": proc.returncode == 0, "exit_code": proc.returncode, "summary": summary,
                                "log": log_tail})


def _secret_values(path: Path) -> list[str]:
    """The values of a secrets file, so that a run's result can never repeat one."""
    from osiris_runtime.errors import OsirisError
    from osiris_runtime.secrets import read_secrets_file

    try:
        return list(read_secrets_file(path).values())
    except OsirisError:
        return []


def build_server(tools: OsirisTools) -> "MCPServer":
    """The MCP server: six tools and the component specs as resources."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from osiris_runtime.errors import OsirisError

    # WARNING: the SDK logs every call at INFO on stderr, which clients show as noise.
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version=_version(), log_level="WARNING")

    def guarded(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OsirisError as exc:
            raise ToolError(exc.message + (f" ({exc.fix})" if exc.fix else "")) from None
        except (ValueError, OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError(str(exc)) from None

    @server.tool(description="The components pipelines can use (name, version, modes, runnable); "
                             "optionally only those of one mode (read, write, transform).")
    def list_components(mode: str | None = None) -> dict[str, Any]:
        return {"components": guarded(tools.list_components, mode)}

    @server.tool(description="One component's full spec: config schema, secrets, examples.")
    def get_component(name: str) -> dict[str, Any]:
        return guarded(tools.get_component, name)

    @server.tool(description="The minimal context for writing valid OML: skeleton, modes, connection aliases, "
                             "and per component the required fields, enums, defaults and examples.")
    def get_context() -> dict[str, Any]:
        return guarded(tools.get_context)

    @server.tool(description="Validate OML text. Returns diagnostics (code, message, severity, 1-based line and "
                             "column, fix). `path` (optional) places the pipeline, for its connections file.")
    def validate_pipeline(oml: str, path: str | None = None) -> dict[str, Any]:
        return guarded(tools.validate_pipeline, oml, path)

    @server.tool(description="Compile OML into its deterministic manifest and per-step configs (nothing is "
                             "written). Returns ok, exit_code, diagnostics, manifest, cfgs.")
    def compile_pipeline(oml: str, path: str | None = None, params: dict[str, str] | None = None,
                         profile: str | None = None) -> dict[str, Any]:
        return guarded(tools.compile_pipeline, oml, path, params, profile)

    @server.tool(description="Run a pipeline with the local engine (OML text or a file path); returns the run "
                             "summary (status, rows per step, run directory). Secrets never appear in the result.")
    def run_pipeline(oml: str | None = None, path: str | None = None, params: dict[str, str] | None = None,
                     secrets_file: str | None = None) -> dict[str, Any]:
        return guarded(tools.run_pipeline, oml, path, params, secrets_file)

    @server.resource(COMPONENT_URI, name="component-spec", mime_type="application/json",
                     description="A component spec by name.")
    def component_spec(name: str) -> str:
        return json.dumps(guarded(tools.get_component, name)["spec"], sort_keys=True)

    for spec in tools.registry.specs():
        server.add_resource(_static_spec_resource(tools, spec.name))
    return server


def _static_spec_resource(tools: OsirisTools, name: str) -> Any:
    from mcp.server.mcpserver.resources import FunctionResource

    return FunctionResource(uri=COMPONENT_URI.format(name=name), name=name, mime_type="application/json",
                            description=f"The spec of {name}",
                            fn=lambda: json.dumps(tools.get_component(name)["spec"], sort_keys=True))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("osiris-oml")
    except PackageNotFoundError:
        return "0"


def serve_stdio(root: Path, env: Mapping[str, str] | None = None) -> None:
    """Serve on stdin/stdout until the client closes the stream."""
    from osiris_runtime.registry import Registry, default_cache_dir, default_search_paths

    env = dict(os.environ if env is None else env)
    registry = Registry(default_search_paths(root, env), cache_dir=default_cache_dir(env))
    build_server(OsirisTools(root, registry, env)).run("stdio")
