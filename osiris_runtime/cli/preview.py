"""`osiris preview PIPELINE --step ID [--limit 100] [--json]`: the first rows a step produces.

Compiles the pipeline as `osiris run` does, runs only the steps the chosen one depends on, with
the limit pushed down to the extractors, and never runs a writer (see `osiris_runtime.preview`).
Prints a table with each column's type, or one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from osiris_runtime.cli.compile import parse_param_options


@click.command("preview")
@click.argument("pipeline", type=click.Path(exists=True, path_type=Path))
@click.option("--step", "step_id", required=True, help="The step whose rows to show.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="Rows to read and show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: columns (with types) and rows.")
@click.option("--connections", "connections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="osiris_connections.yaml (default: $OSIRIS_CONNECTIONS, else the nearest one above the pipeline).")
@click.option("--secrets-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Variables for ${VAR} in the connections file, as for `osiris run`.")
@click.option("--param", "params", multiple=True, callback=parse_param_options, metavar="NAME=VALUE",
              help="Set a pipeline param.")
@click.option("--profile", default=None, envvar="OSIRIS_PROFILE", help="Active profile.")
def preview_command(pipeline: Path, step_id: str, limit: int, as_json: bool, connections_path: Path | None,
                    secrets_file: Path | None, params: dict[str, str], profile: str | None) -> None:
    """Show the first rows of STEP in PIPELINE (writers never run)."""
    from osiris_runtime.cli.run import _connections_file, _load_or_compile
    from osiris_runtime.preview import preview_step
    from osiris_runtime.registry import registry_for_cli
    from osiris_runtime.runner.local import LocalEngine
    from osiris_runtime.runner.engine import RunOptions
    from osiris_runtime.secrets import Redactor

    env = dict(os.environ)
    registry = registry_for_cli(env)
    redactor = Redactor()
    compiled, work_dir = _load_or_compile(pipeline, registry, env, params, profile, connections_path, as_json)
    engine = LocalEngine(registry, redactor)
    resolver = engine.connection_resolver(RunOptions(connections_file=_connections_file(pipeline, env, connections_path),
                                           secrets_file=secrets_file), redactor)

    def resolve(step):  # noqa: ANN001, ANN202 - a StepPlan
        from osiris_runtime.oml.connections import with_step_overrides

        target = engine.step_target(step)
        spec = registry.get(step.component)
        resolved = resolver.resolve(target) if target is not None else {}
        return with_step_overrides(resolved, step.config, spec) if spec is not None and target is not None else resolved

    result = preview_step(compiled, step_id, limit=limit, work_dir=work_dir.resolve(), resolve_connection=resolve,
                          registry=registry)
    if as_json:
        click.echo(json.dumps(redactor.redact(result.to_json()), sort_keys=True, ensure_ascii=False))
        return
    _print_table(result, redactor)


def _print_table(result, redactor) -> None:  # noqa: ANN001
    from rich.console import Console
    from rich.table import Table

    from osiris_runtime.preview import render_rows

    table = Table(box=None, pad_edge=False)
    for column in result.columns:
        table.add_column(f"{column.name}\n{column.source_type or column.type}")
    for row in render_rows(result):
        table.add_row(*[str(redactor.redact(c)) for c in row])
    tty = sys.stdout.isatty()
    console = Console(no_color=not tty, width=None if tty else 200)
    console.print(table)
    footer = f"{len(result.rows)} row(s) of `{result.step}` (limit {result.limit}; ran {', '.join(result.ran) or 'nothing'})"
    click.echo(footer + (f"\n{result.note}" if result.note else ""), err=True)
