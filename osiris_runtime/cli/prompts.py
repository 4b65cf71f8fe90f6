"""`osiris prompts build-context`: the LLM context of this workspace, written once per fingerprint."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from osiris_runtime.errors import ExitCode


@click.group()
def prompts() -> None:
    """Prompts and context for LLMs that write OML."""


@prompts.command("build-context")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the context (default: .osiris_prompts/context.json).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the file is missing or stale.")
@click.option("--force", is_flag=True, help="Rewrite the file even when it is up to date.")
@click.option("--connections", "connections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The connections file whose aliases go in the context (default: found upwards).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: path, fingerprint, sizes, the context.")
@click.option("--with-discovery", is_flag=True,
              help="Add the tables and columns of the `osiris discover` caches (largest tables first).")
@click.option("--budget", type=click.IntRange(100, 1_000_000), default=4_000, show_default=True,
              help="Tokens the discovered tables may take (with --with-discovery; trimmed deterministically).")
@click.pass_context
def build_context_command(ctx: click.Context, out_path: Path | None, check: bool, force: bool,
                          connections_path: Path | None, as_json: bool, with_discovery: bool = False,
                          budget: int = 4_000) -> None:
    """Build the minimal, deterministic component context an LLM needs to write valid OML.

    The file is rebuilt only when a spec or a connection alias changed (its fingerprint differs);
    sizes are printed in bytes and in o200k_base tokens (counted offline).
    """
    from osiris_runtime.ai.context import (
        DEFAULT_CONTEXT_PATH,
        TOKENIZER_ENCODING,
        build_context,
        count_tokens,
        read_context_file,
        write_context_file,
    )
    from osiris_runtime.ai.workspace import AiWorkspace

    path = out_path or DEFAULT_CONTEXT_PATH
    workspace = AiWorkspace.open(Path.cwd(), os.environ, connections_path)
    discovery = workspace_discovery_section(workspace, budget) if with_discovery else None
    context = build_context(workspace.registry, workspace.connections, discovery)
    on_disk = read_context_file(path)
    fresh = on_disk is not None and on_disk.fingerprint == context.fingerprint
    written = False
    if not check and (force or not fresh):
        write_context_file(context, path)
        written = True
    tokens = count_tokens(context.text)
    components = len(context.data["components"])
    tables = sum(len(b["tables"]) + len(b["more_tables"]) for b in (discovery or {}).get("connections", {}).values())
    if as_json:
        click.echo(json.dumps({
            "path": str(path), "fingerprint": context.fingerprint, "fresh": fresh, "written": written,
            "bytes": context.size_bytes, "tokens": tokens, "tokenizer": TOKENIZER_ENCODING,
            "components": components, "context": context.data,
        }, ensure_ascii=False, sort_keys=True))
    elif check:
        state = "up to date" if fresh else ("missing" if on_disk is None else "stale (specs or connections changed)")
        click.echo(f"{path}: {state}", err=True)
    else:
        verb = "wrote" if written else "up to date:"
        shown = f", {tables} discovered tables" if with_discovery else ""
        click.echo(f"{verb} {path}: {components} components{shown}, {context.size_bytes:,} bytes, "
                   f"{tokens:,} tokens ({TOKENIZER_ENCODING})", err=True)
    if check and not fresh:
        ctx.exit(1)
    ctx.exit(int(ExitCode.OK))


def workspace_discovery_section(workspace: Any, budget: int) -> dict[str, Any]:
    """The discovered tables of the workspace's aliases (usable caches only), within `budget` tokens."""
    from osiris_runtime.ai.context import count_tokens
    from osiris_runtime.discovery.context import discovery_section

    return discovery_section(workspace.catalogs().values(), budget, count_tokens)
