"""`osiris oml validate` and `osiris oml schema`: thin wrappers over `osiris_runtime.oml`.

Validate's work is in cli/validate_files.py (the click-free fast path calls it too)."""

from __future__ import annotations

from pathlib import Path

import click

from osiris_runtime.errors import ExitCode


@click.group()
def oml() -> None:
    """Work with OML pipeline files."""


@oml.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (shape: docs/oml-validate-json.md).")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--connections", "connections_path", type=click.Path(path_type=Path, dir_okay=False),
              help="The connections file (default: $OSIRIS_CONNECTIONS, else osiris_connections.yaml found upwards).")
@click.option("--discovery", "with_discovery", is_flag=True,
              help="Also check tables, columns and SQL against the `osiris discover` caches (never connects).")
@click.option("--secrets-file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Secrets file (dotenv or YAML) the connections' ${VAR}s come from, besides the environment.")
@click.pass_context
def validate_command(ctx: click.Context, files: tuple[Path, ...], as_json: bool, strict: bool,
                     connections_path: Path | None, with_discovery: bool = False,
                     secrets_file: Path | None = None) -> None:
    """Validate OML files: print `file:line:col: severity code: message` and a fix for each problem.

    Also warns about `${VAR}`s of the used connections that neither the environment nor the
    secrets file sets (names only, never values). Exit 0 when there are no errors (warnings
    allowed unless --strict), 2 otherwise.
    """
    from osiris_runtime.cli.validate_files import validate_files

    ctx.exit(validate_files(files, as_json, strict, connections_path, with_discovery, secrets_file))


@oml.command("schema")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the schema to this file instead of standard output.")
@click.option("--check", "check_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Exit 2 if this committed schema file differs from the generated one.")
@click.pass_context
def schema_command(ctx: click.Context, output: Path | None, check_path: Path | None) -> None:
    """Print the OML v0.1.0 JSON Schema (2020-12) generated from the component registry."""
    from osiris_runtime.oml.schema import oml_json_schema, schema_text
    from osiris_runtime.registry import Registry, default_search_paths

    text = schema_text(oml_json_schema(Registry(default_search_paths())))
    if check_path is not None:
        current = check_path.read_text(encoding="utf-8") if check_path.exists() else ""
        if current != text:
            click.echo(f"{check_path} is stale: regenerate it with `osiris oml schema -o {check_path}`", err=True)
            ctx.exit(int(ExitCode.VALIDATION))
        click.echo(f"{check_path} is up to date", err=True)
        return
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
