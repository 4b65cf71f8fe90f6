"""`osiris oml validate` and `osiris oml schema`: thin wrappers over `osiris_runtime.oml`."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from osiris_runtime.cli.diagnostic_text import diagnostic_text
from osiris_runtime.errors import Diagnostic, ExitCode, Range, Severity


@click.group()
def oml() -> None:
    """Work with OML pipeline files."""


def _read_text(path: Path) -> tuple[str | None, list[Diagnostic]]:
    from osiris_runtime.bounded_read import FileTooLarge, read_limited

    try:
        raw = read_limited(path)
    except FileTooLarge as exc:
        return None, [Diagnostic("yaml.too-large", f"{path}: {exc.strerror}", Range(),
                                 fix="split the pipeline into smaller files", source=str(path))]
    except OSError as exc:
        return None, [Diagnostic("oml.unreadable", f"cannot read {path}: {exc.strerror or exc}", Range(),
                                 fix="check the path", source=str(path))]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        return raw.decode("utf-8", errors="replace"), [
            Diagnostic("yaml.encoding", f"the file is not valid UTF-8 (byte {exc.start}); bad bytes were replaced",
                       Range(), Severity.ERROR, fix="save the file as UTF-8", source=str(path))
        ]


def _summary(diagnostics: list[Diagnostic]) -> tuple[int, int]:
    """Errors and warnings found, counting those the cap did not show (`oml.too-many-problems`)."""
    shown = [d for d in diagnostics if d.code != "oml.too-many-problems"]
    hidden = [d.data for d in diagnostics if d.code == "oml.too-many-problems"]
    errors = sum(1 for d in shown if d.severity is Severity.ERROR) + sum(h.get("errors_not_shown", 0) for h in hidden)
    warnings = sum(1 for d in shown if d.severity is Severity.WARNING) + sum(h.get("warnings_not_shown", 0) for h in hidden)
    return errors, warnings


def _strict(diagnostics: list[Diagnostic], strict: bool) -> list[Diagnostic]:
    if not strict:
        return diagnostics
    return [replace(d, severity=Severity.ERROR) if d.severity is Severity.WARNING else d for d in diagnostics]


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
    from osiris_runtime.oml.connections import (
        find_connections_file,
        load_connections,
        unset_variables,
        validate_connections,
    )
    from osiris_runtime.oml.document import parse_oml
    from osiris_runtime.oml.rules import validate
    from osiris_runtime.registry import registry_for_cli

    registry = registry_for_cli()
    env = dict(os.environ)
    if secrets_file is not None:
        from osiris_runtime.secrets import SecretSources

        lookup = SecretSources(secrets_file, env).lookup()  # a bad secrets file: ConfigError, exit 5 by main
    else:  # what SecretSources gives without a file, without importing the run-time secrets module
        lookup = env.get
    loaded: dict[Path, Any] = {}
    reports: list[dict[str, Any]] = []
    connection_reports: list[dict[str, Any]] = []
    all_diagnostics: list[Diagnostic] = []
    for path in files:
        text, read_problems = _read_text(path)
        found = find_connections_file(path, env, connections_path)
        conns = None
        if found is not None:
            key = found.resolve() if found.exists() else found
            if key not in loaded:
                loaded[key] = load_connections(found)
                conn_diags = _strict(list(loaded[key].diagnostics) + validate_connections(loaded[key], registry), strict)
                connection_reports.append({"file": str(found), "diagnostics": conn_diags})
                all_diagnostics += conn_diags
            conns = loaded[key]
        diagnostics = _strict(read_problems, strict)
        doc = None
        if text is not None:
            doc = parse_oml(text, source=str(path))
            discovery = None
            if with_discovery:
                from osiris_runtime.discovery.cache import workspace_catalogs

                discovery = workspace_catalogs(conns, registry, path.parent)
            diagnostics += validate(doc, registry, connections=conns, strict=strict, discovery=discovery)
            if conns is not None:
                unset = unset_variables(doc, registry, conns, lookup)
                diagnostics += _strict([replace(d, source=doc.source) for d in unset], strict)
        all_diagnostics += diagnostics
        reports.append({"file": str(path), "doc": doc, "diagnostics": diagnostics,
                        "connections": str(found) if found is not None else None})
    errors, warnings = _summary(all_diagnostics)
    if as_json:
        click.echo(json.dumps(_json_report(reports, connection_reports, strict, errors, warnings), indent=2, default=str))
    else:
        for report in connection_reports:
            for diag in report["diagnostics"]:
                click.echo(diagnostic_text(diag))
        for report in reports:
            for diag in report["diagnostics"]:
                click.echo(diagnostic_text(diag))
        if errors or warnings:
            click.echo(f"{errors} error(s), {warnings} warning(s) in {len(files)} file(s)", err=True)
        else:
            click.echo(f"{len(files)} file(s) valid", err=True)
    ctx.exit(int(ExitCode.VALIDATION) if errors else int(ExitCode.OK))


def _json_report(reports: list[dict[str, Any]], connection_reports: list[dict[str, Any]], strict: bool,
                 errors: int, warnings: int) -> dict[str, Any]:
    files = []
    for report in reports:
        doc = report["doc"]
        data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
        file_errors, file_warnings = _summary(report["diagnostics"])
        files.append({
            "file": report["file"],
            "valid": file_errors == 0,
            "errors": file_errors,
            "warnings": file_warnings,
            "oml_version": data.get("oml_version") if isinstance(data.get("oml_version"), str) else None,
            "name": data.get("name") if isinstance(data.get("name"), str) else None,
            "steps_count": len(doc.steps()) if doc is not None else 0,
            "connections_file": report["connections"],
            "diagnostics": [d.to_json() for d in report["diagnostics"]],
        })
    return {
        "valid": errors == 0,
        "strict": strict,
        "summary": {"files": len(reports), "errors": errors, "warnings": warnings},
        "files": files,
        "connections": [{"file": r["file"], "diagnostics": [d.to_json() for d in r["diagnostics"]]} for r in connection_reports],
    }


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
