"""`osiris mcp`: a Model Context Protocol server on stdio for Claude, Cursor, Copilot and others."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("mcp")
@click.option("--root", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="The project folder (components/, osiris_connections.yaml, relative paths); default: the current one.")
def mcp_command(root: Path | None) -> None:
    """Serve Osiris' tools over MCP on stdin/stdout (setup for common clients: docs/ai.md)."""
    from osiris_runtime.ai.mcp_server import serve_stdio

    serve_stdio((root or Path.cwd()).resolve())
