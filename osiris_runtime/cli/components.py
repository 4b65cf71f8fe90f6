"""`osiris components ...`: list, show, validate and document the component specs.

Thin: every decision is made by `osiris_runtime.registry`, `friendly` and `specdocs`. Heavy
imports (rich, jsonschema) happen inside the commands, so `osiris components list` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from osiris_runtime.cli.diagnostic_text import diagnostic_text
from osiris_runtime.errors import Diagnostic, ExitCode, Severity, ValidationFailed
from osiris_runtime.registry import (
    SPEC_FILENAMES,
    ComponentSpec,
    Registry,
    check_examples,
    registry_for_cli,
    load_spec_file,
    spec_schema_validator,
)


def _registry() -> Registry:
    return registry_for_cli()


def _echo_problems(problems: list[Diagnostic]) -> None:
    for problem in problems:
        click.echo(diagnostic_text(problem), err=True)


def _summary(spec: ComponentSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "version": spec.version,
        "title": spec.title,
        "description": spec.description,
        "modes": list(spec.modes),
        "capabilities": sorted(k for k, v in spec.capabilities.items() if v),
        "runnable": spec.runnable,
        "driver": spec.driver,
        "path": str(spec.path),
    }


@click.group("components")
def components() -> None:
    """Inspect the component specs (built-in, workspace components/, OSIRIS_COMPONENTS_PATH)."""


@components.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.option("--mode", default=None, help="Only components that support this mode (extract, write, ...).")
def list_command(as_json: bool, mode: str | None) -> None:
    """List every component with its version, modes and capabilities."""
    registry = _registry()
    specs = [s for s in registry.specs() if mode is None or mode in s.modes]
    _echo_problems(registry.problems())
    if as_json:
        click.echo(json.dumps([_summary(s) for s in specs], indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # One mode / capability per line keeps the table readable in an 80-column terminal.
    table = Table(title="Osiris components", title_justify="left", box=box.SIMPLE_HEAD, show_lines=True)
    for column in ("Component", "Version", "Modes", "Capabilities", "Driver"):
        table.add_column(column, no_wrap=True)
    for spec in specs:
        capabilities = "\n".join(k for k, v in spec.capabilities.items() if v) or "-"
        table.add_row(spec.name, spec.version, "\n".join(spec.modes), capabilities, "yes" if spec.runnable else "no")
    Console(soft_wrap=False).print(table)


@components.command("spec")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="yaml", show_default=True)
def spec_command(name: str, fmt: str) -> None:
    """Print the full spec of one component as JSON or YAML."""
    spec = _registry().require(name)
    data = json.loads(json.dumps(spec.raw, default=str))  # plain data, whatever the loader returned
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # keep the spec's own key order
    yaml.width = 100
    yaml.dump(data, sys.stdout)


def _target_files(target: str | None, registry: Registry) -> list[Path]:
    if target is None:
        return registry.spec_files() + [Path(d.source) for d in registry.problems() if d.is_error and d.source]
    path = Path(target)
    if path.is_dir():
        candidates = [path / f for f in SPEC_FILENAMES if (path / f).is_file()]
        if not candidates:
            raise ValidationFailed(f"no spec file ({', '.join(SPEC_FILENAMES)}) in {path}", code="spec.not-found")
        return candidates[:1]
    if path.is_file():
        return [path]
    return [registry.require(target).path]


@components.command("validate")
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate_command(target: str | None, as_json: bool) -> None:
    """Validate specs (schema, version, configSchema, examples): all, one component, or a spec file/folder.

    Exit 0 when every spec is valid, 2 otherwise.
    """
    registry = _registry()
    validator = spec_schema_validator()
    results: list[tuple[Path, str | None, list[Diagnostic]]] = []
    for path in dict.fromkeys(_target_files(target, registry)):
        loaded = load_spec_file(path, lambda: validator)
        problems = list(loaded.problems)
        if loaded.spec is not None:
            problems += check_examples(loaded.spec)
        results.append((path, loaded.spec.name if loaded.spec else None, problems))
    failed = any(p.is_error for _, _, problems in results for p in problems)
    if as_json:
        click.echo(json.dumps([{"file": str(path), "component": name, "valid": not any(p.is_error for p in problems),
                                "problems": [p.to_json() for p in problems]} for path, name, problems in results], indent=2))
    else:
        for path, name, problems in results:
            errors = [p for p in problems if p.is_error]
            label = name or str(path)
            click.echo(f"{'invalid' if errors else 'valid'}: {label} ({path})")
            for problem in problems:
                click.echo("  " + diagnostic_text(problem).replace("\n", "\n  "))
    if failed:
        sys.exit(int(ExitCode.VALIDATION))


@components.command("docs")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/components"),
              show_default=True, help="Folder of the generated Markdown pages.")
@click.option("--check", is_flag=True, help="Write nothing; exit 2 when a page is missing or stale.")
def docs_command(out_dir: Path, check: bool) -> None:
    """Generate docs/components/<name>.md for every component from its spec."""
    from osiris_runtime.specdocs import render_docs, stale_pages, write_docs

    registry = _registry()
    _echo_problems([p for p in registry.problems() if p.severity is Severity.ERROR])
    pages = render_docs(registry.specs())
    if check:
        stale = stale_pages(pages, out_dir)
        if stale:
            raise ValidationFailed(f"stale component docs in {out_dir}: {', '.join(stale)}", code="spec.stale-docs",
                                   fix="run `osiris components docs` and commit the result")
        click.echo(f"component docs in {out_dir} are up to date ({len(pages)} pages)")
        return
    touched = write_docs(pages, out_dir)
    click.echo(f"wrote {len(touched)} of {len(pages)} pages to {out_dir}" + (f": {', '.join(touched)}" if touched else ""))
